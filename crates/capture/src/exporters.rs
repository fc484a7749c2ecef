//! What each exporter sent, as capture saw it: datagrams per (exporter, kind), what became of them on the
//! bus, and the holes in the exporter's own sequence numbers — datagrams lost before capture (on the network
//! or in the kernel's receive queue). These are the first lines of the loss ledger.
//!
//! Sequence numbers are kept per exporter and observation domain, each in its protocol's unit:
//! - NetFlow v5: flows exported before this datagram, per (engine type, engine id); a datagram advances it
//!   by its record count. Missing numbers are flows.
//! - NetFlow v9 (RFC 3954 §5.1): export datagrams, per source id; advances by one.
//! - IPFIX (RFC 7011 §3.1): data records, per observation domain; a message advances it by the data records
//!   it holds, counted with the templates the exporter sent. A message with a set whose template is not
//!   known yet cannot be counted: the next one is taken as it comes (`unchecked`).
//! - sFlow v5: datagrams, per (agent address, sub-agent id); advances by one.
//!
//! A number up to [`LATE_WINDOW`] behind the expected one, while holes are open, is a late (reordered)
//! datagram: it fills a hole counted before. Any other step back, or a jump forward by [`RESET_JUMP`] or
//! more, is an exporter that restarted (or a second exporter behind one address): counted, and followed
//! from there.
//!
//! State is bounded whatever the traffic claims: at most `max_exporters` (exporter, kind) entries (datagrams
//! of others are counted as `untracked`) and [`MAX_DOMAINS`] domains per entry.

use std::collections::HashMap;
use std::net::IpAddr;

use wire::kind::Kind;
use wire::netflow::{self, Event};

/// A forward jump past this many numbers is a restart, not loss.
pub const RESET_JUMP: u32 = 1 << 24;
/// A number at most this far behind the expected one is a late datagram; further back, a restart.
pub const LATE_WINDOW: u32 = 1 << 16;
/// Observation domains followed per (exporter, kind).
pub const MAX_DOMAINS: usize = 64;

/// What became of a datagram offered to the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Published,
    /// Refused at the bus's high-water mark.
    Full,
    /// The bus failed to take it.
    Failed,
}

/// One (exporter, kind) as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterCounts {
    pub exporter: IpAddr,
    pub kind: Kind,
    pub bucket: u8,
    /// Datagrams offered to the bus.
    pub captured: u64,
    pub published: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    pub sequence: SequenceCounts,
}

/// The exporter's own numbering, summed over its domains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequenceCounts {
    /// Numbers skipped and not filled by a late datagram since, in [`sequence_unit`]s.
    pub missing: u64,
    /// Datagrams behind the expected number (reordered or repeated).
    pub late: u64,
    /// Restarts of the numbering (a jump too far either way).
    pub resets: u64,
    /// Datagrams whose place could not be checked: no sequence number readable, an IPFIX message with an
    /// unknown template (the one after it is not checked either), or a domain past [`MAX_DOMAINS`].
    pub unchecked: u64,
    /// Domains followed.
    pub domains: usize,
}

/// What one sequence number counts, per kind (`None`: the kind has none).
pub fn sequence_unit(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::NetflowV5 => Some("flows"),
        Kind::NetflowV9 | Kind::Sflow => Some("datagrams"),
        Kind::Ipfix => Some("records"),
        Kind::Syslog | Kind::Snmptrap => None,
    }
}

/// Where a datagram sits in its exporter's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    /// The domain (engine, source id, observation domain, sub-agent) and, for sFlow, the agent address.
    domain: (u32, Option<IpAddr>),
    sequence: u32,
    /// How far this datagram moves the numbering; `None` when it cannot be told.
    advance: Option<u32>,
}

/// One domain's numbering.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// The number the next datagram should carry; `None` before the first or after an uncountable one.
    next: Option<u32>,
    /// Numbers skipped and not filled since: only a datagram that can fill one is taken for a late one.
    holes: u64,
}

