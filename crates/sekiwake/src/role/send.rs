//! `sekiwake send KIND`: test traffic for every kind, from one or many exporters, paced and batched.
//! Every datagram is unique (see the `traffic` crate), so receivers can count loss; SNMP informs are retried
//! until acknowledged and their acknowledgements counted.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};
use traffic::{Exporter, GenKind, Settings};
use udpio::{send_batch, SendOutcome};

use runtime::Stop;

use crate::cli::resolve;
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// syslog, netflow-v5, netflow-v9, ipfix, sflow, snmptrap-v1, snmptrap-v2c or snmpinform.
    pub kind: traffic::GenKind,
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
    pub format: traffic::syslog::Format,
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
    /// What the traffic shows: background, or (flow kinds) port-scan, host-scan, udp-flood, syn-flood, or
    /// (syslog, traps) link-flap.
    #[arg(long, default_value = "background")]
    pub pattern: traffic::Pattern,
    /// The scanned or flooded address of the flow patterns.
    #[arg(long, default_value = "10.0.0.80")]
    pub target: std::net::Ipv4Addr,
    /// The scanning source of port-scan and host-scan.
    #[arg(long, default_value = "198.51.100.66")]
    pub attacker: std::net::Ipv4Addr,
    /// Syslog: this text after the header instead of the numbered, padded mix ({seq}: the message number).
    #[arg(long)]
    pub message: Option<String>,
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

impl RoleConfig for Args {}

impl Args {
    pub fn options(&self) -> SendOptions {
        SendOptions {
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
            settings: traffic::Settings {
                seed: self.seed,
                size: self.size,
                syslog_format: self.format,
                template_every: self.template_every,
                domains: self.domains,
                target_bytes: self.bytes,
                community: self.community.clone(),
                pattern: self.pattern,
                target: self.target,
                attacker: self.attacker,
                message: self.message.clone(),
            },
            batch: self.batch,
            inform_timeout: Duration::from_millis(self.inform_timeout_ms),
            inform_retries: self.inform_retries,
            progress: true,
        }
    }
}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    ctx.refuse_config()?;
    if !args.pattern.fits(args.kind) {
        anyhow::bail!(
            "--pattern {} does not fit {} (flow patterns need a flow kind, link-flap syslog or traps)",
            args.pattern.name(),
            args.kind.name()
        );
    }
    let r = run(&args.options(), &ctx.stop(None))?;
    let json = serde_json::to_string(&r)?;
    eprintln!("send: done: {json}");
    if let Some(f) = &args.stats_file {
        std::fs::write(f, json).with_context(|| format!("writing {f}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone)]
pub struct SendOptions {
    pub kind: GenKind,
    pub to: SocketAddr,
    /// First source address; exporter i sends from this address + i. `None`: the kernel's choice.
    pub source: Option<IpAddr>,
    pub source_port: u16,
    pub exporters: u32,
    /// Datagrams per second over all exporters; 0 = as fast as possible.
    pub rate: u64,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub settings: Settings,
    /// Datagrams per sendmmsg call.
    pub batch: usize,
    pub inform_timeout: Duration,
    pub inform_retries: u32,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl SendOptions {
    pub fn new(kind: GenKind, to: SocketAddr) -> Self {
        Self {
            kind,
            to,
            source: None,
            source_port: 0,
            exporters: 1,
            rate: 1000,
            count: Some(1000),
            duration: None,
            settings: Settings::default(),
            batch: 64,
            inform_timeout: Duration::from_secs(1),
            inform_retries: 2,
            progress: false,
        }
    }
}

/// SNMP inform acknowledgement counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct InformReport {
    pub acked: u64,
    pub retried: u64,
    pub unacked: u64,
}

/// What was sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub kind: &'static str,
    pub exporters: u32,
    /// Distinct datagrams sent (inform retransmissions not included).
    pub sent: u64,
    pub bytes: u64,
    /// Sends refused by the destination (ICMP unreachable) and retried.
    pub refused: u64,
    /// Datagrams that could not be sent (other errors).
    pub failed: u64,
    pub elapsed_s: f64,
    pub rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informs: Option<InformReport>,
}

/// One exporter: its socket and its generator state.
struct Source {
    socket: Socket,
    traffic: Exporter,
}

fn nth_address(base: IpAddr, i: u32) -> IpAddr {
    match base {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(i))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(u128::from(i)))),
    }
}

