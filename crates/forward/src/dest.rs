//! One destination at run time: its sink (plain UDP, spoofed UDP, TCP/TLS stream), its 1-in-N sampler, the
//! datagrams queued for it this round, and its counters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::{Destination, InformMode, Transport};
use envelope::FLAG_INFORM;
use sinks::spoof::{SpoofError, SpoofSink};
use sinks::stream::{StreamError, StreamSink, StreamStats};
use sinks::udp::UdpSink;
use sinks::SinkStats;

use crate::informs::{self, Delivery, InformRelay};
use crate::traps::TrapMaker;
use wire::snmp::rewrite::Untranslatable;

use crate::report::DestinationReport;

/// A UDP destination that refused a datagram counts as down this long (then it is tried again).
pub const DOWN_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// How long a stream destination may take at exit to deliver what it holds.
pub const STREAM_DRAIN: Duration = Duration::from_secs(2);

/// How often an unreachable UDP destination's socket is tried again.
pub const RETRY_UNREACHABLE: Duration = Duration::from_secs(2);

/// Why a destination's sink could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Udp(#[from] std::io::Error),
    #[error("{0}")]
    Spoof(#[from] SpoofError),
    #[error("{0}")]
    Stream(#[from] StreamError),
    #[error("{0}")]
    Settings(String),
}

impl OpenError {
    /// Whether opening failed for want of a route or an address (worth retrying), not for a setting.
    fn unreachable(&self) -> bool {
        let io = match self {
            OpenError::Udp(io) | OpenError::Spoof(SpoofError::Io(io)) => io,
            _ => return false,
        };
        let no_route = [
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::ENETDOWN,
            libc::EADDRNOTAVAIL,
        ];
        io.raw_os_error().is_some_and(|n| no_route.contains(&n))
    }
}

/// What forward asks of a destination's sink, whatever its scheme.
trait Outlet: Send {
    /// Sends (or queues) one round's datagrams, each with its original sender.
    fn send(&mut self, items: &[(SocketAddr, &[u8])]);
    /// Whether the sink can tell it is reachable (a stream's connection); `None`: judge by refusals.
    fn up(&self) -> Option<bool> {
        None
    }
    /// Datagrams the destination refused so far (UDP: ICMP unreachable).
    fn refused(&self) -> u64 {
        0
    }
    /// Only syslog fits (TCP/TLS carry syslog frames).
    fn syslog_only(&self) -> bool {
        false
    }
    /// Hands over what the destination sent back (UDP: SNMP answers to informs), without blocking.
    fn receive(&mut self, _seen: &mut dyn FnMut(&[u8])) {}
    /// Writes the sink's own counters into the report.
    fn counters(&self, r: &mut DestinationReport);
    /// A stand-in for a sink that could not be opened: the real one once it can be (and what the stand-in
    /// failed meanwhile).
    fn reopen(&mut self) -> Option<(Box<dyn Outlet>, u64)> {
        None
    }
    /// Delivers what it holds (or gives up after [`STREAM_DRAIN`]), then writes its final counters.
    fn close(self: Box<Self>, r: &mut DestinationReport) {
        self.counters(r);
    }
}

fn datagram_counters(s: &SinkStats, r: &mut DestinationReport) {
    (r.forwarded, r.refused, r.dropped_full, r.wrong_family) =
        (s.forwarded, s.refused, s.dropped_full, s.wrong_family);
    r.failed = s.failed + r.failed_while_unreachable;
    r.unreachable_reports = s.unreachable_reports;
}

impl Outlet for UdpSink {
    fn send(&mut self, items: &[(SocketAddr, &[u8])]) {
        let payloads: Vec<&[u8]> = items.iter().map(|(_, p)| *p).collect();
        UdpSink::send(self, &payloads);
    }
    /// Refusals, and unreachable reports read with the answers: either says the destination is down.
    fn refused(&self) -> u64 {
        let s = self.stats();
        s.refused + s.unreachable_reports
    }
    fn receive(&mut self, seen: &mut dyn FnMut(&[u8])) {
        UdpSink::receive(self, MAX_ANSWERS_PER_READ, seen);
    }
    fn counters(&self, r: &mut DestinationReport) {
        datagram_counters(&self.stats(), r);
    }
}

/// Answers read per destination per [`Dest::read_answers`]: bounds the time one read takes; the rest wait in
/// the socket for the next one.
const MAX_ANSWERS_PER_READ: usize = 256;

/// Counts one datagram a destination sent back: SNMP Responses (acknowledging an inform in flight, if it
/// names one) and Reports by name, anything else apart. Without users, v1, v2c and unauthenticated v3
/// messages are read (a v3 discovery Report is unauthenticated).
/// How informs become traps at a destination with `informs = "trap"`: SNMPv3 traps with `snmp_user` (and the
/// `snmp_engine_id` they come from), else v2c traps.
fn trap_maker(d: &Destination) -> Result<TrapMaker, OpenError> {
    let engine_id = d.trap_engine_id().map_err(OpenError::Settings)?;
    let user = match d.informs {
        InformMode::Trap => d.usm_user().map_err(OpenError::Settings)?,
        InformMode::Inform => None,
    };
    match (user, engine_id) {
        (Some(u), Some(engine_id)) => {
            let keys =
                wire::snmp::UserKeys::new(&u).map_err(|e| OpenError::Settings(e.to_string()))?;
            Ok(TrapMaker::v3(&keys, engine_id))
        }
        (Some(_), None) => Err(OpenError::Settings(
            "SNMPv3 traps need snmp_engine_id, the engine they are sent from".into(),
        )),
        (None, _) => Ok(TrapMaker::v2c(
            d.community.as_deref().unwrap_or("public").as_bytes(),
        )),
    }
}

/// The inform relay of a plain UDP destination with `informs = "inform"`.
fn inform_relay(d: &Destination) -> Result<InformRelay, OpenError> {
    let first_timeout = d.inform_timeout_ms.map_or(informs::FIRST_TIMEOUT, |ms| {
        Duration::from_millis(u64::from(ms.max(1)))
    });
    let user = d.usm_user().map_err(OpenError::Settings)?;
    let keys = user
        .map(|u| wire::snmp::UserKeys::new(&u))
        .transpose()
        .map_err(|e| OpenError::Settings(e.to_string()))?;
    let sends = d.inform_sends.unwrap_or(informs::MAX_SENDS);
    Ok(InformRelay::new(first_timeout, sends, keys))
}

impl Outlet for SpoofSink {
    fn send(&mut self, items: &[(SocketAddr, &[u8])]) {
        SpoofSink::send(self, items);
    }
    fn refused(&self) -> u64 {
        self.stats().refused
    }
    fn counters(&self, r: &mut DestinationReport) {
        datagram_counters(&self.stats(), r);
    }
}

impl Outlet for StreamSink {
    fn send(&mut self, items: &[(SocketAddr, &[u8])]) {
        for (_, p) in items {
            let _ = self.offer(p); // a refusal is counted by the sink
        }
    }
    fn up(&self) -> Option<bool> {
        Some(self.stats().connected)
    }
    fn syslog_only(&self) -> bool {
        true
    }
    fn counters(&self, r: &mut DestinationReport) {
        stream_counters(r, &self.stats());
    }
    fn close(self: Box<Self>, r: &mut DestinationReport) {
        stream_counters(r, &self.shutdown(STREAM_DRAIN));
    }
}

/// A UDP destination with no route at start (or after a reload): its datagrams count as `failed` and the
/// socket is tried again every [`RETRY_UNREACHABLE`], so one network that is down stops nothing else.
struct Unreachable {
    transport: Transport,
    source_port: u16,
    last_try: Instant,
    error: String,
    failed: u64,
}

impl Outlet for Unreachable {
    fn send(&mut self, items: &[(SocketAddr, &[u8])]) {
        self.failed += items.len() as u64;
    }
    fn up(&self) -> Option<bool> {
        Some(false)
    }
    fn counters(&self, r: &mut DestinationReport) {
        r.failed = r.failed_while_unreachable + self.failed;
        r.last_error = Some(self.error.clone());
    }
    fn reopen(&mut self) -> Option<(Box<dyn Outlet>, u64)> {
        if self.last_try.elapsed() < RETRY_UNREACHABLE {
            return None;
        }
        self.last_try = Instant::now();
        match open_sink(&self.transport, self.source_port) {
            Ok(sink) => Some((sink, std::mem::take(&mut self.failed))),
            Err(e) => {
                self.error = e.to_string();
                None
            }
        }
    }
}

/// What a destination changes in the datagrams it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rewrite {
    pub tag: bool,
    pub v1_to_v2c: bool,
}