impl Track {
    fn see(&mut self, place: &Place, c: &mut SequenceCounts) {
        if let Some(next) = self.next {
            let ahead = place.sequence.wrapping_sub(next);
            let behind = next.wrapping_sub(place.sequence);
            if ahead != 0 && ahead < RESET_JUMP {
                c.missing += u64::from(ahead);
                self.holes += u64::from(ahead);
            } else if behind != 0 && behind <= LATE_WINDOW && self.holes > 0 {
                let filled = u64::from(place.advance.unwrap_or(0)).min(self.holes);
                c.late += 1;
                c.missing -= filled;
                self.holes -= filled;
                return;
            } else if ahead != 0 {
                c.resets += 1;
                self.holes = 0;
            }
        }
        if place.advance.is_none() {
            c.unchecked += 1;
        }
        self.next = place.advance.map(|a| place.sequence.wrapping_add(a));
    }
}

struct Entry {
    bucket: u8,
    captured: u64,
    published: u64,
    hwm_dropped: u64,
    bus_failed: u64,
    sequence: SequenceCounts,
    domains: Vec<((u32, Option<IpAddr>), Track)>,
}

impl Entry {
    fn new(bucket: u8) -> Self {
        Self {
            bucket,
            captured: 0,
            published: 0,
            hwm_dropped: 0,
            bus_failed: 0,
            sequence: SequenceCounts::default(),
            domains: Vec::new(),
        }
    }

    fn place(&mut self, place: Option<Place>) {
        let Some(place) = place else {
            self.sequence.unchecked += 1;
            return;
        };
        let at = self.domains.iter().position(|(d, _)| *d == place.domain);
        let track = match at {
            Some(i) => &mut self.domains[i].1,
            None if self.domains.len() < MAX_DOMAINS => {
                self.domains.push((place.domain, Track::default()));
                &mut self.domains.last_mut().expect("just pushed").1
            }
            None => {
                self.sequence.unchecked += 1;
                return;
            }
        };
        track.see(&place, &mut self.sequence);
    }
}

/// The per-exporter table.
pub struct Exporters {
    entries: HashMap<(IpAddr, Kind), Entry>,
    max_exporters: usize,
    /// Datagrams of (exporter, kind) pairs past `max_exporters`.
    untracked: u64,
    /// Templates, to count an IPFIX message's data records.
    ipfix: netflow::Session,
}

impl Exporters {
    pub fn new(max_exporters: usize) -> Self {
        Self {
            entries: HashMap::new(),
            max_exporters,
            untracked: 0,
            ipfix: netflow::Session::new(netflow::cache::Limits::default()),
        }
    }

    /// Counts a datagram of `kind` from `exporter` offered to the bus in `bucket`, and checks its place in
    /// the exporter's numbering. `now` (seconds, capture time) ages IPFIX templates.
    pub fn offered(
        &mut self,
        exporter: IpAddr,
        kind: Kind,
        bucket: u8,
        payload: &[u8],
        now: u64,
        offer: Offer,
    ) {
        let full = self.entries.len() >= self.max_exporters;
        let entry = match self.entries.get_mut(&(exporter, kind)) {
            Some(e) => e,
            None if full => {
                self.untracked += 1;
                return;
            }
            None => self
                .entries
                .entry((exporter, kind))
                .or_insert_with(|| Entry::new(bucket)),
        };
        entry.captured += 1;
        match offer {
            Offer::Published => entry.published += 1,
            Offer::Full => entry.hwm_dropped += 1,
            Offer::Failed => entry.bus_failed += 1,
        }
        if sequence_unit(kind).is_some() {
            entry.place(place(kind, exporter, payload, now, &mut self.ipfix));
        }
    }

    /// Datagrams of exporters past the table's bound.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Every (exporter, kind), in order.
    pub fn counts(&self) -> Vec<ExporterCounts> {
        let mut out: Vec<ExporterCounts> = self
            .entries
            .iter()
            .map(|(&(exporter, kind), e)| ExporterCounts {
                exporter,
                kind,
                bucket: e.bucket,
                captured: e.captured,
                published: e.published,
                hwm_dropped: e.hwm_dropped,
                bus_failed: e.bus_failed,
                sequence: SequenceCounts {
                    domains: e.domains.len(),
                    ..e.sequence
                },
            })
            .collect();
        out.sort_unstable_by_key(|c| (c.exporter, c.kind));
        out
    }
}

