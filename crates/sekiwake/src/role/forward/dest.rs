//! One destination at run time: its sink (plain UDP, spoofed UDP, TCP/TLS stream), its 1-in-N sampler, the
//! datagrams queued for it this round, and its counters.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sinks::spoof::{SpoofError, SpoofSink};
use sinks::stream::{StreamConfig, StreamSink, StreamStats, TlsOptions};
use sinks::udp::UdpSink;
use sinks::SinkStats;

use crate::config::{Destination, Scheme};
use crate::metrics::DestinationReport;

/// A UDP destination that refused a datagram counts as down this long (then it is tried again).
pub const DOWN_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// How long a stream destination may take at exit to deliver what it holds.
pub const STREAM_DRAIN: Duration = Duration::from_secs(2);

pub enum Sink {
    Udp(UdpSink),
    Spoof(SpoofSink),
    Stream(StreamSink),
    /// A UDP destination with no route at start (or after a reload): its datagrams count as `failed` and the
    /// socket is tried again every [`RETRY_UNREACHABLE`], so one network that is down stops nothing else.
    Unreachable(Retry),
}

pub struct Retry {
    cfg: Destination,
    source_port: u16,
    last_try: Instant,
    error: String,
    failed: u64,
}

/// How often an unreachable UDP destination's socket is tried again.
pub const RETRY_UNREACHABLE: Duration = Duration::from_secs(2);

/// Whether opening failed for want of a route or an address (worth retrying), not for a setting.
fn unreachable(e: &anyhow::Error) -> bool {
    let io = e.chain().find_map(|c| {
        c.downcast_ref::<std::io::Error>()
            .or_else(|| match c.downcast_ref::<SpoofError>() {
                Some(SpoofError::Io(io)) => Some(io),
                _ => None,
            })
    });
    io.and_then(|io| io.raw_os_error()).is_some_and(|n| {
        [
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::ENETDOWN,
            libc::EADDRNOTAVAIL,
        ]
        .contains(&n)
    })
}

/// What a destination changes in the datagrams it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rewrite {
    pub tag: bool,
    pub v1_to_v2c: bool,
}

impl Rewrite {
    pub fn any(self) -> bool {
        self.tag || self.v1_to_v2c
    }

