//! `sekiwake capture`: read datagrams from the wire (or a file, or a UDP socket), classify them, publish each
//! in an envelope on the bus.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bus::sequence::Sequencer;
use bus::{Publisher, Sent};
use capture::exporters::{sequence_unit, ExporterCounts, Exporters, Offer};
use capture::{
    filter, Body, Captured, FileSource, FrameParser, FrameStats, Listener, LiveInterface,
    LiveOptions, LoopGuard, PcapStats, RecentInforms, Sources, Status,
};
use config::{parse_port, CaptureConfig, Config, Endpoint, FamilyName, Port};
use envelope::{Header, FLAG_INFORM, FLAG_REASSEMBLED};
use runtime::{Reporter, Stop, Summary};
use serde::Serialize;
use wire::classify::{Class, Classifier, RefusalCounts};
use wire::kind::Kind;
use wire::snmp::engine::{Engine, Outcome};
use wire::snmp::inform::Inform;

use crate::cli::{apply_ports, port_help, StatsArgs};
use crate::context::{Context, RoleConfig};
use crate::frames;

#[derive(clap::Args, Debug)]
pub struct Args {
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
    #[arg(long = "port", value_parser = parse_port, help = port_help())]
    pub ports: Vec<(FamilyName, Port)>,
    /// Bus endpoint to publish on (tcp://HOST:PORT or ipc://PATH).
    #[arg(long)]
    pub publish: Option<Endpoint>,
    /// Publish by connecting to this endpoint (a proxy's frontend; repeatable) instead of binding --publish.
    #[arg(long)]
    pub connect: Vec<Endpoint>,
    /// Once the packet sockets, listeners and the bus are open, become this user (default: run.user),
    /// keeping no capability.
    #[arg(long)]
    pub user: Option<String>,
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
    /// A datagram on a watched port whose payload does not fit the port's kind: `relay` publishes it
    /// flagged under that kind (default), `drop` does not. Counted by reason either way.
    #[arg(long, value_name = "relay|drop")]
    pub mismatched: Option<config::Mismatched>,
    /// Listener mode: answer SNMPv3 informs as the authoritative engine with this engine ID (hex).
    #[arg(long, value_name = "HEX")]
    pub snmp_engine_id: Option<String>,
    /// An SNMPv3 user informs are sent to this engine with: NAME:AUTH:AUTHPASS[:PRIV:PRIVPASS] (repeatable).
    #[arg(long = "snmp-user", value_parser = config::SnmpUser::parse_flag, value_name = "SPEC")]
    pub snmp_users: Vec<config::SnmpUser>,
    #[command(flatten)]
    pub stats: StatsArgs,
}

impl RoleConfig for Args {}