/// The first exporter address: as given, or 127.0.0.1 when several exporters send to an IPv4 address (all of
/// 127/8 is local); `None` lets the kernel choose.
fn source_base(o: &SendOptions) -> Result<Option<IpAddr>> {
    match (o.source, o.exporters > 1, o.to.is_ipv4()) {
        (Some(b), _, _) => Ok(Some(b)),
        (None, true, true) => Ok(Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
        (None, true, false) => {
            anyhow::bail!("--exporters N with an IPv6 destination needs --source ADDR")
        }
        (None, false, _) => Ok(None),
    }
}

fn open_source(o: &SendOptions, base: Option<IpAddr>, i: u32) -> Result<Source> {
    let s = Socket::new(Domain::for_address(o.to), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_send_buffer_size(4 << 20);
    let addr = base.map(|b| nth_address(b, i));
    if let Some(a) = addr {
        // Inside a test namespace an exporter address need not be configured on an interface: IP_TRANSPARENT
        // (needs CAP_NET_ADMIN) lets the socket bind to it and route from it; where that is refused, the
        // address must be local.
        let _ = if a.is_ipv4() {
            s.set_ip_transparent_v4(true)
        } else {
            s.set_ip_transparent_v6(true)
        };
        let at = SocketAddr::new(a, o.source_port);
        s.bind(&at.into())
            .with_context(|| format!("bind exporter {at}"))?;
    }
    s.connect(&o.to.into())
        .with_context(|| format!("connect {}", o.to))?;
    s.set_nonblocking(true)?;
    let v4 = match addr {
        Some(IpAddr::V4(a)) => a,
        _ => Ipv4Addr::LOCALHOST,
    };
    Ok(Source {
        socket: s,
        traffic: Exporter::new(o.kind, v4, u64::from(i), &o.settings),
    })
}

/// Informs sent and not yet acknowledged, by request-id.
struct Pending {
    source: usize,
    first_sent: Instant,
    last_sent: Instant,
    tries: u32,
    bytes: Vec<u8>,
}

struct Informs {
    pending: HashMap<i32, Pending>,
    report: InformReport,
    buf: Vec<u8>,
}

impl Informs {
    fn new() -> Self {
        Self {
            pending: HashMap::new(),
            report: InformReport::default(),
            buf: vec![0; 65536],
        }
    }

    fn sent(&mut self, seq: u64, source: usize, bytes: &[u8]) {
        let now = Instant::now();
        let p = Pending {
            source,
            first_sent: now,
            last_sent: now,
            tries: 1,
            bytes: bytes.to_vec(),
        };
        self.pending.insert(traffic::snmp::request_id(seq), p);
    }

    /// Reads every response waiting on the sources' sockets.
    fn read_acks(&mut self, sources: &[Source]) {
        for s in sources {
            while let Ok(n) = std::io::Read::read(&mut &s.socket, &mut self.buf) {
                if let Some(id) = traffic::snmp::response_request_id(&self.buf[..n]) {
                    if self.pending.remove(&id).is_some() {
                        self.report.acked += 1;
                    }
                }
            }
        }
    }

    /// Retransmits what timed out; gives up after the last retry.
    fn retry(&mut self, sources: &[Source], timeout: Duration, retries: u32) {
        let now = Instant::now();
        let mut gone = Vec::new();
        for (id, p) in self.pending.iter_mut() {
            if now.duration_since(p.last_sent) < timeout {
                continue;
            }
            if p.tries > retries {
                gone.push(*id);
                continue;
            }
            p.tries += 1;
            p.last_sent = now;
            self.report.retried += 1;
            let _ = send_batch(sources[p.source].socket.as_fd(), &[&p.bytes]);
        }
        for id in gone {
            self.pending.remove(&id);
            self.report.unacked += 1;
        }
    }

    fn oldest(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.first_sent).min()
    }
}

pub fn run(o: &SendOptions, stop: &Stop<'_>) -> Result<SendReport> {
    let base = source_base(o)?;
    let mut sources = (0..o.exporters.max(1))
        .map(|i| open_source(o, base, i))
        .collect::<Result<Vec<_>>>()?;
    let mut informs = (o.kind == GenKind::Snmpinform).then(Informs::new);
    let batch = o.batch.clamp(1, 1024);
    let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| Vec::with_capacity(1500)).collect();
    let mut r = SendReport {
        kind: o.kind.name(),
        exporters: sources.len() as u32,
        ..Default::default()
    };
    let start = Instant::now();
    let mut next_progress = start + Duration::from_secs(1);
    let (mut seq, mut turn) = (0u64, 0usize);
    while !finished(o, seq, start) && !stop.requested() {
        if let Some(inf) = informs.as_mut() {
            inf.read_acks(&sources);
            inf.retry(&sources, o.inform_timeout, o.inform_retries);
        }
        let n = due(o, start.elapsed(), seq).min(batch as u64) as usize;
        if n == 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let src = &mut sources[turn];
        let now = capture::now_ns();
        for (i, b) in bufs.iter_mut().take(n).enumerate() {
            src.traffic.next(seq + i as u64, now, &o.settings, b);
        }
        let msgs: Vec<&[u8]> = bufs[..n].iter().map(|b| b.as_slice()).collect();
        send_all(&src.socket, &msgs, &mut r);
        if let Some(inf) = informs.as_mut() {
            msgs.iter()
                .enumerate()
                .for_each(|(i, m)| inf.sent(seq + i as u64, turn, m));
        }
        seq += n as u64;
        turn = (turn + 1) % sources.len();
        if o.progress && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "send {}: {} sent, {:.0}/s",
                o.kind.name(),
                r.sent,
                rate(r.sent, start.elapsed())
            );
        }
    }
    r.elapsed_s = start.elapsed().as_secs_f64();
    r.rate = r.sent as f64 / r.elapsed_s.max(1e-9);
    if let Some(mut inf) = informs {
        drain_informs(o, &mut inf, &mut sources, stop);
        r.informs = Some(inf.report);
    }
    Ok(r)
}

