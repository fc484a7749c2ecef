//! The loss ledger: "who lost it?", from the stats files the roles write. It sets each stage's count of what
//! it passed on against the next stage's count of what it got, per publisher's stream (kind and bucket of
//! one capture), and names every difference with its stage:
//!
//! 1. **before capture**: holes in the exporters' own sequence numbers (the network, or a kernel queue);
//! 2. **capture**: libpcap's and the kernel's drops, fragments never reassembled, the bus refusing a
//!    datagram at its high-water mark (`hwm_dropped`) or failing (`bus_failed`);
//! 3. **proxy**: a subscriber's full queue behind it (`dropped_full`);
//! 4. **subscribers**: per group of subscribers (one role's shards), what capture offered to the bus of the
//!    streams the group takes, less what capture and the proxies dropped, less what the group's reports say
//!    arrived — datagrams lost while a subscriber was down or reconnecting, or in its queue when it stopped;
//! 5. **destinations**: what forward could not hand to each destination.
//!
//! The reports must be final (roles stopped, or traffic over for a stats interval): a count read in the
//! middle of a run sets one stage's later figure against another's earlier one.
//!
//! Assumptions, stated in the output's notes where they matter: every subscriber report given sits behind
//! every proxy report given (pass one path at a time); a group's shards together take every bucket; all
//! reports of one shard's incarnations are given (each restart writes a report of its own).

pub mod input;
mod render;

use std::collections::{BTreeMap, BTreeSet};

use envelope::KindSelector;
use serde::Serialize;
use wire::kind::Kind;

pub use input::Report;
use input::{CaptureIn, DestinationIn, ProxyIn, SubscriberIn};

/// A publisher's stream: (publisher id, kind name, bucket).
type Stream = (String, String, u8);

/// The ledger of a set of reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ledger {
    /// Per exporter with a numbering: the holes in it.
    pub before_capture: Vec<ExporterGap>,
    pub captures: Vec<CaptureLoss>,
    pub proxies: Vec<ProxyLoss>,
    pub groups: Vec<GroupLoss>,
    pub destinations: Vec<DestinationLoss>,
    /// What the reader should know about these figures.
    pub notes: Vec<String>,
}

/// One exporter's holes, in its protocol's unit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExporterGap {
    pub exporter: String,
    pub kind: String,
    pub unit: String,
    pub missing: u64,
    pub late: u64,
    pub resets: u64,
    pub unchecked: u64,
}

/// What one capture lost, in datagrams (fragments for reassembly).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CaptureLoss {
    pub publisher: String,
    pub captured: u64,
    pub pcap_dropped: u64,
    pub pcap_if_dropped: u64,
    /// The kernel's drops at full listener sockets.
    pub listener_dropped: u64,
    pub fragments_expired: u64,
    pub fragments_dropped: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    /// Per exporter that lost any at the bus.
    pub exporters: Vec<ExporterLoss>,
}

/// Datagrams of one exporter (or of a bucket shared by several) lost at one stage.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExporterLoss {
    /// The exporters of the stream (one, unless several share a bucket).
    pub exporters: Vec<String>,
    pub kind: String,
    pub lost: i64,
}

/// What one proxy dropped.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProxyLoss {
    pub received: u64,
    pub dropped_full: u64,
    /// Per stream that lost any, named by its exporters.
    pub exporters: Vec<ExporterLoss>,
}

/// One group of subscribers: the reports of one role with one shard count.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupLoss {
    pub role: String,
    pub shards: u32,
    pub reports: usize,
    /// The kinds the group takes.
    pub kinds: Vec<String>,
    /// Datagrams of those kinds capture offered to the bus.
    pub offered: u64,
    /// Of them, dropped by capture and by the proxies.
    pub capture_dropped: u64,
    pub proxy_dropped: u64,
    /// What reached the subscribers' side of the bus: offered less both drops.
    pub on_bus: u64,
    pub received: u64,
    /// `offered - capture_dropped - proxy_dropped - received`: lost on the way to this group's subscribers
    /// (negative when reports were not taken at the same moment).
    pub lost: i64,
    pub per_shard: Vec<ShardLoss>,
    /// Per stream that lost any, named by its exporters.
    pub exporters: Vec<ExporterLoss>,
}

/// One shard of a group.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShardLoss {
    pub shard: String,
    /// Reports of this shard (a restart writes one more).
    pub reports: usize,
    /// What reached the bus for it: offered less what capture and the proxies dropped.
    pub expected: u64,
    pub received: u64,
    pub lost: i64,
}

/// What forward could not hand to one destination (summed over the shards).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DestinationLoss {
    pub name: String,
    pub url: String,
    pub forwarded: u64,
    /// Each non-zero loss counter by name.
    pub lost: BTreeMap<String, u64>,
}

/// Per stream: offered, dropped at capture, dropped at proxies; with the exporters in it.
#[derive(Default)]
struct StreamFlow {
    offered: u64,
    capture_dropped: u64,
    proxy_dropped: u64,
    exporters: BTreeSet<String>,
}

