//! Counters of every role, in one place: their names, their JSON form, the periodic log line and the stats
//! file. Roles count in plain integers on their own thread and publish a snapshot here a few times a second,
//! never per datagram.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use capture::{DecodeStats, PcapStats};
use wire::kind::Kind;

/// Capture's counters. Conservation: `captured_total == published + hwm_dropped + bus_failed`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureReport {
    pub role: &'static str,
    pub captured: BTreeMap<&'static str, u64>,
    pub captured_total: u64,
    pub frames: u64,
    pub mismatched: u64,
    pub malformed: u64,
    pub truncated: u64,
    pub unwatched: u64,
    pub not_udp: u64,
    pub own_traffic: u64,
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
}

/// What the publishing side counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusCounters {
    pub published: u64,
    pub hwm_dropped: u64,
    pub failed: u64,
}

impl CaptureReport {
    pub fn new(d: &DecodeStats, bus: &BusCounters, pcap: &PcapStats) -> Self {
        Self {
            role: "capture",
            captured: Kind::ALL
                .iter()
                .map(|k| (k.name(), d.captured[k.index()]))
                .collect(),
            captured_total: d.captured_total(),
            frames: d.frames,
            mismatched: d.mismatched,
            malformed: d.malformed,
            truncated: d.truncated,
            unwatched: d.unwatched,
            not_udp: d.not_udp,
            own_traffic: d.own_traffic,
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
        }
    }
}

/// One destination's counters. Conservation: `routed + templates_sent = wrong_kind + sampled_out + forwarded +
/// refused + dropped_full + failed + wrong_family + queued + dropped_at_exit`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DestinationReport {
    pub name: String,
    pub url: String,
    pub kinds: Vec<String>,
    /// Datagrams the rules (and groups) sent here.
    pub routed: u64,
    /// Skipped by 1-in-N sampling (their v9/IPFIX templates still went, counted in `templates_sent`).
    pub sampled_out: u64,
    /// Template-only datagrams made for this destination: sampled-out or load-balanced elsewhere, or replays.
    pub templates_sent: u64,
    /// Datagrams sent changed: tagged with their origin, or SNMPv1 translated to v2c.
    pub rewritten: u64,
    /// Times this destination came back and got its groups' templates again.
    pub template_replays: u64,
    pub forwarded: u64,
    /// UDP: the destination answered ICMP unreachable.
    pub refused: u64,
    /// UDP: the socket buffer stayed full; TCP/TLS: the queue was full.
    pub dropped_full: u64,
    pub failed: u64,
    /// Of `failed`: datagrams routed here while the destination had no route (its socket could not be
    /// opened; it is tried again every 2 s).
    #[serde(skip)]
    pub failed_while_unreachable: u64,
    /// TCP/TLS: datagrams a rule sent here that are not syslog (not sent: these destinations carry syslog).
    pub wrong_kind: u64,
    /// Spoofed UDP: an exporter of the other IP version than the destination's.
    pub wrong_family: u64,
    /// TCP/TLS: held now, waiting for the connection.
    pub queued: u64,
    /// TCP/TLS: still held at exit.
    pub dropped_at_exit: u64,
    /// TCP/TLS: messages sent again after a connection broke before they were acknowledged.
    pub resent: u64,
    pub connects: u64,
    pub disconnects: u64,
    /// TCP/TLS: connect or TLS handshake attempts that failed.
    pub connect_failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// TCP/TLS: the latest connect or connection error (refused, TLS certificate not trusted, peer closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Forward's counters. Conservation: `received == routed + unrouted + dropped_by_rule + bad_envelope`, where