    /// The rewritten datagram, or `None` to send it as it is.
    pub fn apply(
        self,
        kind: Option<wire::kind::Kind>,
        exporter: std::net::IpAddr,
        p: &[u8],
    ) -> Option<Vec<u8>> {
        use wire::kind::Kind;
        use wire::snmp::rewrite;
        let v4 = match exporter.to_canonical() {
            std::net::IpAddr::V4(a) => Some(a),
            std::net::IpAddr::V6(_) => None,
        };
        match kind {
            Some(Kind::Syslog) if self.tag => wire::syslog::with_origin(p, exporter),
            Some(Kind::Snmptrap) => {
                let converted = self.v1_to_v2c.then(|| rewrite::v1_to_v2c(p)).flatten();
                match (converted, self.tag, v4) {
                    (Some(c), _, _) => Some(c),
                    (None, true, Some(a)) => rewrite::with_trap_address(p, a),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A datagram queued for a destination this round: an index into the batch, or bytes made for this
/// destination (template-only, tagged).
pub enum Item {
    Batch(usize),
    Owned(Vec<u8>),
}

pub struct Dest {
    pub sink: Sink,
    /// Rewrites this destination wants (origin tag, v1 to v2c).
    pub rewrite: Rewrite,
    sample: u32,
    seen: u64,
    pub pending: Vec<(SocketAddr, Item)>,
    pub report: DestinationReport,
    /// When the destination last refused a datagram (UDP: ICMP unreachable), to tell whether it is down.
    last_refusal: Option<Instant>,
}

impl Dest {
    pub fn open(d: &Destination, source_port: u16) -> Result<Dest> {
        let sink = match open_sink(d, source_port) {
            Ok(s) => s,
            Err(e) if unreachable(&e) => {
                tracing::warn!(
                    "forward: destination {}: {e:#}; trying again every {RETRY_UNREACHABLE:?}",
                    d.name()
                );
                Sink::Unreachable(Retry {
                    cfg: d.clone(),
                    source_port,
                    last_try: Instant::now(),
                    error: format!("{e:#}"),
                    failed: 0,
                })
            }
            Err(e) => return Err(e).with_context(|| format!("destination {}", d.name())),
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
        })
    }

    /// Whether the destination looks reachable: a TCP/TLS connection is up, or a UDP destination has not
    /// refused anything for [`DOWN_AFTER_REFUSAL`]. Groups skip members that are down and replay templates
    /// to a member that comes back.
    pub fn up(&self) -> bool {
        match &self.sink {
            Sink::Stream(s) => s.stats().connected,
            Sink::Unreachable(_) => false,
            _ => self
                .last_refusal
                .is_none_or(|t| t.elapsed() >= DOWN_AFTER_REFUSAL),
        }
    }

    /// Queues a template-only datagram (counted apart from the datagrams routed here).
    pub fn push_templates(&mut self, src: SocketAddr, t: Vec<u8>) {
        self.report.templates_sent += 1;
        self.pending.push((src, Item::Owned(t)));
    }

    /// A TCP/TLS destination carries syslog only.
    pub fn takes(&self, kind: Option<wire::kind::Kind>) -> bool {
        !matches!(self.sink, Sink::Stream(_)) || kind == Some(wire::kind::Kind::Syslog)
    }

    /// 1-in-N: whether this datagram is one to send.
    pub fn keep(&mut self) -> bool {
        let keep = self.seen.is_multiple_of(u64::from(self.sample));
        self.seen += 1;
        keep
    }

    /// An unreachable destination whose retry time has come: opened again if it now can be.
    fn retry(&mut self) {
        let Sink::Unreachable(r) = &mut self.sink else {
            return;
        };
        if r.last_try.elapsed() < RETRY_UNREACHABLE {
            return;
        }
        r.last_try = Instant::now();
        match open_sink(&r.cfg, r.source_port) {
            Ok(sink) => {
                tracing::info!("forward: destination {} is reachable again", r.cfg.name());
                self.report.failed_while_unreachable += r.failed;
                self.sink = sink;
            }
            Err(e) => r.error = format!("{e:#}"),
        }
    }

    /// Sends what is pending; `batch` resolves [`Item::Batch`] indexes to payloads.
    pub fn flush<'a>(&mut self, batch: &impl Fn(usize) -> &'a [u8]) {
        if self.pending.is_empty() {
            return;
        }
        self.retry();
        if let Sink::Unreachable(r) = &mut self.sink {
            r.failed += self.pending.len() as u64;
            self.pending.clear();
            return;
        }
        let items: Vec<(SocketAddr, &[u8])> = self
            .pending
            .iter()
            .map(|(src, it)| match it {
                Item::Batch(i) => (*src, batch(*i)),
                Item::Owned(v) => (*src, &v[..]),
            })
            .collect();
        let refused_before = self.sink_stats().refused;
        match &mut self.sink {
            Sink::Udp(s) => s.send(&items.iter().map(|(_, p)| *p).collect::<Vec<_>>()),
            Sink::Spoof(s) => s.send(&items),
            Sink::Stream(s) => {
                for (_, p) in &items {
                    let _ = s.offer(p); // a refusal is counted by the sink
                }
            }
            Sink::Unreachable(_) => {}
        }
        if self.sink_stats().refused > refused_before {
            self.last_refusal = Some(Instant::now());
        }
        self.pending.clear();
    }

    fn sink_stats(&self) -> SinkStats {
        match &self.sink {
            Sink::Udp(s) => s.stats(),
            Sink::Spoof(s) => s.stats(),
            Sink::Stream(_) | Sink::Unreachable(_) => SinkStats::default(),
        }
    }

    /// The counters, with the sink's own.
    pub fn snapshot(&self) -> DestinationReport {
        let mut r = self.report.clone();
        match &self.sink {
            Sink::Stream(s) => stream_counters(&mut r, &s.stats()),
            Sink::Unreachable(u) => {
                r.failed = r.failed_while_unreachable + u.failed;
                r.last_error = Some(u.error.clone());
            }
            _ => {
                let s = self.sink_stats();
                (r.forwarded, r.refused, r.dropped_full, r.wrong_family) =
                    (s.forwarded, s.refused, s.dropped_full, s.wrong_family);
                r.failed = s.failed + r.failed_while_unreachable;
            }
        }
        r
    }

    /// Stops a stream sink's thread after it delivered what it holds (or `STREAM_DRAIN` passed); several
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
        let mut r = self.snapshot();
        if let Sink::Stream(s) = self.sink {
            stream_counters(&mut r, &s.shutdown(STREAM_DRAIN));
        }
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

fn open_sink(d: &Destination, source_port: u16) -> Result<Sink> {
    match (d.url.scheme, d.url.addr) {
        (Scheme::Udp { spoof: false, .. }, Some(a)) => {
            Ok(Sink::Udp(UdpSink::connect(a, source_port)?))
        }
        (Scheme::Udp { spoof: true, mtu }, Some(a)) => {
            let mut s = SpoofSink::open(a)?;
            if let Some(m) = mtu {
                s.set_mtu_cap(usize::from(m));
            }
            Ok(Sink::Spoof(s))
        }
        (Scheme::Tcp { .. } | Scheme::Tls, _) => {
            Ok(Sink::Stream(StreamSink::start(stream_config(d))?))
        }
        (Scheme::Udp { .. }, None) => bail!("unresolved UDP destination"),
    }
}

fn stream_config(d: &Destination) -> StreamConfig {
    let mut c = StreamConfig::new(d.url.text.clone());
    if let Some(n) = d.queue_messages {
        c.queue_messages = n;
    }
    if let Some(n) = d.queue_bytes {
        c.queue_bytes = n;
    }
    c.tls = TlsOptions {
        ca_file: d.tls_ca.as_ref().map(PathBuf::from),
        server_name: d.tls_server_name.clone(),
        client_cert: d.tls_cert.as_ref().map(PathBuf::from),
        client_key: d.tls_key.as_ref().map(PathBuf::from),
    };
    c
}
