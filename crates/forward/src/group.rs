//! Destination groups: fan out to every member, or load-balance (round-robin, or by exporter). Members that
//! do not get a v9/IPFIX datagram still get its templates, and a member that comes back gets every template
//! its group has seen, so it can read what follows.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use wire::netflow::template::{Announcement, Template};
use wire::netflow::Protocol;

use config::{Group, GroupMode};

/// Exporter observation domains whose templates a group keeps, and templates kept per domain.
const MAX_TEMPLATE_SOURCES: usize = 4096;
const MAX_TEMPLATES_PER_SOURCE: usize = 512;
/// Templates per replayed datagram (a datagram stays far below 64 KiB).
const TEMPLATES_PER_DATAGRAM: usize = 16;

/// Template-only datagrams with the exporter address they are sent from.
pub type Templates = Vec<(SocketAddr, Vec<u8>)>;

/// Who gets a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Every,
    One(usize),
}

/// What a group knows of one exporter's observation domain: its current templates, and a header to send
/// them under.
struct Memory {
    src: SocketAddr,
    header: Vec<u8>,
    templates: BTreeMap<u16, Template>,
}

pub struct GroupState {
    pub members: Vec<usize>,
    mode: GroupMode,
    next: usize,
    /// Member reachability after the previous round, to see one come back.
    was_up: Vec<bool>,
    memory: HashMap<(IpAddr, u32, Protocol), Memory>,
}

impl GroupState {
    /// `members` are destination indexes, resolved from the names by the caller.
    pub fn new(g: &Group, members: Vec<usize>) -> Self {
        Self {
            was_up: vec![true; members.len()],
            members,
            mode: g.mode,
            next: 0,
            memory: HashMap::new(),
        }
    }

    /// A placeholder left where a group was moved out.
    pub fn empty() -> Self {
        Self {
            members: Vec::new(),
            mode: GroupMode::All,
            next: 0,
            was_up: Vec::new(),
            memory: HashMap::new(),
        }
    }

    /// After a reload: the same group (same members, same mode) keeps what it knew.
    pub fn adopt(&mut self, old: GroupState) {
        if old.members == self.members && old.mode == self.mode {
            (self.next, self.was_up, self.memory) = (old.next, old.was_up, old.memory);
        }
    }

    /// The member for this datagram; `up` tells whether a destination is reachable.
    pub fn pick(&mut self, exporter: IpAddr, up: &impl Fn(usize) -> bool) -> Pick {
        let n = self.members.len();
        let start = match self.mode {
            GroupMode::All => return Pick::Every,
            GroupMode::RoundRobin => {
                self.next = (self.next + 1) % n;
                self.next
            }
            GroupMode::Hash => (fnv(exporter) % n as u64) as usize,
        };
        // The chosen member, or the next one that is up (all down: the chosen one, which counts its losses).
        let live = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| up(self.members[i]));
        Pick::One(self.members[live.unwrap_or(start)])
    }

    /// Learns the templates (and withdrawals) of a v9/IPFIX datagram already cut to its template sets.
    pub fn remember(&mut self, src: SocketAddr, template_only: &[u8]) {
        let Ok((h, announced)) = wire::netflow::split::announcements(template_only) else {
            return;
        };
        let key = (src.ip(), h.domain, h.protocol);
        if self.memory.len() >= MAX_TEMPLATE_SOURCES && !self.memory.contains_key(&key) {
            return;
        }
        let head = if h.protocol == Protocol::V9 { 20 } else { 16 };
        let m = self.memory.entry(key).or_insert_with(|| Memory {
            src,
            header: Vec::new(),
            templates: BTreeMap::new(),
        });
        (m.src, m.header) = (src, template_only[..head.min(template_only.len())].to_vec());
        for a in announced {
            match a {
                Announcement::Define(t)
                    if m.templates.len() < MAX_TEMPLATES_PER_SOURCE
                        || m.templates.contains_key(&t.id) =>
                {
                    m.templates.insert(t.id, t);
                }
                Announcement::Define(_) => {}
                Announcement::Withdraw(id) => drop(m.templates.remove(&id)),
            }
        }
    }

    /// Members that were down and are up again: each gets every template the group knows.
    pub fn comebacks(&mut self, up: &impl Fn(usize) -> bool) -> Vec<(usize, Templates)> {
        let mut out = Vec::new();
        for (k, &m) in self.members.iter().enumerate() {
            let now = up(m);
            if now && !self.was_up[k] && !self.memory.is_empty() {
                out.push((m, self.replay()));
            }
            self.was_up[k] = now;
        }
        out
    }

    /// Every remembered template, as datagrams per exporter domain.
    fn replay(&self) -> Templates {
        let mut out = Vec::new();
        for ((_, _, protocol), m) in &self.memory {
            let all: Vec<&Template> = m.templates.values().collect();
            for chunk in all.chunks(TEMPLATES_PER_DATAGRAM) {
                if let Some(d) =
                    wire::netflow::split::templates_datagram(*protocol, &m.header, chunk)
                {
                    out.push((m.src, d));
                }
            }
        }
        out
    }
}