/// `routed` counts datagrams sent to at least one destination; per destination see [`DestinationReport`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForwardReport {
    pub role: &'static str,
    pub received: u64,
    pub bad_envelope: u64,
    /// Datagrams sent to at least one destination.
    pub routed: u64,
    pub unrouted: u64,
    /// Datagrams a `drop` rule matched.
    pub dropped_by_rule: u64,
    /// Datagrams each rule matched: the configured rules in order, then one implicit rule per destination
    /// with `kinds`.
    pub rules_matched: Vec<u64>,
    /// Sequence numbers skipped by publishers: datagrams lost on the bus before they reached us.
    pub bus_gaps: u64,
    pub publishers: usize,
    /// From capture (the envelope's timestamp) to the end of the send, per datagram forwarded. Meaningful for
    /// live capture; a file replay carries the file's old timestamps.
    pub latency_ns: crate::histogram::Percentiles,
    pub destinations: Vec<DestinationReport>,
}

/// A one-line summary for the log.
pub trait Summary {
    fn line(&self) -> String;
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
        )
    }
}

impl Summary for ForwardReport {
    fn line(&self) -> String {
        let dests: Vec<String> = self
            .destinations
            .iter()
            .map(|d| {
                let mut line = format!(
                    "{}: forwarded={} refused={} dropped_full={} failed={} sampled_out={} queued={}",
                    d.name, d.forwarded, d.refused, d.dropped_full, d.failed, d.sampled_out, d.queued
                );
                if let Some(connected) = d.connected {
                    line += &format!(
                        " dropped_at_exit={} resent={} connects={} disconnects={} connect_failures={}",
                        d.dropped_at_exit, d.resent, d.connects, d.disconnects, d.connect_failures
                    );
                    if let (false, Some(e)) = (connected, &d.last_error) {
                        line += &format!(" last_error={e:?}");
                    }
                }
                line
            })
            .collect();
        format!(
            "received={} unrouted={} dropped_by_rule={} bad_envelope={} bus_gaps={} latency_us_p50/p99={}/{} | {}",
            self.received,
            self.unrouted,
            self.dropped_by_rule,
            self.bad_envelope,
            self.bus_gaps,
            self.latency_ns.p50 / 1000,
            self.latency_ns.p99 / 1000,
            dests.join(" | ")
        )
    }
}

/// Where a role's snapshots go: an optional shared slot (the demo reads it), the log, the stats file.
pub struct Reporter<T> {
    shared: Option<Arc<Mutex<T>>>,
    log_every: Duration,
    file: Option<PathBuf>,
    file_every: Duration,
    last_log: Instant,
    last_file: Instant,
    last_share: Instant,
}

/// How often a role refreshes its shared snapshot.
const SHARE_EVERY: Duration = Duration::from_millis(100);

impl<T: Serialize + Summary + Clone> Reporter<T> {
    pub fn new(cfg: &crate::config::StatsConfig, shared: Option<Arc<Mutex<T>>>) -> Self {
        let now = Instant::now();
        Self {
            shared,
            log_every: Duration::from_secs(u64::from(cfg.log_interval_secs.max(1))),
            file: cfg.file.as_ref().map(PathBuf::from),
            file_every: Duration::from_secs(u64::from(cfg.file_interval_secs.max(1))),
            last_log: now,
            last_file: now,
            last_share: now,
        }
    }

    /// Whether a snapshot is due (so the role builds one only then).
    pub fn due(&self) -> bool {
        self.last_share.elapsed() >= SHARE_EVERY
    }

    /// Takes a snapshot; logs and writes the file when their intervals have passed.
    pub fn report(&mut self, role: &str, r: &T) {
        self.last_share = Instant::now();
        if let Some(s) = &self.shared {
            if let Ok(mut g) = s.lock() {
                *g = r.clone();
            }
        }
        if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!("{role}: {}", r.line());
        }
        if self.last_file.elapsed() >= self.file_every {
            self.last_file = Instant::now();
            self.write_file(r);
        }
    }

    /// The final snapshot: always shared, logged and written.
    pub fn finish(&mut self, role: &str, r: &T) {
        if let Some(s) = &self.shared {
            if let Ok(mut g) = s.lock() {
                *g = r.clone();
            }
        }
        tracing::info!("{role} final: {}", r.line());
        self.write_file(r);
    }

    fn write_file(&self, r: &T) {
        let Some(path) = &self.file else { return };
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(r).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, path)) {
            tracing::warn!("stats file {}: {e}", path.display());
        }
    }
}
