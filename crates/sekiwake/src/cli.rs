//! The command line. Flags override the configuration file; `apply_*` fold them into a [`Config`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_port, parse_to, Config, Destination, Endpoint, FamilyName, Port};

#[derive(Parser, Debug)]
#[command(
    name = "sekiwake",
    version,
    about = "Capture syslog, NetFlow/IPFIX, sFlow and SNMP traps; publish them on ZeroMQ; forward them byte-exact"
)]
pub struct Cli {
    /// TOML configuration file, read by capture, forward, tap and sink.
    #[arg(short = 'c', long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Capture datagrams (live, from a pcap file, or on a UDP socket) and publish them on the bus.
    Capture(CaptureArgs),
    /// Subscribe to the bus and send each datagram to the destinations configured for its kind.
    Forward(ForwardArgs),
    /// Print one JSON line per envelope on the bus (or, with --decode, per decoded record).
    Tap(TapArgs),
    /// Decode the datagrams of a pcap file into records: one JSON line each (docs/records.md).
    Decode(DecodeArgs),
    /// Generate test traffic of any kind.
    Send(SendArgs),
    /// Count what arrives on UDP sockets (a batched-receive collector for tests and benchmarks).
    Sink(SinkArgs),
    /// All-in-one demo on loopback: sender -> capture on lo -> bus -> forward -> receiver (needs root).
    Demo(DemoArgs),
    /// Validate a configuration file and exit. Also reads the TLS files it names (CA, certificate, key).
    CheckConfig {
        file: PathBuf,
        /// Do not read the files the configuration names: for a file meant for another host.
        #[arg(long)]
        no_files: bool,
    },
}

#[derive(Args, Debug, Default)]
pub struct StatsArgs {
    /// Write the counters as JSON to FILE (every --stats-interval seconds and at exit).
    #[arg(long = "stats")]
    pub stats_file: Option<String>,
    #[arg(long)]
    pub stats_interval: Option<u32>,
    /// Seconds between counter log lines.
    #[arg(long)]
    pub log_interval: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Interface to capture on (repeatable): lo, eth0, any.
    #[arg(short = 'i', long = "interface")]
    pub interfaces: Vec<String>,
    /// Replay a pcap/pcapng file instead of capturing live.
    #[arg(long)]
    pub pcap: Option<String>,
    /// Replay at the recorded pace (default: as fast as possible).
    #[arg(long)]
    pub pace: bool,
    /// Receive on a UDP socket (repeatable), e.g. 0.0.0.0:514.
    #[arg(long)]
    pub listen: Vec<SocketAddr>,
    /// KIND=PORT (repeatable); KIND is syslog, netflow, ipfix, sflow or snmptrap. Replaces that kind's defaults.
    #[arg(long = "port", value_parser = parse_port)]
    pub ports: Vec<(FamilyName, Port)>,
    /// Bus endpoint to publish on (tcp://HOST:PORT or ipc://PATH).
    #[arg(long)]
    pub publish: Option<Endpoint>,
    /// libpcap kernel buffer per interface, MiB.
    #[arg(long)]
    pub buffer_mib: Option<u32>,
    /// Bytes captured per frame (longer frames are counted as truncated).
    #[arg(long)]
    pub snaplen: Option<u32>,
    /// Let packets gather for up to MS milliseconds before they are handed over (libpcap: kernel blocks
    /// instead of immediate mode; listener: a pause after each read): less CPU at high rates, up to MS of
    /// added latency.
    #[arg(long, value_name = "MS")]
    pub batch_ms: Option<u32>,
    /// High-water mark in messages per subscriber.
    #[arg(long)]
    pub hwm: Option<u32>,
    #[arg(long)]
    pub publisher_id: Option<u64>,
    /// Wait for N subscribe requests before reading the source (makes file replays deterministic). Each
    /// subscriber sends one per prefix: a forwarder with destinations for two kinds sends two.
    #[arg(long, default_value_t = 0)]
    pub wait_subscribers: usize,
    #[command(flatten)]
    pub stats: StatsArgs,
}

#[derive(Args, Debug)]
pub struct ForwardArgs {
    /// Bus endpoint to subscribe to (repeatable).
    #[arg(long)]
    pub subscribe: Vec<Endpoint>,
    /// KIND=udp://HOST:PORT (repeatable). KIND: a kind, netflow (v5+v9), or all.
    #[arg(long = "to", value_parser = parse_to)]
    pub to: Vec<Destination>,
    /// Source port of forwarded datagrams (the loop guard capture ignores); 0 for any.
    #[arg(long)]
    pub source_port: Option<u16>,

    #[command(flatten)]
    pub stats: StatsArgs,
}

#[derive(Args, Debug)]
pub struct TapArgs {
    /// Bus endpoint (repeatable); default: bus.subscribe from the configuration, else tcp://127.0.0.1:5556.
    #[arg(long)]
    pub subscribe: Vec<Endpoint>,
    /// Only these kinds (repeatable): a kind, netflow, or all.
    #[arg(long)]
    pub kind: Vec<crate::config::KindSelector>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Decode each datagram into records (flows, messages, traps...) instead of printing the envelope.
    #[arg(long)]
    pub decode: bool,
    #[command(flatten)]
    pub records: RecordArgs,
}