/// After the last send: wait for outstanding acknowledgements, retrying, until every inform is settled.
fn drain_informs(o: &SendOptions, inf: &mut Informs, sources: &mut [Source], stop: &Stop<'_>) {
    let limit = o.inform_timeout * (o.inform_retries + 2);
    while inf.oldest().is_some_and(|t| t.elapsed() < limit) && !stop.requested() {
        inf.read_acks(sources);
        inf.retry(sources, o.inform_timeout, o.inform_retries);
        std::thread::sleep(Duration::from_millis(5));
    }
    inf.report.unacked += inf.pending.len() as u64;
    inf.pending.clear();
}

fn finished(o: &SendOptions, seq: u64, start: Instant) -> bool {
    o.count.is_some_and(|c| seq >= c) || o.duration.is_some_and(|d| start.elapsed() >= d)
}

/// How many datagrams should go out now to keep to the rate.
fn due(o: &SendOptions, elapsed: Duration, sent: u64) -> u64 {
    let cap = o.count.unwrap_or(u64::MAX);
    let target = if o.rate == 0 {
        cap
    } else {
        ((o.rate as f64) * elapsed.as_secs_f64()) as u64 + 1
    };
    target.min(cap).saturating_sub(sent)
}

pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Sends every message, waiting while the socket buffer is full. A refusal (the ICMP port unreachable of an
/// earlier datagram, reported on this send) means this datagram was not sent: it is counted and sent again,
/// so that sending to a port nobody listens on — what capture watches — still sends exactly `count`.
fn send_all(sock: &Socket, msgs: &[&[u8]], r: &mut SendReport) {
    let mut at = 0;
    while at < msgs.len() {
        match send_batch(sock.as_fd(), &msgs[at..]) {
            SendOutcome::Sent(n) => {
                r.sent += n as u64;
                r.bytes += msgs[at..at + n].iter().map(|m| m.len() as u64).sum::<u64>();
                at += n;
            }
            SendOutcome::WouldBlock => {
                let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u8));
            }
            SendOutcome::Failed(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                r.refused += 1
            }
            SendOutcome::Failed(_) => {
                r.failed += 1;
                at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing() {
        let o = SendOptions {
            count: Some(10_000),
            ..SendOptions::new(GenKind::Syslog, "127.0.0.1:9".parse().unwrap())
        };
        assert_eq!(due(&o, Duration::from_millis(500), 0), 501);
        assert_eq!(due(&o, Duration::from_millis(500), 501), 0);
        assert_eq!(due(&o, Duration::from_secs(100), 9_990), 10);
        let unbounded = SendOptions {
            count: None,
            rate: 0,
            ..o
        };
        assert!(due(&unbounded, Duration::ZERO, 5) > 1_000_000);
    }

    #[test]
    fn exporter_addresses_count_up() {
        assert_eq!(
            nth_address("127.0.0.250".parse().unwrap(), 10),
            "127.0.1.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            nth_address("2001:db8::ff".parse().unwrap(), 1),
            "2001:db8::100".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn informs_are_acknowledged_by_a_responder() {
        use std::net::UdpSocket;
        let responder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = responder.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            responder
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 2048];
            for i in 0..20 {
                let (n, from) = responder.recv_from(&mut buf).unwrap();
                if i % 4 == 0 {
                    continue; // drop every fourth: the sender must retry it
                }
                let mut resp = buf[..n].to_vec();
                let pdu = resp
                    .iter()
                    .position(|&b| b == wire::snmp::ber::tag::INFORM)
                    .unwrap();
                resp[pdu] = wire::snmp::ber::tag::RESPONSE;
                responder.send_to(&resp, from).unwrap();
            }
        });
        let o = SendOptions {
            count: Some(15),
            rate: 0,
            inform_timeout: Duration::from_millis(200),
            ..SendOptions::new(GenKind::Snmpinform, to)
        };
        let flag = std::sync::atomic::AtomicBool::new(false);
        let r = run(&o, &Stop::new(&flag, Some(Duration::from_secs(10)))).unwrap();
        t.join().unwrap();
        let inf = r.informs.unwrap();
        assert_eq!(r.sent, 15);
        assert_eq!(inf.acked + inf.unacked, 15);
        assert!(inf.retried >= 1, "{inf:?}");
        assert_eq!(inf.unacked, 0, "{inf:?}");
    }
}