/// FNV-1a over the address bytes: stable across runs, so an exporter keeps its member.
fn fnv(a: IpAddr) -> u64 {
    let bytes = match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(mode: GroupMode) -> GroupState {
        let g = Group {
            name: "g".into(),
            members: vec![],
            mode,
        };
        GroupState::new(&g, vec![10, 11, 12])
    }

    #[test]
    fn round_robin_takes_turns_and_skips_members_that_are_down() {
        let mut g = group(GroupMode::RoundRobin);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let picks: Vec<_> = (0..6).map(|_| g.pick(a, &|_| true)).collect();
        assert_eq!(picks, [11, 12, 10, 11, 12, 10].map(Pick::One));
        let picks: Vec<_> = (0..3).map(|_| g.pick(a, &|m| m != 12)).collect();
        assert_eq!(
            picks,
            [11, 10, 10].map(Pick::One),
            "12 is down: its turns go to the next member"
        );
    }

    #[test]
    fn hash_keeps_an_exporter_on_one_member() {
        let mut g = group(GroupMode::Hash);
        let exporters: Vec<IpAddr> = (1..=50)
            .map(|i| format!("192.0.2.{i}").parse().unwrap())
            .collect();
        let first: Vec<_> = exporters.iter().map(|e| g.pick(*e, &|_| true)).collect();
        let again: Vec<_> = exporters.iter().map(|e| g.pick(*e, &|_| true)).collect();
        assert_eq!(first, again);
        for m in [10, 11, 12] {
            assert!(
                first.contains(&Pick::One(m)),
                "50 exporters spread over all members"
            );
        }
        // the member of the first exporter goes down: that exporter moves, the others whose member is up stay
        let Pick::One(gone) = first[0] else { panic!() };
        let moved: Vec<_> = exporters
            .iter()
            .map(|e| g.pick(*e, &|m| m != gone))
            .collect();
        assert_ne!(moved[0], first[0]);
        for (f, m) in first.iter().zip(&moved) {
            if *f != Pick::One(gone) {
                assert_eq!(f, m);
            }
        }
    }

    #[test]
    fn all_is_every_member_and_comebacks_get_every_template() {
        let mut g = group(GroupMode::All);
        assert_eq!(g.pick("192.0.2.1".parse().unwrap(), &|_| true), Pick::Every);
        let header = [0, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
        let src = "192.0.2.1:2055".parse().unwrap();
        // data template 256 in one datagram, options template 257 in another, then 256 again, changed
        let t256 = [&header[..], &[0, 0, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4]].concat();
        let t257 = [
            &header[..],
            &[0, 1, 0, 20, 1, 1, 0, 4, 0, 4, 0, 1, 0, 4, 0, 34, 0, 4, 0, 0],
        ]
        .concat();
        let t256b = [&header[..], &[0, 0, 0, 12, 1, 0, 0, 1, 0, 12, 0, 4]].concat();
        for t in [&t256, &t257, &t256b] {
            g.remember(src, t);
        }
        assert!(g.comebacks(&|m| m != 11).is_empty());
        let back = g.comebacks(&|_| true);
        assert_eq!(back.len(), 1);
        let (member, datagrams) = &back[0];
        assert_eq!((*member, datagrams.len()), (11, 1));
        let mut s = wire::netflow::Session::default();
        let mut seen = Vec::new();
        s.decode(src.ip(), 0, &datagrams[0].1, &mut |e| {
            if let wire::netflow::Event::Template(t) = e {
                seen.push((t.id, t.options, t.fields[0].id));
            }
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![(256, false, 12), (257, true, 1)],
            "the newest 256 and the options template"
        );
    }

    #[test]
    fn a_reloaded_group_keeps_what_it_knew_when_unchanged() {
        let header = [0, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
        let t = [&header[..], &[0, 0, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4]].concat();
        let mut old = group(GroupMode::Hash);
        old.remember("192.0.2.1:2055".parse().unwrap(), &t);
        let mut same = group(GroupMode::Hash);
        same.adopt(old);
        assert_eq!(same.replay().len(), 1);
        let mut old = group(GroupMode::Hash);
        old.remember("192.0.2.1:2055".parse().unwrap(), &t);
        let mut other = group(GroupMode::RoundRobin);
        other.adopt(old);
        assert!(other.replay().is_empty());
    }
}