/// What the record decoder prints.
#[derive(Args, Debug, Default)]
pub struct RecordArgs {
    /// Also print NetFlow v9 / IPFIX templates (`record` = `template`).
    #[arg(long)]
    pub templates: bool,
    /// SNMPv3 user (repeatable): NAME[:sha|md5:AUTHPASS[:aes:PRIVPASS]].
    #[arg(long = "snmp-user", value_parser = crate::config::SnmpUser::parse_flag)]
    pub snmp_users: Vec<crate::config::SnmpUser>,
}

impl RecordArgs {
    pub fn apply(&self, cfg: &mut Config) {
        cfg.decode.templates |= self.templates;
        cfg.decode
            .snmp_users
            .extend(self.snmp_users.iter().cloned());
    }
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The pcap/pcapng file to decode.
    #[arg(long)]
    pub pcap: String,
    /// KIND=PORT (repeatable), as for capture: KIND is syslog, netflow, ipfix, sflow or snmptrap.
    #[arg(long = "port", value_parser = parse_port)]
    pub ports: Vec<(FamilyName, Port)>,
    #[command(flatten)]
    pub records: RecordArgs,
}

impl DecodeArgs {
    pub fn apply(&self, cfg: &mut Config) {
        cfg.capture.pcap = Some(self.pcap.clone());
        apply_ports(&self.ports, &mut cfg.capture);
        self.records.apply(cfg);
    }
}

/// Ports named on the command line replace that family's ports from the configuration.
fn apply_ports(ports: &[(FamilyName, Port)], c: &mut crate::config::CaptureConfig) {
    let mut replaced = Vec::new();
    for (fam, port) in ports {
        if !replaced.contains(fam) {
            replaced.push(*fam);
            c.ports.insert(*fam, Vec::new());
        }
        c.ports.entry(*fam).or_default().push(*port);
    }
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// syslog, netflow-v5, netflow-v9, ipfix, sflow, snmptrap-v1, snmptrap-v2c or snmpinform.
    pub kind: gen::GenKind,
    /// HOST:PORT
    #[arg(long, value_parser = resolve)]
    pub to: SocketAddr,
    /// First exporter address; exporter i sends from this address + i (any prefix inside a namespace).
    #[arg(long)]
    pub source: Option<std::net::IpAddr>,
    #[arg(long, default_value_t = 0)]
    pub source_port: u16,
    /// Number of exporters (source addresses), used in turn.
    #[arg(long, default_value_t = 1)]
    pub exporters: u32,
    /// Datagrams per second over all exporters (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Datagrams to send (default 1000 unless --duration is given).
    #[arg(long)]
    pub count: Option<u64>,
    /// Seconds to send for.
    #[arg(long)]
    pub duration: Option<f64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Syslog message size in bytes (default: a realistic mix of sizes).
    #[arg(long)]
    pub size: Option<usize>,
    /// Syslog format: rfc3164, rfc5424, cisco or mixed.
    #[arg(long, default_value = "rfc3164")]
    pub format: gen::syslog::Format,
    /// Target datagram size of flow exports (NetFlow, IPFIX, sFlow).
    #[arg(long, default_value_t = 1400)]
    pub bytes: usize,
    /// NetFlow v9 / IPFIX: resend templates every N datagrams per observation domain.
    #[arg(long, default_value_t = 100)]
    pub template_every: u64,
    /// NetFlow v9 / IPFIX: observation domains per exporter.
    #[arg(long, default_value_t = 2)]
    pub domains: u32,
    #[arg(long, default_value = "public")]
    pub community: String,
    /// Datagrams per sendmmsg call.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// SNMP informs: milliseconds to wait for an acknowledgement before a retry.
    #[arg(long, default_value_t = 1000)]
    pub inform_timeout_ms: u64,
    #[arg(long, default_value_t = 2)]
    pub inform_retries: u32,
    /// Write the summary as JSON to FILE.
    #[arg(long = "stats")]
    pub stats_file: Option<String>,
}

impl SendArgs {
    pub fn options(&self) -> crate::role::send::SendOptions {
        use std::time::Duration;
        crate::role::send::SendOptions {
            kind: self.kind,
            to: self.to,
            source: self.source,
            source_port: self.source_port,
            exporters: self.exporters,
            rate: self.rate,
            count: self.count.or(if self.duration.is_none() {
                Some(1000)
            } else {
                None
            }),
            duration: self.duration.map(Duration::from_secs_f64),
            settings: gen::Settings {
                seed: self.seed,
                size: self.size,
                syslog_format: self.format,
                template_every: self.template_every,
                domains: self.domains,
                target_bytes: self.bytes,
                community: self.community.clone(),
            },
            batch: self.batch,
            inform_timeout: Duration::from_millis(self.inform_timeout_ms),
            inform_retries: self.inform_retries,
            progress: true,
        }
    }
}