/// What a destination's rewrite made of one datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// Sent as it came.
    Unchanged,
    /// Sent as these bytes instead.
    Changed(Vec<u8>),
    /// A v1 trap sent as it came because it cannot be translated to v2c.
    Untranslated(Untranslatable),
}

impl Rewrite {
    pub fn any(self) -> bool {
        self.tag || self.v1_to_v2c
    }

    /// What to send instead of `p`; a translated v1 trap takes its request-id from `ids`.
    pub fn apply(
        self,
        kind: Option<wire::kind::Kind>,
        exporter: std::net::IpAddr,
        p: &[u8],
        ids: &mut RequestIds,
    ) -> Rewritten {
        use wire::kind::Kind;
        use wire::snmp::rewrite;
        let v4 = match exporter.to_canonical() {
            std::net::IpAddr::V4(a) => Some(a),
            std::net::IpAddr::V6(_) => None,
        };
        let changed = |c: Option<Vec<u8>>| c.map_or(Rewritten::Unchanged, Rewritten::Changed);
        match kind {
            Some(Kind::Syslog) if self.tag => changed(wire::syslog::with_origin(p, exporter)),
            Some(Kind::Snmptrap) => {
                let converted = match self.v1_to_v2c {
                    true => rewrite::v1_to_v2c(p, || ids.next()),
                    false => None,
                };
                match (converted, self.tag, v4) {
                    (Some(Ok(c)), _, _) => Rewritten::Changed(c),
                    (Some(Err(why)), _, _) => Rewritten::Untranslated(why),
                    (None, true, Some(a)) => changed(rewrite::with_trap_address(p, a)),
                    _ => Rewritten::Unchanged,
                }
            }
            _ => Rewritten::Unchanged,
        }
    }
}