impl Args {
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
        if !self.connect.is_empty() {
            cfg.bus.connect = self.connect.clone();
        }
        if let Some(u) = &self.user {
            cfg.run.user = Some(u.clone());
        }
        if let Some(b) = self.buffer_mib {
            cfg.capture.buffer_mib = b;
        }
        if let Some(s) = self.snaplen {
            cfg.capture.snaplen = s;
        }
        if let Some(m) = self.mismatched {
            cfg.capture.mismatched = m;
        }
        if let Some(id) = &self.snmp_engine_id {
            cfg.capture.snmp_engine_id = Some(id.clone());
        }
        if !self.snmp_users.is_empty() {
            cfg.capture.snmp_users = self.snmp_users.clone();
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

/// Capture's counters. Conservation: `captured_total == published + hwm_dropped + bus_failed +
/// informs_duplicate + snmp_engine_refused` (summed over reasons).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureReport {
    pub role: &'static str,
    pub captured: BTreeMap<&'static str, u64>,
    pub captured_total: u64,
    pub frames: u64,
    /// On a watched port but not fitting its kind (published flagged, and counted in `captured` too, unless
    /// `capture.mismatched = "drop"`).
    pub mismatched: u64,
    /// Of `mismatched`: not published (`capture.mismatched = "drop"`).
    pub mismatched_dropped: u64,
    /// `mismatched` per kind and reason.
    pub refused: RefusalCounts,
    pub malformed: u64,
    pub truncated: u64,
    pub unwatched: u64,
    pub not_udp: u64,
    pub own_traffic: u64,
    /// Frames nesting more encapsulations than the walk follows.
    pub encap_too_deep: u64,
    /// Fragments inside a tunnel packet that was itself reassembled.
    pub fragmented_twice: u64,
    /// Frames that passed at least one encapsulation, and per kind (PPPoE, MPLS, GRE, ...).
    pub tunnelled: u64,
    pub encapsulations: BTreeMap<&'static str, u64>,
    pub fragments: u64,
    pub fragments_reassembled: u64,
    pub fragments_expired: u64,
    pub fragments_dropped: u64,
    pub fragments_held_bytes: u64,
    pub fragments_peak_bytes: u64,
    pub published: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    pub pcap_received: u64,
    pub pcap_dropped: u64,
    pub pcap_if_dropped: u64,
    pub pcap_errors: u64,
    pub listener_truncated: u64,
    /// Datagrams the kernel dropped at the listeners' full receive queues (before capture read them).
    pub listener_dropped: u64,
    /// v2c informs received on a listener; of them `informs_acknowledged` (on the bus and answered),
    /// `informs_duplicate` (a sender's retry: answered again, not published again), `informs_not_acknowledged`
    /// (the bus refused it, or the answer could not be sent).
    pub informs_received: u64,
    pub informs_acknowledged: u64,
    pub informs_duplicate: u64,
    pub informs_not_acknowledged: u64,
    /// SNMPv3 messages for capture's engine (`--snmp-engine-id`) that are not published, per reason:
    /// `discovery` (a sender learning the engine ID), USM failures (`unknown_user`, `wrong_digest`,
    /// `not_in_time_window`, ...), `not_an_inform`. Each is answered with its Report when the sender asked.
    pub snmp_engine_refused: BTreeMap<&'static str, u64>,
    /// Reports sent back (of `snmp_engine_refused`).
    pub snmp_engine_reports: u64,
    /// With CURVE (a bound publisher): peers let in and refused.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub auth: Option<bus::curve::AuthStats>,
    /// This capture's publisher id on the bus (16 hex digits), as subscribers' `streams` name it.
    pub publisher: String,
    /// Per (exporter, kind): what was offered to the bus and what became of it, and the holes in the
    /// exporter's own sequence numbers (lost before capture). The ledger's first lines.
    pub exporters: Vec<ExporterReport>,
    /// Datagrams of exporters past the table's bound ([`MAX_EXPORTERS`] pairs of exporter and kind).
    pub exporters_untracked: u64,
}

/// (Exporter, kind) pairs followed at most.
const MAX_EXPORTERS: usize = 16_384;

/// One exporter's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ExporterReport {
    pub exporter: String,
    pub kind: &'static str,
    pub bucket: u8,
    /// Datagrams offered to the bus: `captured = published + hwm_dropped + bus_failed`.
    pub captured: u64,
    pub published: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    /// The exporter's numbering (kinds that have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SequenceReport>,
}

/// The holes in an exporter's own numbering, in `unit`s.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceReport {
    pub unit: &'static str,
    pub missing: u64,
    pub late: u64,
    pub resets: u64,
    pub unchecked: u64,
    pub domains: usize,
}

impl From<&ExporterCounts> for ExporterReport {
    fn from(c: &ExporterCounts) -> Self {
        let q = &c.sequence;
        Self {
            exporter: c.exporter.to_string(),
            kind: c.kind.name(),
            bucket: c.bucket,
            captured: c.captured,
            published: c.published,
            hwm_dropped: c.hwm_dropped,
            bus_failed: c.bus_failed,
            sequence: sequence_unit(c.kind).map(|unit| SequenceReport {
                unit,
                missing: q.missing,
                late: q.late,
                resets: q.resets,
                unchecked: q.unchecked,
                domains: q.domains,
            }),
        }
    }
}

/// What the publishing side counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusCounters {
    pub published: u64,
    pub hwm_dropped: u64,
    pub failed: u64,
}