impl StreamFlow {
    /// What reached the subscribers' side of the bus.
    fn passed(&self) -> u64 {
        self.offered
            .saturating_sub(self.capture_dropped + self.proxy_dropped)
    }
}

impl Ledger {
    /// The ledger of `reports` (stats files of any roles, in any order).
    pub fn of(reports: &[Report]) -> Self {
        let (mut captures, mut proxies, mut subscribers) = (Vec::new(), Vec::new(), Vec::new());
        for r in reports {
            match r {
                Report::Capture(c) => captures.push(c),
                Report::Proxy(p) => proxies.push(p),
                Report::Subscriber(s) => subscribers.push(s),
            }
        }
        let streams = stream_flows(&captures, &proxies);
        let mut ledger = Ledger {
            before_capture: captures.iter().flat_map(|c| exporter_gaps(c)).collect(),
            captures: captures.iter().map(|c| capture_loss(c)).collect(),
            proxies: proxies.iter().map(|p| proxy_loss(p, &streams)).collect(),
            groups: Vec::new(),
            destinations: destination_losses(&subscribers),
            notes: Vec::new(),
        };
        let publishers: BTreeSet<&str> = captures.iter().map(|c| c.publisher.as_str()).collect();
        let unknown: BTreeSet<&str> = subscribers
            .iter()
            .flat_map(|s| &s.streams)
            .map(|s| s.publisher.as_str())
            .filter(|p| !publishers.contains(p))
            .collect();
        for p in unknown {
            ledger.notes.push(format!(
                "publisher {p}: subscribers got its datagrams but no capture report of it was given"
            ));
        }
        for ((role, shards), members) in groups(&subscribers) {
            ledger.groups.push(group_loss(
                &role,
                shards,
                &members,
                &streams,
                &mut ledger.notes,
            ));
        }
        if !proxies.is_empty() && !ledger.groups.is_empty() {
            ledger.notes.push(
                "every subscriber report is taken to sit behind every proxy report given".into(),
            );
        }
        for c in &captures {
            if c.exporters_untracked > 0 {
                ledger.notes.push(format!(
                    "capture {}: {} datagrams of exporters past its table's bound are not in the per-stream figures",
                    c.publisher, c.exporters_untracked
                ));
            }
        }
        ledger
    }

    /// The ledger as text for people.
    pub fn render(&self) -> String {
        render::text(self)
    }
}

/// Per stream, over every capture and proxy.
fn stream_flows(captures: &[&CaptureIn], proxies: &[&ProxyIn]) -> BTreeMap<Stream, StreamFlow> {
    let mut flows: BTreeMap<Stream, StreamFlow> = BTreeMap::new();
    for c in captures {
        for e in &c.exporters {
            let f = flows
                .entry((c.publisher.clone(), e.kind.clone(), e.bucket))
                .or_default();
            f.offered += e.captured;
            f.capture_dropped += e.hwm_dropped + e.bus_failed;
            f.exporters.insert(e.exporter.clone());
        }
    }
    for p in proxies {
        for d in &p.dropped_streams {
            let f = flows
                .entry((d.publisher.clone(), d.kind.clone(), d.bucket))
                .or_default();
            f.proxy_dropped += d.dropped;
        }
    }
    flows
}

fn exporter_gaps(c: &CaptureIn) -> Vec<ExporterGap> {
    c.exporters
        .iter()
        .filter_map(|e| {
            let q = e.sequence.as_ref()?;
            Some(ExporterGap {
                exporter: e.exporter.clone(),
                kind: e.kind.clone(),
                unit: q.unit.clone(),
                missing: q.missing,
                late: q.late,
                resets: q.resets,
                unchecked: q.unchecked,
            })
        })
        .collect()
}

fn capture_loss(c: &CaptureIn) -> CaptureLoss {
    CaptureLoss {
        publisher: c.publisher.clone(),
        captured: c.captured_total,
        pcap_dropped: c.pcap_dropped,
        pcap_if_dropped: c.pcap_if_dropped,
        listener_dropped: c.listener_dropped,
        fragments_expired: c.fragments_expired,
        fragments_dropped: c.fragments_dropped,
        hwm_dropped: c.hwm_dropped,
        bus_failed: c.bus_failed,
        exporters: c
            .exporters
            .iter()
            .filter(|e| e.hwm_dropped + e.bus_failed > 0)
            .map(|e| ExporterLoss {
                exporters: vec![e.exporter.clone()],
                kind: e.kind.clone(),
                lost: (e.hwm_dropped + e.bus_failed) as i64,
            })
            .collect(),
    }
}

fn proxy_loss(p: &ProxyIn, streams: &BTreeMap<Stream, StreamFlow>) -> ProxyLoss {
    let exporters = p
        .dropped_streams
        .iter()
        .map(|d| {
            let stream = (d.publisher.clone(), d.kind.clone(), d.bucket);
            ExporterLoss {
                exporters: streams
                    .get(&stream)
                    .map(|f| f.exporters.iter().cloned().collect())
                    .unwrap_or_default(),
                kind: d.kind.clone(),
                lost: d.dropped as i64,
            }
        })
        .collect();
    ProxyLoss {
        received: p.received,
        dropped_full: p.dropped_full,
        exporters,
    }
}