/// Request-ids for v1 traps translated to v2c (a v1 Trap-PDU has none to keep). One sequence per
/// forwarder, shared by its destinations, so a receiver that several destinations point at never sees one
/// twice from this forwarder's port: it counts up through 1..=2^31-1 and wraps to 1 (never 0, never negative),
/// from a random start, so a restarted forwarder does not repeat the ids it sent just before.
#[derive(Debug, Clone)]
pub struct RequestIds(i32);

impl Default for RequestIds {
    fn default() -> Self {
        // std's per-process random hash keys: a random start without a dependency for one number
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        RequestIds::starting_at((random % i32::MAX as u64) as i32 + 1)
    }
}

impl RequestIds {
    /// A sequence whose first id is `first` (taken into 1..=2^31-1).
    pub fn starting_at(first: i32) -> Self {
        RequestIds(first.clamp(1, i32::MAX))
    }

    pub fn next(&mut self) -> i32 {
        let id = self.0;
        self.0 = if id == i32::MAX { 1 } else { id + 1 };
        id
    }
}

/// A datagram queued for a destination this round: an index into the batch, or bytes made for this
/// destination (template-only, tagged).
pub enum Item {
    Batch(usize),
    Owned(Vec<u8>),
}

pub struct Dest {
    sink: Box<dyn Outlet>,
    /// Rewrites this destination wants (origin tag, v1 to v2c).
    pub rewrite: Rewrite,
    sample: u32,
    seen: u64,
    pub pending: Vec<(SocketAddr, Item)>,
    pub report: DestinationReport,
    /// When the destination last refused a datagram (UDP: ICMP unreachable), to tell whether it is down.
    last_refusal: Option<Instant>,
    /// How informs go there: (plain UDP, `informs = "inform"`) those in flight, or (`informs = "trap"`) how
    /// they become traps.
    inform_mode: InformMode,
    informs: Option<InformRelay>,
    traps: TrapMaker,
}