impl CaptureReport {
    pub fn new(
        d: &FrameStats,
        bus: &BusCounters,
        pcap: &PcapStats,
        informs: &InformCounters,
    ) -> Self {
        Self {
            role: "capture",
            captured: Kind::ALL
                .iter()
                .map(|k| (k.name(), d.captured[k.index()]))
                .collect(),
            captured_total: d.captured_total(),
            frames: d.frames,
            mismatched: d.mismatched,
            mismatched_dropped: d.mismatched_dropped,
            refused: d.refused,
            malformed: d.malformed,
            truncated: d.truncated,
            unwatched: d.unwatched,
            not_udp: d.not_udp,
            own_traffic: d.own_traffic,
            encap_too_deep: d.encap_too_deep,
            fragmented_twice: d.fragmented_twice,
            tunnelled: d.tunnelled,
            encapsulations: frames::encapsulations(d),
            fragments: d.defrag.fragments,
            fragments_reassembled: d.defrag.reassembled,
            fragments_expired: d.defrag.expired,
            fragments_dropped: d.defrag.dropped,
            fragments_held_bytes: d.defrag.held_bytes,
            fragments_peak_bytes: d.defrag.peak_bytes,
            published: bus.published,
            hwm_dropped: bus.hwm_dropped,
            bus_failed: bus.failed,
            pcap_received: pcap.received,
            pcap_dropped: pcap.dropped,
            pcap_if_dropped: pcap.if_dropped,
            pcap_errors: pcap.errors,
            listener_truncated: pcap.truncated,
            listener_dropped: pcap.listener_dropped,
            informs_received: informs.received,
            informs_acknowledged: informs.acknowledged,
            informs_duplicate: informs.duplicate,
            informs_not_acknowledged: informs.not_acknowledged,
            snmp_engine_refused: informs.engine_refused.clone(),
            snmp_engine_reports: informs.engine_reports,
            auth: None,
            publisher: String::new(),
            exporters: Vec::new(),
            exporters_untracked: 0,
        }
    }
}

impl CaptureReport {
    /// The informs part of the log line, when the listener received any.
    fn informs_line(&self) -> String {
        let mut line = match self.informs_received {
            0 => String::new(),
            n => format!(
                " informs_received={n} informs_acknowledged={} informs_duplicate={} informs_not_acknowledged={}",
                self.informs_acknowledged, self.informs_duplicate, self.informs_not_acknowledged
            ),
        };
        for (reason, n) in &self.snmp_engine_refused {
            line += &format!(" snmp_engine_{reason}={n}");
        }
        line
    }
}

impl Summary for CaptureReport {
    fn line(&self) -> String {
        let kinds: Vec<String> = self
            .captured
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        format!(
            "captured={} [{}] published={} hwm_dropped={} mismatched={} malformed={} fragments_reassembled={} \
             fragments_expired={} fragments_dropped={} pcap_dropped={}",
            self.captured_total,
            kinds.join(" "),
            self.published,
            self.hwm_dropped,
            self.mismatched,
            self.malformed,
            self.fragments_reassembled,
            self.fragments_expired,
            self.fragments_dropped,
            self.pcap_dropped + self.pcap_if_dropped,
        ) + &self.informs_line()
    }
}

/// Tells the operator which datagrams did not fit their port's kind: the counts per kind and reason since the
/// last line and the latest sender, at most once per [`RefusalLog::EVERY`] (a steady stream of them must not
/// flood the log), checked once a second.
struct RefusalLog {
    told: RefusalCounts,
    next_check: Instant,
    relayed: bool,
}

impl RefusalLog {
    const EVERY: Duration = Duration::from_secs(10);
    const CHECK: Duration = Duration::from_secs(1);

    fn new(relayed: bool) -> Self {
        Self {
            told: RefusalCounts::default(),
            next_check: Instant::now(),
            relayed,
        }
    }

    fn check(&mut self, parser: &FrameParser) {
        let now = Instant::now();
        if now < self.next_check {
            return;
        }
        self.next_check = now + Self::CHECK;
        let s = parser.stats();
        if s.refused == self.told {
            return;
        }
        self.next_check = now + Self::EVERY;
        let new: Vec<String> = s
            .refused
            .iter()
            .map(|(k, r, n)| (k, r, n - self.told.get(k, r)))
            .filter(|&(_, _, n)| n > 0)
            .map(|(k, r, n)| format!("{k}/{}={n}", r.name()))
            .collect();
        let latest = s.last_mismatch.map_or(String::new(), |(m, from)| {
            format!("; latest from {from} ({}, {})", m.kind, m.reason.name())
        });
        let fate = match self.relayed {
            true => "published flagged as mismatched",
            false => "dropped (capture.mismatched = \"drop\")",
        };
        tracing::warn!(
            "capture: {} datagram(s) on watched ports did not fit their port's kind: {}{latest}; {fate}",
            s.refused.total() - self.told.total(),
            new.join(" "),
        );
        self.told = s.refused;
    }
}