/// Subscriber reports grouped by (role, shard count).
fn groups<'a>(subscribers: &[&'a SubscriberIn]) -> BTreeMap<(String, u32), Vec<&'a SubscriberIn>> {
    let mut out: BTreeMap<(String, u32), Vec<&SubscriberIn>> = BTreeMap::new();
    for s in subscribers {
        let shards = s.shard.unwrap_or_default().count();
        out.entry((s.role.clone(), shards)).or_default().push(s);
    }
    out
}

/// Whether a group taking `kinds` takes datagrams of `kind`.
fn takes(kinds: &[String], kind: &str) -> bool {
    let kind = kind.parse::<Kind>().ok();
    kinds.is_empty()
        || kinds
            .iter()
            .filter_map(|k| k.parse::<KindSelector>().ok())
            .any(|k| k.matches(kind))
}

fn group_loss(
    role: &str,
    shards: u32,
    members: &[&SubscriberIn],
    streams: &BTreeMap<Stream, StreamFlow>,
    notes: &mut Vec<String>,
) -> GroupLoss {
    let kinds: BTreeSet<String> = members
        .iter()
        .flat_map(|m| m.kinds.iter().cloned())
        .collect();
    let kinds: Vec<String> = kinds.into_iter().collect();
    let mut received: BTreeMap<Stream, u64> = BTreeMap::new();
    let mut reports_per_shard = vec![0usize; shards as usize];
    for m in members {
        reports_per_shard[m.shard.unwrap_or_default().index() as usize] += 1;
        for s in &m.streams {
            *received
                .entry((s.publisher.clone(), s.kind.clone(), s.bucket))
                .or_default() += s.received;
        }
    }
    let mut g = GroupLoss {
        role: role.to_owned(),
        shards,
        reports: members.len(),
        kinds: kinds.clone(),
        offered: 0,
        capture_dropped: 0,
        proxy_dropped: 0,
        on_bus: 0,
        received: 0,
        lost: 0,
        per_shard: (0..shards)
            .map(|i| ShardLoss {
                shard: format!("{i}/{shards}"),
                reports: reports_per_shard[i as usize],
                expected: 0,
                received: 0,
                lost: 0,
            })
            .collect(),
        exporters: Vec::new(),
    };
    let taken = streams
        .keys()
        .chain(received.keys())
        .collect::<BTreeSet<_>>();
    for stream in taken.into_iter().filter(|s| takes(&kinds, &s.1)) {
        let none = StreamFlow::default();
        let flow = streams.get(stream).unwrap_or(&none);
        let got = received.get(stream).copied().unwrap_or(0);
        let lost = flow.passed() as i64 - got as i64;
        g.offered += flow.offered;
        g.capture_dropped += flow.capture_dropped;
        g.proxy_dropped += flow.proxy_dropped;
        g.on_bus += flow.passed();
        g.received += got;
        g.lost += lost;
        let shard = &mut g.per_shard[usize::from(stream.2) % shards as usize];
        shard.expected += flow.passed();
        shard.received += got;
        shard.lost += lost;
        if lost != 0 {
            g.exporters.push(ExporterLoss {
                exporters: flow.exporters.iter().cloned().collect(),
                kind: stream.1.clone(),
                lost,
            });
        }
    }
    for s in g.per_shard.iter().filter(|s| s.reports == 0) {
        notes.push(format!(
            "{role} shard {}: no report given, so all it should have got counts as lost",
            s.shard
        ));
    }
    if g.lost < 0 {
        notes.push(format!(
            "{role}: more received than offered: the reports were not taken at the same moment"
        ));
    }
    g
}

/// Per destination (name and URL), summed over every forward report.
fn destination_losses(subscribers: &[&SubscriberIn]) -> Vec<DestinationLoss> {
    let mut out: BTreeMap<(String, String), DestinationLoss> = BTreeMap::new();
    for d in subscribers.iter().flat_map(|s| &s.destinations) {
        let entry = out
            .entry((d.name.clone(), d.url.clone()))
            .or_insert_with(|| DestinationLoss {
                name: d.name.clone(),
                url: d.url.clone(),
                forwarded: 0,
                lost: BTreeMap::new(),
            });
        entry.forwarded += d.forwarded;
        for (name, n) in destination_counters(d) {
            if n > 0 {
                *entry.lost.entry(name.to_owned()).or_default() += n;
            }
        }
    }
    out.into_values().collect()
}

/// A destination's loss counters by name.
fn destination_counters(d: &DestinationIn) -> [(&'static str, u64); 7] {
    [
        ("refused", d.refused),
        ("dropped_full", d.dropped_full),
        ("failed", d.failed),
        ("wrong_kind", d.wrong_kind),
        ("wrong_family", d.wrong_family),
        ("dropped_at_exit", d.dropped_at_exit),
        ("informs_given_up", d.informs_given_up),
    ]
}

#[cfg(test)]
mod tests;