impl Dest {
    pub fn open(d: &Destination, source_port: u16) -> Result<Dest, OpenError> {
        let transport = d.transport().map_err(|(_, _, m)| OpenError::Settings(m))?;
        let relays_informs =
            matches!(transport, Transport::Udp(_)) && d.informs == InformMode::Inform;
        let sink = match open_sink(&transport, source_port) {
            Ok(s) => s,
            Err(e) if e.unreachable() => {
                tracing::warn!(
                    "forward: destination {}: {e}; trying again every {RETRY_UNREACHABLE:?}",
                    d.name()
                );
                Box::new(Unreachable {
                    transport,
                    source_port,
                    last_try: Instant::now(),
                    error: e.to_string(),
                    failed: 0,
                })
            }
            Err(e) => return Err(e),
        };
        Ok(Dest {
            sink,
            rewrite: Rewrite {
                tag: d.tag,
                v1_to_v2c: d.v1_to_v2c,
            },
            sample: d.sample.max(1),
            seen: 0,
            pending: Vec::new(),
            report: DestinationReport {
                name: d.name().to_owned(),
                url: d.url.text.clone(),
                kinds: d.kinds.iter().map(|k| k.to_string()).collect(),
                ..Default::default()
            },
            last_refusal: None,
            inform_mode: d.informs,
            informs: match relays_informs {
                true => Some(inform_relay(d)?),
                false => None,
            },
            traps: trap_maker(d)?,
        })
    }

    /// What an inform (`flags` has the inform bit) becomes for this destination: an inform of this
    /// forwarder's own, remembered until acknowledged (SNMPv3: held until the destination's engine is known,
    /// a discovery probe going instead), or a v2c trap.
    pub fn inform_copy(&mut self, flags: u8, payload: &[u8]) -> Delivery {
        if flags & FLAG_INFORM == 0 {
            return Delivery::AsIs;
        }
        match (self.inform_mode, self.informs.as_mut()) {
            (InformMode::Trap, _) => self
                .traps
                .trap(payload)
                .map_or(Delivery::AsIs, Delivery::Send),
            (InformMode::Inform, Some(relay)) => {
                relay.send(payload, Instant::now(), &mut self.report)
            }
            (InformMode::Inform, None) => Delivery::AsIs,
        }
    }

    /// Reads what the destination sent back, then sends again the informs whose time has come.
    pub fn read_answers(&mut self) {
        let (relay, report) = (&mut self.informs, &mut self.report);
        let refused_before = self.sink.refused();
        let now = Instant::now();
        self.sink.receive(&mut |p| match relay.as_mut() {
            Some(relay) => relay.answer(p, now, report),
            None => {
                informs::count_answer(p, report);
            }
        });
        if self.sink.refused() > refused_before {
            // an ICMP unreachable read with the answers says the destination is down, as a refused send does
            self.last_refusal = Some(Instant::now());
        }
        let Some(relay) = self.informs.as_mut() else {
            return;
        };
        let resend = relay.due(Instant::now(), &mut self.report);
        if !resend.is_empty() {
            let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
            let items: Vec<(SocketAddr, &[u8])> =
                resend.iter().map(|m| (unspecified, &m[..])).collect();
            self.sink.send(&items);
        }
    }