/// Reads a datagram's place in its exporter's numbering; `None` when it has none readable.
fn place(
    kind: Kind,
    exporter: IpAddr,
    p: &[u8],
    now: u64,
    ipfix: &mut netflow::Session,
) -> Option<Place> {
    match kind {
        Kind::NetflowV5 => {
            let h = netflow::v5::Packet::parse(p).ok()?.header;
            Some(Place {
                domain: (u32::from(h.engine_type) << 8 | u32::from(h.engine_id), None),
                sequence: h.sequence,
                advance: Some(u32::from(h.count)),
            })
        }
        Kind::NetflowV9 => {
            let (h, _) = netflow::header(p).ok()?;
            Some(Place {
                domain: (h.domain, None),
                sequence: h.sequence,
                advance: Some(1),
            })
        }
        Kind::Ipfix => ipfix_place(exporter, p, now, ipfix),
        Kind::Sflow => {
            let d = wire::sflow::parse(p).ok()?;
            Some(Place {
                domain: (d.sub_agent_id, Some(d.agent)),
                sequence: d.sequence,
                advance: Some(1),
            })
        }
        Kind::Syslog | Kind::Snmptrap => None,
    }
}

/// An IPFIX message's place: its data records counted with the templates it and earlier ones carried.
fn ipfix_place(
    exporter: IpAddr,
    p: &[u8],
    now: u64,
    session: &mut netflow::Session,
) -> Option<Place> {
    let (mut records, mut countable) = (0u32, true);
    let h = session
        .decode(exporter, now, p, &mut |e| match e {
            Event::Flow(_) | Event::Options(_) => records += 1,
            Event::NoTemplate { .. } | Event::BadSet(_) => countable = false,
            Event::Template(_) => {}
        })
        .ok()?;
    if h.protocol != netflow::Protocol::Ipfix {
        return None;
    }
    Some(Place {
        domain: (h.domain, None),
        sequence: h.sequence,
        advance: countable.then_some(records),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "192.0.2.1";

    fn v5(sequence: u32, count: u16, engine: u8) -> Vec<u8> {
        let mut p = vec![0u8; 24 + 48 * usize::from(count)];
        p[0..2].copy_from_slice(&5u16.to_be_bytes());
        p[2..4].copy_from_slice(&count.to_be_bytes());
        p[16..20].copy_from_slice(&sequence.to_be_bytes());
        p[21] = engine;
        p
    }

    fn v9(sequence: u32, source_id: u32) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0..2].copy_from_slice(&9u16.to_be_bytes());
        p[12..16].copy_from_slice(&sequence.to_be_bytes());
        p[16..20].copy_from_slice(&source_id.to_be_bytes());
        p
    }

    /// An IPFIX message with a template (id 256, one 4-byte field) when `template`, then `records` records.
    fn ipfix(sequence: u32, template: bool, records: u16) -> Vec<u8> {
        let mut sets = Vec::new();
        if template {
            // set 2, length 12: template 256, one field: IE 8 (sourceIPv4Address), 4 bytes
            sets.extend_from_slice(&[0, 2, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4]);
        }
        if records > 0 {
            sets.extend_from_slice(&256u16.to_be_bytes());
            sets.extend_from_slice(&(4 + 4 * records).to_be_bytes());
            sets.extend(std::iter::repeat_n([10, 0, 0, 1], usize::from(records)).flatten());
        }
        let mut p = vec![0, 10];
        p.extend_from_slice(&(16 + sets.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(&sequence.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend(sets);
        p
    }

    fn run(kind: Kind, datagrams: &[Vec<u8>]) -> ExporterCounts {
        let mut t = Exporters::new(10);
        for d in datagrams {
            t.offered(A.parse().unwrap(), kind, 3, d, 0, Offer::Published);
        }
        t.counts().remove(0)
    }

    #[test]
    fn v5_counts_missing_flows_per_engine() {
        // engine 1: 0 (+10), 10 (+10), then 30: 10 flows missing; engine 2 on its own from 500
        let c = run(
            Kind::NetflowV5,
            &[
                v5(0, 10, 1),
                v5(10, 10, 1),
                v5(500, 2, 2),
                v5(30, 5, 1),
                v5(502, 1, 2),
            ],
        );
        assert_eq!(c.sequence.missing, 10);
        assert_eq!(c.sequence.domains, 2);
        assert_eq!((c.captured, c.published), (5, 5));
    }

    #[test]
    fn a_late_datagram_fills_its_hole_and_a_restart_is_not_loss() {
        let c = run(Kind::NetflowV9, &[v9(5, 0), v9(7, 0), v9(6, 0), v9(8, 0)]);
        assert_eq!((c.sequence.missing, c.sequence.late), (0, 1));
        let c = run(
            Kind::NetflowV9,
            &[v9(1000, 0), v9(1001, 0), v9(0, 0), v9(1, 0)],
        );
        assert_eq!((c.sequence.missing, c.sequence.resets), (0, 1));
        let c = run(Kind::NetflowV9, &[v9(u32::MAX, 0), v9(0, 0), v9(2, 0)]);
        assert_eq!((c.sequence.missing, c.sequence.resets), (1, 0), "wraps");
    }

    #[test]
    fn ipfix_counts_data_records_with_the_templates_sent() {
        // 0: template + 3 records; 3: 2 records; 5 expected, 9 arrives: 4 records missing
        let c = run(
            Kind::Ipfix,
            &[
                ipfix(0, true, 3),
                ipfix(3, false, 2),
                ipfix(9, false, 1),
                ipfix(10, false, 0),
            ],
        );
        assert_eq!((c.sequence.missing, c.sequence.unchecked), (4, 0));
        // records before their template cannot be counted: the next message is not checked
        let c = run(
            Kind::Ipfix,
            &[
                ipfix(0, false, 3),
                ipfix(100, true, 1),
                ipfix(101, false, 1),
            ],
        );
        assert_eq!((c.sequence.missing, c.sequence.unchecked), (0, 1));
    }

    #[test]
    fn sflow_follows_each_agent_and_sub_agent() {
        let sflow = |agent: [u8; 4], sub: u32, seq: u32| {
            let mut p = Vec::new();
            for w in [5u32, 1] {
                p.extend_from_slice(&w.to_be_bytes());
            }
            p.extend_from_slice(&agent);
            for w in [sub, seq, 0, 0] {
                p.extend_from_slice(&w.to_be_bytes());
            }
            p
        };
        let c = run(
            Kind::Sflow,
            &[
                sflow([10, 0, 0, 1], 0, 1),
                sflow([10, 0, 0, 1], 1, 50),
                sflow([10, 0, 0, 2], 0, 9),
                sflow([10, 0, 0, 1], 0, 4),
                sflow([10, 0, 0, 1], 1, 51),
            ],
        );
        assert_eq!((c.sequence.missing, c.sequence.domains), (2, 3));
    }

    #[test]
    fn the_table_is_bounded_and_counts_what_it_cannot_hold() {
        let mut t = Exporters::new(2);
        for (i, offer) in [
            Offer::Published,
            Offer::Full,
            Offer::Failed,
            Offer::Published,
        ]
        .into_iter()
        .enumerate()
        {
            let a = IpAddr::from([192, 0, 2, i as u8]);
            t.offered(a, Kind::Syslog, 0, b"<13>x", 0, offer);
            t.offered(a, Kind::Syslog, 0, b"<13>x", 0, offer);
        }
        assert_eq!(t.untracked(), 4);
        let c = t.counts();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].published, c[1].hwm_dropped), (2, 2));
        assert_eq!(
            c[0].sequence,
            SequenceCounts::default(),
            "syslog has no numbering"
        );
    }

    #[test]
    fn unreadable_and_excess_domains_are_unchecked() {
        let mut datagrams: Vec<Vec<u8>> = (0..MAX_DOMAINS as u32 + 3).map(|d| v9(0, d)).collect();
        datagrams.push(b"\x00\x09short".to_vec());
        let c = run(Kind::NetflowV9, &datagrams);
        assert_eq!((c.sequence.unchecked, c.sequence.domains), (4, MAX_DOMAINS));
    }
}
