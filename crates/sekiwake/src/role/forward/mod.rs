//! `sekiwake forward`: take envelopes off the bus and send each payload, byte-exact, to every destination
//! configured for its kind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use bus::{Received, Recv, Subscriber};
use envelope::Envelope;
use sinks::udp::UdpSink;

use super::Stop;
use crate::config::{Config, Destination, KindSelector};
use crate::metrics::{DestinationReport, ForwardReport, Reporter};

/// Messages taken off the bus per round before sending.
const BATCH: usize = 512;
const IDLE_WAIT_MS: i64 = 100;
/// At shutdown, how long forward keeps sending what is already queued on its side of the bus.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

struct Route {
    kinds: Vec<KindSelector>,
    sink: UdpSink,
    routed: u64,
    /// Indexes into the current batch.
    pending: Vec<usize>,
}

/// Tracks the next expected sequence number of each (publisher, kind, bucket) stream to count datagrams
/// lost on the bus. Subscriptions cover whole kinds, so every stream seen is seen whole.
#[derive(Default)]
struct Gaps {
    next: HashMap<(u64, u8, u8), u64>,
    missing: u64,
}

impl Gaps {
    fn publishers(&self) -> usize {
        let mut ids: Vec<u64> = self.next.keys().map(|k| k.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    fn see(&mut self, stream: (u64, u8, u8), seq: u64) {
        let next = self.next.entry(stream).or_insert(seq);
        if seq > *next {
            self.missing += seq - *next;
        }
        *next = seq + 1;
    }
}

/// The subscription prefixes that cover every destination's kinds.
fn prefixes(dests: &[Destination]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sel in dests.iter().flat_map(|d| d.kinds.iter()) {
        let p = match sel {
            KindSelector::All => return Vec::new(),
            KindSelector::Netflow => "netflow-".to_owned(),
            KindSelector::One(k) => format!("{}/", k.name()),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn open_routes(cfg: &Config) -> Result<Vec<Route>> {
    cfg.forward
        .destination
        .iter()
        .map(|d| {
            let sink = UdpSink::connect(d.url.addr, cfg.forward.source_port)
                .with_context(|| format!("destination {}", d.url.text))?;
            Ok(Route {
                kinds: d.kinds.clone(),
                sink,
                routed: 0,
                pending: Vec::new(),
            })
        })
        .collect()
}

/// One forwarder's state while it runs.
struct Forwarder {
    routes: Vec<Route>,
    gaps: Gaps,
    latency: crate::histogram::Histogram,
    /// Capture timestamps of the batch's routed envelopes, for the latency histogram.
    stamps: Vec<u64>,
    report: ForwardReport,
}

impl Forwarder {
    /// Routes one batch, then sends each destination its share with one batched call.
    fn forward(&mut self, batch: &[Received]) {
        let views: Vec<Option<Envelope<&[u8]>>> = batch
            .iter()
            .map(|m| Envelope::new_checked(&m.body[..]).ok())
            .collect();
        for (i, view) in views.iter().enumerate() {
            self.report.received += 1;
            let Some(e) = view else {
                self.report.bad_envelope += 1;
                continue;
            };
            let stream = (
                e.publisher(),
                e.kind_code(),
                envelope::bucket(&e.src_field()),
            );
            self.gaps.see(stream, e.sequence());
            let kind = e.kind();
            let mut routed = false;
            for r in self
                .routes
                .iter_mut()
                .filter(|r| r.kinds.iter().any(|k| k.matches(kind)))
            {
                r.pending.push(i);
                routed = true;
            }
            self.report.unrouted += u64::from(!routed);
            if routed {
                self.stamps.push(e.timestamp_ns());
            }
        }
        for r in &mut self.routes {
            if r.pending.is_empty() {
                continue;
            }
            let payloads: Vec<&[u8]> = r
                .pending
                .iter()
                .filter_map(|&i| views[i].as_ref().map(|e| e.payload()))
                .collect();
            r.routed += payloads.len() as u64;
            r.sink.send(&payloads);
            r.pending.clear();
        }
        let sent_at = capture::now_ns();
        for ts in self.stamps.drain(..) {
            self.latency.record(sent_at.saturating_sub(ts));
        }
    }

    /// One receive-and-send round; returns how many messages it took off the bus.
    fn round(&mut self, sub: &Subscriber, batch: &mut Vec<Received>, wait: i64) -> Result<usize> {
        fill_batch(
            sub,
            batch,
            &mut self.report.bad_envelope,
            &mut self.report.received,
            wait,
        )?;
        let n = batch.len();
        if n > 0 {
            self.forward(batch);
            batch.clear();
        }
        Ok(n)
    }

    fn snapshot(&mut self) -> ForwardReport {
        self.report.bus_gaps = self.gaps.missing;
        self.report.publishers = self.gaps.publishers();
        self.report.latency_ns = self.latency.percentiles();
        for (d, r) in self.report.destinations.iter_mut().zip(&self.routes) {
            d.set(r.routed, r.sink.stats());
        }
        self.report.clone()
    }
}

pub fn run(
    cfg: &Config,
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<ForwardReport>>>,
) -> Result<ForwardReport> {
    if cfg.bus.subscribe.is_empty() {
        bail!("nothing to subscribe to: give --subscribe ENDPOINT (or bus.subscribe)");
    }
    if cfg.forward.destination.is_empty() {
        bail!("no destination: give --to KIND=udp://HOST:PORT (or [[forward.destination]])");
    }
    let endpoints: Vec<String> = cfg.bus.subscribe.iter().map(|e| e.0.clone()).collect();
    let sub = Subscriber::connect(
        &endpoints,
        &prefixes(&cfg.forward.destination),
        cfg.bus.hwm.min(i32::MAX as u32) as i32,
    )?;
    let mut fwd = Forwarder {
        routes: open_routes(cfg)?,
        gaps: Gaps::default(),
        latency: Default::default(),
        stamps: Vec::with_capacity(BATCH),
        report: ForwardReport {
            role: "forward",
            destinations: cfg
                .forward
                .destination
                .iter()
                .map(|d| DestinationReport {
                    url: d.url.text.clone(),
                    kinds: d.kinds.iter().map(|k| k.to_string()).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    };
    tracing::info!(
        "forward: subscribed to {}; {} destination(s)",
        endpoints.join(", "),
        fwd.routes.len()
    );
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let mut batch: Vec<Received> = Vec::with_capacity(BATCH);
    let mut failure = None;
    while !stop.requested() && failure.is_none() {
        failure = fwd.round(&sub, &mut batch, IDLE_WAIT_MS).err();
        if reporter.due() {
            let snap = fwd.snapshot();
            reporter.report("forward", &snap);
        }
    }
    // What the bus already handed to this process is forwarded before exit, not lost.
    let drain_until = std::time::Instant::now() + DRAIN;
    while failure.is_none() && std::time::Instant::now() < drain_until {
        match fwd.round(&sub, &mut batch, 0) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => failure = Some(e),
        }
    }
    let report = fwd.snapshot();
    reporter.finish("forward", &report);
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Waits up to `wait` ms for the first message, then takes whatever else is queued, up to [`BATCH`].
fn fill_batch(
    sub: &Subscriber,
    batch: &mut Vec<Received>,
    bad: &mut u64,
    received: &mut u64,
    mut wait: i64,
) -> Result<()> {
    while batch.len() < BATCH {
        match sub.recv(wait)? {
            Recv::Message(m) => batch.push(m),
            Recv::Malformed => {
                *received += 1;
                *bad += 1;
            }
            Recv::Idle => break,
        }
        wait = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_to;

    #[test]
    fn gaps_count_missing_sequences() {
        let mut g = Gaps::default();
        for s in [5, 6, 9, 10] {
            g.see((1, 1, 7), s);
        }
        g.see((2, 1, 7), 100);
        // another kind or bucket of the same publisher is its own stream
        g.see((1, 3, 7), 0);
        g.see((1, 1, 8), 0);
        g.see((1, 1, 8), 1);
        assert_eq!(g.missing, 2);
        assert_eq!(g.publishers(), 2);
    }

    #[test]
    fn prefixes_cover_the_destinations() {
        let d = |s: &str| parse_to(s).unwrap();
        let p = prefixes(&[
            d("syslog=udp://127.0.0.1:1"),
            d("netflow=udp://127.0.0.1:2"),
            d("syslog=udp://127.0.0.1:3"),
        ]);
        assert_eq!(p, vec!["syslog/".to_owned(), "netflow-".to_owned()]);
        assert!(prefixes(&[d("all=udp://127.0.0.1:1"), d("sflow=udp://127.0.0.1:2")]).is_empty());
    }
}