#[derive(Args, Debug)]
pub struct SinkArgs {
    /// ADDR:PORT to receive on (repeatable).
    #[arg(long, required = true)]
    pub listen: Vec<SocketAddr>,
    #[command(flatten)]
    pub stats: StatsArgs,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[arg(short = 'i', long = "interface", default_value = "lo")]
    pub interface: String,
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    #[arg(long, default_value_t = 200)]
    pub size: usize,
    /// Port the sender sends to (nobody listens there; capture sees the traffic).
    #[arg(long, default_value_t = 15514)]
    pub port: u16,
    /// Port of the demo's receiver, where forward delivers.
    #[arg(long, default_value_t = 15515)]
    pub receiver_port: u16,
}

fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{s}` is not HOST:PORT"))
}

impl StatsArgs {
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(f) = &self.stats_file {
            cfg.stats.file = Some(f.clone());
        }
        if let Some(i) = self.stats_interval {
            cfg.stats.file_interval_secs = i;
        }
        if let Some(i) = self.log_interval {
            cfg.stats.log_interval_secs = i;
        }
    }

    pub fn duration(&self) -> Option<std::time::Duration> {
        self.duration.map(std::time::Duration::from_secs_f64)
    }
}

impl CaptureArgs {
    pub fn apply(&self, cfg: &mut Config) {
        let c = &mut cfg.capture;
        if !self.interfaces.is_empty() {
            c.interfaces = self.interfaces.clone();
        }
        if let Some(p) = &self.pcap {
            c.pcap = Some(p.clone());
        }
        c.pace |= self.pace;
        if !self.listen.is_empty() {
            c.listen = self.listen.clone();
        }
        apply_ports(&self.ports, c);
        if let Some(e) = &self.publish {
            cfg.bus.publish = e.clone();
        }
        if let Some(b) = self.buffer_mib {
            cfg.capture.buffer_mib = b;
        }
        if let Some(s) = self.snaplen {
            cfg.capture.snaplen = s;
        }
        if let Some(ms) = self.batch_ms {
            cfg.capture.immediate = false;
            cfg.capture.block_timeout_ms = ms;
        }
        if let Some(h) = self.hwm {
            cfg.bus.hwm = h;
        }
        if self.publisher_id.is_some() {
            cfg.bus.publisher_id = self.publisher_id;
        }
        self.stats.apply(cfg);
    }
}

impl ForwardArgs {
    pub fn apply(&self, cfg: &mut Config) -> Result<(), String> {
        if !self.subscribe.is_empty() {
            cfg.bus.subscribe = self.subscribe.clone();
        }
        if !self.to.is_empty() {
            cfg.forward.destination = merge_destinations(&self.to)?;
        }
        if let Some(p) = self.source_port {
            cfg.forward.source_port = p;
        }

        self.stats.apply(cfg);
        Ok(())
    }
}

/// Several `--to` naming one address become one destination with several kinds.
fn merge_destinations(to: &[Destination]) -> Result<Vec<Destination>, String> {
    let mut out: Vec<Destination> = Vec::new();
    for d in to {
        match out.iter_mut().find(|o| o.url.text == d.url.text) {
            Some(o) => o.kinds.extend(d.kinds.iter().copied()),
            None => out.push(d.clone()),
        }
    }
    Ok(out)
}

impl std::str::FromStr for crate::config::KindSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::config::KindSelector::try_from(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_flags_replace_a_kinds_defaults() {
        let cli = Cli::try_parse_from([
            "sekiwake",
            "capture",
            "-i",
            "lo",
            "--port",
            "syslog=5514",
            "--port",
            "syslog=5515",
        ])
        .unwrap();
        let Cmd::Capture(a) = cli.cmd else { panic!() };
        let mut cfg = Config::default();
        a.apply(&mut cfg);
        let c = crate::role::capture::classifier(&cfg.capture);
        assert_eq!(c.family(5514), Some(wire::kind::Family::Syslog));
        assert_eq!(c.family(5515), Some(wire::kind::Family::Syslog));
        assert_eq!(c.family(514), None);
        assert_eq!(c.family(2055), Some(wire::kind::Family::Netflow));
    }

    #[test]
    fn to_flags_merge_by_address() {
        let cli = Cli::try_parse_from([
            "sekiwake",
            "forward",
            "--subscribe",
            "tcp://127.0.0.1:5556",
            "--to",
            "syslog=udp://127.0.0.1:9",
            "--to",
            "sflow=udp://127.0.0.1:9",
            "--to",
            "all=udp://[::1]:9",
        ])
        .unwrap();
        let Cmd::Forward(a) = cli.cmd else { panic!() };
        let mut cfg = Config::default();
        a.apply(&mut cfg).unwrap();
        assert_eq!(cfg.forward.destination.len(), 2);
        assert_eq!(cfg.forward.destination[0].kinds.len(), 2);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Cli::try_parse_from(["sekiwake", "capture", "--port", "syslg=1"]).is_err());
        assert!(Cli::try_parse_from(["sekiwake", "capture", "--publish", "http://x"]).is_err());
        assert!(
            Cli::try_parse_from(["sekiwake", "forward", "--to", "syslog=udp://[::1]"]).is_err()
        );
    }
}