    /// Whether the destination looks reachable: a TCP/TLS connection is up, or a UDP destination has not
    /// refused anything for [`DOWN_AFTER_REFUSAL`]. Groups skip members that are down and replay templates
    /// to a member that comes back.
    pub fn up(&self) -> bool {
        self.sink.up().unwrap_or_else(|| {
            self.last_refusal
                .is_none_or(|t| t.elapsed() >= DOWN_AFTER_REFUSAL)
        })
    }

    /// Queues a template-only datagram (counted apart from the datagrams routed here).
    pub fn push_templates(&mut self, src: SocketAddr, t: Vec<u8>) {
        self.report.templates_sent += 1;
        self.pending.push((src, Item::Owned(t)));
    }

    /// A TCP/TLS destination carries syslog only.
    pub fn takes(&self, kind: Option<wire::kind::Kind>) -> bool {
        !self.sink.syslog_only() || kind == Some(wire::kind::Kind::Syslog)
    }

    /// 1-in-N: whether this datagram is one to send.
    pub fn keep(&mut self) -> bool {
        let keep = self.seen.is_multiple_of(u64::from(self.sample));
        self.seen += 1;
        keep
    }

    /// A destination that could not be opened is opened again when it now can be.
    fn retry(&mut self) {
        if let Some((sink, failed)) = self.sink.reopen() {
            tracing::info!(
                "forward: destination {} is reachable again",
                self.report.name
            );
            self.report.failed_while_unreachable += failed;
            self.sink = sink;
        }
    }

    /// Sends what is pending; `batch` resolves [`Item::Batch`] indexes to payloads.
    pub fn flush<'a>(&mut self, batch: &dyn Fn(usize) -> &'a [u8]) {
        if self.pending.is_empty() {
            return;
        }
        self.retry();
        let items: Vec<(SocketAddr, &[u8])> = self
            .pending
            .iter()
            .map(|(src, it)| match it {
                Item::Batch(i) => (*src, batch(*i)),
                Item::Owned(v) => (*src, &v[..]),
            })
            .collect();
        let refused_before = self.sink.refused();
        self.sink.send(&items);
        if self.sink.refused() > refused_before {
            self.last_refusal = Some(Instant::now());
        }
        self.pending.clear();
    }

    /// The counters, with the sink's own.
    pub fn snapshot(&self) -> DestinationReport {
        let mut r = self.report.clone();
        r.informs_in_flight = self.informs.as_ref().map_or(0, |i| i.in_flight() as u64);
        self.sink.counters(&mut r);
        r
    }

    /// Stops stream sinks' threads after they delivered what they hold (or `STREAM_DRAIN` passed); several
    /// destinations close side by side.
    pub fn close_all(dests: Vec<Dest>) -> Vec<DestinationReport> {
        let handles: Vec<_> = dests
            .into_iter()
            .map(|d| std::thread::spawn(move || d.close()))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    }

    /// Stops a stream sink's thread after it delivered what it holds (or `STREAM_DRAIN` passed).
    pub fn close(self) -> DestinationReport {
        let mut r = self.report;
        self.sink.close(&mut r);
        r
    }
}

fn stream_counters(r: &mut DestinationReport, s: &StreamStats) {
    r.forwarded = s.forwarded;
    r.dropped_full = s.dropped_full;
    r.dropped_at_exit = s.dropped_at_exit;
    r.queued = s.queued_messages;
    r.resent = s.resent;
    r.connects = s.connects;
    r.disconnects = s.disconnects;
    r.connect_failures = s.connect_failures;
    r.connected = Some(s.connected);
    r.last_error = s.last_error.clone();
}

fn open_sink(t: &Transport, source_port: u16) -> Result<Box<dyn Outlet>, OpenError> {
    Ok(match t {
        Transport::Udp(a) => Box::new(UdpSink::connect(*a, source_port)?),
        Transport::Spoof { addr, mtu } => {
            let mut s = SpoofSink::open(*addr)?;
            if let Some(m) = mtu {
                s.set_mtu_cap(usize::from(*m));
            }
            Box::new(s)
        }
        Transport::Stream(c) => Box::new(StreamSink::start((**c).clone())?),
    })
}
