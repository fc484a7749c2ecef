//! Destination groups: fan out to every member, or load-balance (round-robin, or by exporter). Members that
//! do not get a v9/IPFIX datagram still get its templates, and a member that comes back gets every template
//! its group has seen, so it can read what follows.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::config::{Group, GroupMode};

/// Template-only datagrams kept per group for replays: one per (exporter, domain, version).
const MAX_TEMPLATE_SOURCES: usize = 4096;

/// Template-only datagrams with the exporter address they are sent from.
pub type Templates = Vec<(SocketAddr, Vec<u8>)>;

/// Who gets a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Every,
    One(usize),
}

pub struct GroupState {
    pub members: Vec<usize>,
    mode: GroupMode,
    next: usize,
    /// Member reachability after the previous round, to see one come back.
    was_up: Vec<bool>,
    templates: HashMap<(IpAddr, u32, u16), (SocketAddr, Vec<u8>)>,
}

impl GroupState {
    /// `members` are destination indexes, resolved from the names by the caller.
    pub fn new(g: &Group, members: Vec<usize>) -> Self {
        Self {
            was_up: vec![true; members.len()],
            members,
            mode: g.mode,
            next: 0,
            templates: HashMap::new(),
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

    /// Keeps the templates of a v9/IPFIX datagram (already cut to templates only) for later replays.
    pub fn remember(&mut self, src: SocketAddr, template_only: &[u8]) {
        let Ok((h, _)) = wire::netflow::header(template_only) else {
            return;
        };
        let version = if h.protocol == wire::netflow::Protocol::V9 {
            9
        } else {
            10
        };
        let key = (src.ip(), h.domain, version);
        if self.templates.len() >= MAX_TEMPLATE_SOURCES && !self.templates.contains_key(&key) {
            return;
        }
        self.templates.insert(key, (src, template_only.to_vec()));
    }

    /// Members that were down and are up again: each gets every remembered template.
    pub fn comebacks(&mut self, up: &impl Fn(usize) -> bool) -> Vec<(usize, Templates)> {
        let mut out = Vec::new();
        for (k, &m) in self.members.iter().enumerate() {
            let now = up(m);
            if now && !self.was_up[k] && !self.templates.is_empty() {
                out.push((m, self.templates.values().cloned().collect()));
            }
            self.was_up[k] = now;
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
    fn all_is_every_member_and_comebacks_get_the_templates() {
        let mut g = group(GroupMode::All);
        assert_eq!(g.pick("192.0.2.1".parse().unwrap(), &|_| true), Pick::Every);
        let t = [
            0, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 8, 1, 0, 0, 0,
        ];
        g.remember("192.0.2.1:2055".parse().unwrap(), &t);
        assert!(g.comebacks(&|m| m != 11).is_empty());
        let back = g.comebacks(&|_| true);
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].0, back[0].1[0].1.clone()), (11, t.to_vec()));
    }
}