/// How long capture waits for `--wait-subscribers` before starting anyway.
const WAIT_SUBSCRIBERS: Duration = Duration::from_secs(30);
const POLL_MS: u16 = 100;

/// What the command line adds to the configuration for this run.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub wait_subscribers: usize,
    /// Set once the sources are open and the subscribers (if awaited) are there.
    pub ready: Option<Arc<AtomicBool>>,
}

fn open_sources(
    cfg: &CaptureConfig,
    classifier: &Classifier,
    guard: &LoopGuard,
) -> Result<Sources> {
    if let Some(path) = &cfg.pcap {
        if !cfg.interfaces.is_empty() || !cfg.listen.is_empty() {
            bail!("a pcap file replay cannot be combined with interfaces or listeners");
        }
        return Ok(Sources::File(FileSource::open(path, cfg.pace)?));
    }
    if cfg.interfaces.is_empty() && cfg.listen.is_empty() {
        bail!(
            "nothing to capture: give an interface (-i), a file (--pcap) or a listener (--listen)"
        );
    }
    let bpf = filter::build(classifier, guard);
    let buffer = i32::try_from(u64::from(cfg.buffer_mib) << 20).unwrap_or(i32::MAX);
    let opts = LiveOptions {
        buffer,
        snaplen: i32::try_from(cfg.snaplen).unwrap_or(i32::MAX),
        immediate: cfg.immediate,
        block_timeout_ms: i32::try_from(cfg.block_timeout_ms).unwrap_or(1000),
    };
    let interfaces = cfg
        .interfaces
        .iter()
        .map(|i| LiveInterface::open(i, &bpf, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let listeners = cfg
        .listen
        .iter()
        .map(|&a| {
            if classifier.family(a.port()).is_none() {
                bail!(
                    "listener {a}: port {} is not mapped to a kind; add --port KIND={}",
                    a.port(),
                    a.port()
                );
            }
            Ok(Listener::bind(a)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Sources::Live {
        interfaces,
        listeners,
    })
}

/// Turns captured datagrams into envelopes and publishes them.
struct Publishing {
    publisher: Publisher,
    id: u64,
    /// Numbers each (kind, bucket) stream: a subscriber to whole kinds or buckets sees no holes unless the
    /// bus dropped.
    sequences: Sequencer,
    body: Vec<u8>,
    topic: Vec<u8>,
    counters: BusCounters,
    /// Per exporter: what was offered to the bus, and the holes in the exporter's own numbering.
    exporters: Exporters,
}

impl Publishing {
    /// Publishes one datagram; whether it went on the bus.
    fn publish(&mut self, c: &Captured<'_>, iface: &str) -> bool {
        let bucket = envelope::exporter_bucket(c.src.ip());
        let header = Header {
            kind: c.class.kind.code(),
            variant: c.class.variant,
            flags: c.class.flags | if c.reassembled { FLAG_REASSEMBLED } else { 0 },
            src: c.src.ip(),
            dst: c.dst.ip(),
            src_port: c.src.port(),
            dst_port: c.dst.port(),
            publisher: self.id,
            sequence: self.sequences.next(c.class.kind, bucket),
            timestamp_ns: c.ts_ns,
            interface: envelope::interface_field(iface),
        };
        header.encode(c.payload, &mut self.body);
        envelope::write_topic(c.class.kind.name(), c.src.ip(), bucket, &mut self.topic);
        let offer = match self.publisher.publish(&self.topic, &self.body) {
            Ok(Sent::Sent) => {
                self.counters.published += 1;
                Offer::Published
            }
            Ok(Sent::Full) => {
                self.counters.hwm_dropped += 1;
                Offer::Full
            }
            Err(e) => {
                if self.counters.failed == 0 {
                    tracing::error!("publish: {e}");
                }
                self.counters.failed += 1;
                Offer::Failed
            }
        };
        let now_secs = c.ts_ns / 1_000_000_000;
        self.exporters
            .offered(c.src.ip(), c.class.kind, bucket, c.payload, now_secs, offer);
        offer == Offer::Published
    }
}

/// Informs sent to one of capture's listeners (sekiwake is the address the sender used): each is acknowledged
/// once it is on the bus (v2c: a Response echoing request-id and varbinds), a sender's retry of one already
/// published is acknowledged again but not published again. A packet capture only watches others' traffic
/// and never answers. (SNMPv3 informs need capture to act as an authoritative engine: not done here; they
/// are published unanswered.)
struct InformDesk {
    recent: RecentInforms,
    /// Answers to send once the current read is done: listener address, sender, the answer, and whether it
    /// acknowledges an inform (else it is an SNMPv3 Report).
    answers: Vec<(SocketAddr, SocketAddr, Vec<u8>, bool)>,
    counters: InformCounters,
    /// The SNMPv3 engine informs to a listener are addressed to, and when it started (its time's origin).
    engine: Option<(Engine, Instant)>,
}

/// What [`InformDesk`] did.
#[derive(Debug, Clone, Default)]
pub struct InformCounters {
    /// v2c informs received on a listener.
    pub received: u64,
    /// Of those, published and acknowledged.
    pub acknowledged: u64,
    /// Of those, a sender's retry of an inform already published: acknowledged again, not published again.
    pub duplicate: u64,
    /// Of those, not acknowledged: the bus did not take it (hwm, failure; the sender will retry) or the
    /// Response could not be sent.
    pub not_acknowledged: u64,
    /// SNMPv3 messages for the engine not published, per reason, and the Reports sent back.
    pub engine_refused: BTreeMap<&'static str, u64>,
    pub engine_reports: u64,
}

/// How long a published inform is remembered to recognise its retries (Net-SNMP's default sender gives up
/// after 6 tries 1 s apart; slower senders' retries past this are published again).
const INFORM_RETRY_WINDOW_NS: u64 = 60_000_000_000;
/// Informs remembered at most.
const INFORM_MEMORY: usize = 65_536;

impl InformDesk {
    fn new(engine: Option<Engine>) -> Self {
        Self {
            recent: RecentInforms::new(INFORM_RETRY_WINDOW_NS, INFORM_MEMORY),
            answers: Vec::new(),
            counters: InformCounters::default(),
            engine: engine.map(|e| (e, Instant::now())),
        }
    }

    /// Publishes `c` unless it is an inform's retry or a message for capture's SNMPv3 engine; queues the
    /// acknowledgement of an inform that is on the bus. `listener`: the datagram came from a listener socket
    /// (else nothing is answered).
    fn publish(&mut self, p: &mut Publishing, c: &Captured<'_>, iface: &str, listener: bool) {
        if listener && self.for_engine(p, c, iface) {
            return;
        }
        let inform = (listener && c.class.flags & FLAG_INFORM != 0)
            .then(|| wire::snmp::inform::v2c_inform(c.payload))
            .flatten();
        match inform {
            Some(inform) => self.take(p, c, iface, inform),
            None => {
                p.publish(c, iface);
            }
        }
    }

    /// Whether `c` is an SNMPv3 message for capture's engine: an inform it took is published in clear and
    /// answered; a refusal is counted and its Report queued.
    fn for_engine(&mut self, p: &mut Publishing, c: &Captured<'_>, iface: &str) -> bool {
        let Some((engine, started)) = self.engine.as_mut() else {
            return false;
        };
        if c.class.kind != Kind::Snmptrap || c.class.variant != 3 {
            return false;
        }
        let now = u32::try_from(started.elapsed().as_secs()).unwrap_or(u32::MAX);
        match engine.receive(c.payload, now) {
            Outcome::NotForUs => return false,
            Outcome::Inform {
                plain,
                response,
                request_id,
            } => {
                let class = Class {
                    flags: c.class.flags | FLAG_INFORM,
                    ..c.class
                };
                let plain = Captured {
                    payload: &plain,
                    class,
                    ..*c
                };
                let request_id = request_id.into();
                self.take(
                    p,
                    &plain,
                    iface,
                    Inform {
                        response,
                        request_id,
                    },
                );
            }
            Outcome::Refused { reason, report } => {
                *self
                    .counters
                    .engine_refused
                    .entry(reason.name())
                    .or_default() += 1;
                if let Some(report) = report {
                    self.counters.engine_reports += 1;
                    self.answers.push((c.dst, c.src, report, false));
                }
            }
        }
        true
    }

    /// An inform to a listener: published (once: a sender's retry is only answered again), then answered.
    fn take(&mut self, p: &mut Publishing, c: &Captured<'_>, iface: &str, inform: Inform) {
        self.counters.received += 1;
        if self.recent.is_retry(c.src, inform.request_id, c.ts_ns) {
            self.counters.duplicate += 1;
            self.answers.push((c.dst, c.src, inform.response, true));
            return;
        }
        if p.publish(c, iface) {
            self.recent.remember(c.src, inform.request_id, c.ts_ns);
            self.answers.push((c.dst, c.src, inform.response, true));
        } else {
            self.counters.not_acknowledged += 1;
        }
    }

    /// Sends the queued acknowledgements from the listeners they are due from.
    fn answer(&mut self, sources: &Sources) {
        for (local, to, answer, acknowledges) in self.answers.drain(..) {
            let sent = matches!(sources.answer(local, to, &answer), Some(Ok(_)));
            if !acknowledges {
                continue; // a Report: counted when made, lost like any UDP datagram
            }
            match sent {
                true => self.counters.acknowledged += 1,
                false => self.counters.not_acknowledged += 1,
            }
        }
    }
}

/// Capture's SNMPv3 engine, when an engine ID is configured (boots: the start's Unix time).
fn snmp_engine(c: &CaptureConfig) -> Result<Option<Engine>> {
    let Some(config::SnmpEngine { id, users }) = c
        .snmp_engine()
        .map_err(anyhow::Error::msg)
        .context("capture.snmp_engine_id")?
    else {
        return Ok(None);
    };
    let boots = wire::snmp::engine::boots_now();
    let engine = Engine::new(id, boots, users, wire::snmp::engine::salt_seed())?;
    tracing::info!(
        "capture: SNMPv3 engine {} (boots {boots}) answers informs to the listeners",
        engine
            .id()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(Some(engine))
}

/// A random-enough publisher id: time and pid mixed (no crate needed for 64 bits that only must differ).
fn random_id() -> u64 {
    let t = capture::now_ns();
    let x = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64 finaliser
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.apply(&mut cfg);
    let opts = RunOptions {
        wait_subscribers: args.wait_subscribers,
        ready: None,
    };
    run(&cfg, &opts, &ctx.stop(args.stats.duration()), None)?;
    Ok(ExitCode::SUCCESS)
}

/// The counters as they stand.
fn snapshot(
    parser: &FrameParser,
    p: &Publishing,
    sources: &mut Sources,
    informs: &InformDesk,
) -> CaptureReport {
    CaptureReport {
        auth: p.publisher.auth_stats(),
        publisher: bus::sequence::publisher_name(p.id),
        exporters: p
            .exporters
            .counts()
            .iter()
            .map(ExporterReport::from)
            .collect(),
        exporters_untracked: p.exporters.untracked(),
        ..CaptureReport::new(
            &parser.stats(),
            &p.counters,
            &sources.pcap_stats(),
            &informs.counters,
        )
    }
}

/// Binds `bus.publish`, or connects to every `bus.connect` endpoint (proxies); also says which, for the log.
fn open_publisher(cfg: &Config) -> Result<(Publisher, String)> {
    let (bus, curve) = (&cfg.bus, crate::cli::curve(cfg)?);
    if bus.connect.is_empty() {
        let p = Publisher::bind(&bus.publish.0, bus.hwm, &curve)
            .with_context(|| format!("publish on {}", bus.publish.0))?;
        return Ok((p, format!("on {}", bus.publish.0)));
    }
    let endpoints: Vec<String> = bus.connect.iter().map(|e| e.0.clone()).collect();
    let p = Publisher::connect(&endpoints, bus.hwm, &curve)
        .with_context(|| format!("publish to {}", endpoints.join(", ")))?;
    Ok((p, format!("to {}", endpoints.join(", "))))
}

pub fn run(
    cfg: &Config,
    opts: &RunOptions,
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<CaptureReport>>>,
) -> Result<CaptureReport> {
    let classifier = cfg.capture.classifier();
    let guard = LoopGuard::for_this_host(cfg.capture.ignore_source_ports.clone());
    let mut sources = open_sources(&cfg.capture, &classifier, &guard)?;
    let (publisher, publishing) = open_publisher(cfg)?;
    let informs_engine = snmp_engine(&cfg.capture)?;
    if let Some(user) = &cfg.run.user {
        crate::privileges::drop_to(user, &[])?;
    }
    let mut p = Publishing {
        publisher,
        id: cfg.bus.publisher_id.unwrap_or_else(random_id),
        sequences: Sequencer::default(),
        body: Vec::with_capacity(65536 + envelope::HEADER_LEN),
        topic: Vec::with_capacity(64),
        counters: BusCounters::default(),
        exporters: Exporters::new(MAX_EXPORTERS),
    };
    tracing::info!(
        "capture: publishing {publishing} as publisher {:016x}; filter: {}",
        p.id,
        filter::build(&classifier, &guard)
    );
    if opts.wait_subscribers > 0 {
        let n = p
            .publisher
            .wait_subscribers(opts.wait_subscribers, WAIT_SUBSCRIBERS);
        tracing::info!("capture: {n} subscription(s) seen, starting");
    }
    if let Some(r) = &opts.ready {
        r.store(true, Ordering::Relaxed);
    }
    let mut refusals = RefusalLog::new(classifier.relays_mismatched());
    let mut informs = InformDesk::new(informs_engine);
    let mut parser = frames::parser(&cfg.capture, classifier, guard);
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let is_file = cfg.capture.pcap.is_some();
    let mut last_ts = 0u64;
    let mut failure = None;
    // Batched mode for listeners: after a wake-up with data, let datagrams gather for the block timeout, as
    // the kernel does for libpcap's blocks.
    let gather = (!cfg.capture.immediate && !cfg.capture.listen.is_empty())
        .then(|| Duration::from_millis(u64::from(cfg.capture.block_timeout_ms)));
    loop {
        let mut got = false;
        let status = sources.poll(POLL_MS, &mut |pkt| {
            got = true;
            last_ts = pkt.ts_ns;
            let captured = match pkt.body {
                Body::Frame { data, wire_len, .. } if (data.len() as u64) < u64::from(wire_len) => {
                    parser.truncated();
                    None
                }
                Body::Frame { link, data, .. } => parser.frame(link, pkt.ts_ns, data),
                Body::Udp { src, dst, payload } => parser.datagram(pkt.ts_ns, src, dst, payload),
            };
            let listener = matches!(pkt.body, Body::Udp { .. });
            if let Some(c) = captured {
                informs.publish(&mut p, &c, pkt.iface, listener);
            }
        });
        informs.answer(&sources);
        if let (true, Some(d)) = (got, gather) {
            std::thread::sleep(d);
        }
        let status = status.unwrap_or_else(|e| {
            tracing::error!("capture: {e}");
            failure = Some(e);
            Status::Ended
        });
        refusals.check(&parser);
        if reporter.due() {
            parser.expire(if is_file { last_ts } else { capture::now_ns() });
            p.publisher.poll_subscriptions();
            reporter.report("capture", &snapshot(&parser, &p, &mut sources, &informs));
        }
        if status == Status::Ended || stop.requested() {
            break;
        }
    }
    let report = snapshot(&parser, &p, &mut sources, &informs);
    reporter.finish("capture", &report);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// The role's flags alone, as the command line gives them.
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        args: super::Args,
    }

    #[test]
    fn port_flags_replace_a_kinds_defaults() {
        let a = Flags::try_parse_from([
            "capture",
            "-i",
            "lo",
            "--port",
            "syslog=5514",
            "--port",
            "syslog=5515",
        ])
        .unwrap()
        .args;
        let mut cfg = config::Config::default();
        a.apply(&mut cfg);
        let c = cfg.capture.classifier();
        assert_eq!(c.family(5514), Some(wire::kind::Family::Syslog));
        assert_eq!(c.family(5515), Some(wire::kind::Family::Syslog));
        assert_eq!(c.family(514), None);
        assert_eq!(c.family(2055), Some(wire::kind::Family::Netflow));
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Flags::try_parse_from(["capture", "--port", "syslg=1"]).is_err());
        assert!(Flags::try_parse_from(["capture", "--publish", "http://x"]).is_err());
    }
}
