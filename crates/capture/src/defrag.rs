//! Bounded IP reassembly for IPv4 and IPv6.
//!
//! Fragments are held per (source, destination, protocol, identification). The table is capped in bytes and
//! in datagrams: past a cap the oldest pending datagram is evicted. A datagram still incomplete after the
//! timeout expires. Overlapping fragments drop the whole datagram (RFC 5722 for IPv6; the same rule for IPv4,
//! where overlaps are only ever seen in evasion attempts). Every dropped datagram is counted with a reason.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use wire::ip::Fragment;

/// Largest payload an IP packet can reassemble to (no jumbograms).
const MAX_REASSEMBLED: usize = 65535;
/// Bytes charged per held fragment on top of its data (its allocation and bookkeeping), so that a flood of
/// tiny fragments is capped too.
const PART_OVERHEAD: usize = 64;
/// Fragments per datagram at most: 65 535 bytes over the smallest IPv6 MTU (1280) is 52; more is an attack.
const MAX_PARTS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// Bytes of fragment data held at most.
    pub max_bytes: usize,
    /// Pending datagrams held at most.
    pub max_datagrams: usize,
    /// Nanoseconds a datagram may stay incomplete.
    pub timeout_ns: u64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self {
            max_bytes: 32 << 20,
            max_datagrams: 8192,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Counters, owned by the reassembler and read by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub expired: u64,
    /// Datagrams dropped: overlapping, inconsistent, too large, or evicted by a cap.
    pub dropped: u64,
    /// Bytes held now (fragment data plus a fixed overhead per fragment).
    pub held_bytes: u64,
    /// The most bytes ever held (stays within `max_bytes`).
    pub peak_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

struct Pending {
    born_ns: u64,
    /// (offset, data), unordered.
    parts: Vec<(usize, Vec<u8>)>,
    /// Total payload length, once the last fragment is seen.
    total: Option<usize>,
    /// Payload bytes held.
    bytes: usize,
    /// What this datagram counts against `max_bytes` (payload plus per-fragment overhead).
    charged: usize,
    /// Upper-layer protocol from the first fragment (IPv6: the fragment header's next header at offset 0).
    protocol: u8,
}

/// What a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reassembly<'a> {
    Incomplete,
    /// The whole payload (for IPv4 the UDP segment; for IPv6 what follows the fragment header) and its
    /// upper-layer protocol.
    Complete {
        protocol: u8,
        payload: &'a [u8],
    },
    /// The datagram this fragment belonged to was dropped (counted).
    Dropped,
}

pub struct Reassembler {
    config: DefragConfig,
    pending: HashMap<Key, Pending>,
    /// Keys in arrival order with their birth time, for expiry and eviction.
    order: VecDeque<(u64, Key)>,
    scratch: Vec<u8>,
    stats: DefragStats,
}

impl Reassembler {
    pub fn new(config: DefragConfig) -> Self {
        Self {
            config,
            pending: HashMap::new(),
            order: VecDeque::new(),
            scratch: Vec::with_capacity(MAX_REASSEMBLED),
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Adds one fragment seen at `now_ns`.
    pub fn push(
        &mut self,
        now_ns: u64,
        src: IpAddr,
        dst: IpAddr,
        frag: &Fragment<'_>,
    ) -> Reassembly<'_> {
        self.stats.fragments += 1;
        self.expire(now_ns);
        let key = Key {
            src,
            dst,
            id: frag.id,
            protocol: if src.is_ipv4() { frag.protocol } else { 0 },
        };
        if !self.fragment_is_sane(frag) {
            self.drop_key(&key);
            return Reassembly::Dropped;
        }
        self.make_room(frag.data.len() + PART_OVERHEAD);
        if !self.pending.contains_key(&key) {
            self.order.push_back((now_ns, key));
            self.pending.insert(key, new_pending(now_ns));
            self.compact_order();
        }
        match self.add_part(&key, frag) {
            Err(()) => {
                self.drop_key(&key);
                Reassembly::Dropped
            }
            Ok(false) => Reassembly::Incomplete,
            Ok(true) => self.complete(&key),
        }
    }

    fn fragment_is_sane(&self, f: &Fragment<'_>) -> bool {
        let end = f.offset + f.data.len();
        let aligned = !f.more || f.data.len().is_multiple_of(8);
        end <= MAX_REASSEMBLED && aligned && !(f.more && f.data.is_empty())
    }

    /// Stores the part; Ok(true) when the datagram is now complete, Err on overlap or inconsistency.
    fn add_part(&mut self, key: &Key, f: &Fragment<'_>) -> Result<bool, ()> {
        let p = self.pending.get_mut(key).ok_or(())?;
        if p.parts.len() >= MAX_PARTS {
            return Err(());
        }
        let end = f.offset + f.data.len();
        if p.parts
            .iter()
            .any(|(o, d)| *o == f.offset && d.as_slice() == f.data)
        {
            return Ok(false); // the same fragment captured twice
        }
        if p.parts
            .iter()
            .any(|(o, d)| f.offset < o + d.len() && *o < end)
        {
            return Err(());
        }
        if !f.more {
            if p.total.is_some_and(|t| t != end) || p.parts.iter().any(|(o, d)| o + d.len() > end) {
                return Err(());
            }
            p.total = Some(end);
        } else if p.total.is_some_and(|t| end > t) {
            return Err(());
        }
        if f.offset == 0 {
            p.protocol = f.protocol;
        }
        p.parts.push((f.offset, f.data.to_vec()));
        p.bytes += f.data.len();
        p.charged += f.data.len() + PART_OVERHEAD;
        self.stats.held_bytes += (f.data.len() + PART_OVERHEAD) as u64;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.stats.held_bytes);
        Ok(p.total.is_some_and(|t| p.bytes == t))
    }

    fn complete(&mut self, key: &Key) -> Reassembly<'_> {
        let Some(mut p) = self.remove(key) else {
            return Reassembly::Dropped;
        };
        p.parts.sort_unstable_by_key(|(o, _)| *o);
        self.scratch.clear();
        for (_, d) in &p.parts {
            self.scratch.extend_from_slice(d);
        }
        self.stats.reassembled += 1;
        Reassembly::Complete {
            protocol: p.protocol,
            payload: &self.scratch,
        }
    }

    /// Drops datagrams older than the timeout; returns how many expired.
    pub fn expire(&mut self, now_ns: u64) -> u64 {
        let mut n = 0;
        while let Some(&(born, key)) = self.order.front() {
            if now_ns.saturating_sub(born) < self.config.timeout_ns {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&key).is_some_and(|p| p.born_ns == born)
                && self.remove(&key).is_some()
            {
                n += 1;
            }
        }
        self.stats.expired += n;
        n
    }

    /// Drops arrival-order entries of datagrams already completed or dropped once they outnumber the pending
    /// ones, so the queue stays proportional to what is held.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 1024 {
            let pending = &self.pending;
            self.order
                .retain(|(born, key)| pending.get(key).is_some_and(|p| p.born_ns == *born));
        }
    }

    /// Evicts the oldest datagrams until `incoming` more bytes and one more datagram fit the caps.
    fn make_room(&mut self, incoming: usize) {
        while self.pending.len() >= self.config.max_datagrams
            || self.stats.held_bytes as usize + incoming > self.config.max_bytes
        {
            let Some((born, key)) = self.order.pop_front() else {
                break;
            };
            if self.pending.get(&key).is_some_and(|p| p.born_ns == born)
                && self.remove(&key).is_some()
            {
                self.stats.dropped += 1;
            }
        }
    }

    fn drop_key(&mut self, key: &Key) {
        // A lone bad fragment counts as a dropped datagram too.
        self.remove(key);
        self.stats.dropped += 1;
    }

    fn remove(&mut self, key: &Key) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.stats.held_bytes -= p.charged as u64;
        Some(p)
    }

    /// Datagrams pending now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn new_pending(now_ns: u64) -> Pending {
    Pending {
        born_ns: now_ns,
        parts: Vec::new(),
        total: None,
        bytes: 0,
        charged: 0,
        protocol: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            id,
            protocol: 17,
            offset,
            more,
            data,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn payload() -> Vec<u8> {
        (0..3000u32).map(|i| (i % 251) as u8).collect()
    }

    fn pieces(p: &[u8]) -> Vec<(usize, bool, &[u8])> {
        p.chunks(1000)
            .enumerate()
            .map(|(i, c)| (i * 1000, (i + 1) * 1000 < p.len(), c))
            .collect()
    }

    #[test]
    fn reassembles_in_any_order() {
        let p = payload();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut r = Reassembler::new(DefragConfig::default());
            let parts = pieces(&p);
            let mut done = None;
            for i in order {
                let (o, m, d) = parts[i];
                if let Reassembly::Complete { payload, protocol } =
                    r.push(1, A, B, &frag(7, o, m, d))
                {
                    done = Some((payload.to_vec(), protocol));
                }
            }
            assert_eq!(done, Some((p.clone(), 17)), "order {order:?}");
            assert_eq!(r.stats().held_bytes, 0);
            assert_eq!(r.pending(), 0);
        }
    }

    #[test]
    fn overlaps_and_lies_drop_the_datagram() {
        let p = payload();
        let mut r = Reassembler::new(DefragConfig::default());
        assert_eq!(
            r.push(1, A, B, &frag(1, 0, true, &p[..1000])),
            Reassembly::Incomplete
        );
        assert_eq!(
            r.push(1, A, B, &frag(1, 992, true, &p[..1000])),
            Reassembly::Dropped
        );
        assert_eq!(r.pending(), 0);
        assert_eq!(
            r.push(1, A, B, &frag(2, 65000, false, &p[..1000])),
            Reassembly::Dropped,
            "past 65535"
        );
        assert_eq!(
            r.push(1, A, B, &frag(3, 0, true, &p[..999])),
            Reassembly::Dropped,
            "unaligned"
        );
        assert_eq!(r.stats().dropped, 3);
        assert_eq!(r.stats().held_bytes, 0);
    }

    #[test]
    fn duplicates_are_ignored() {
        let p = payload();
        let mut r = Reassembler::new(DefragConfig::default());
        let parts = pieces(&p);
        r.push(1, A, B, &frag(5, parts[0].0, parts[0].1, parts[0].2));
        r.push(1, A, B, &frag(5, parts[0].0, parts[0].1, parts[0].2));
        r.push(1, A, B, &frag(5, parts[1].0, parts[1].1, parts[1].2));
        let done = r.push(1, A, B, &frag(5, parts[2].0, parts[2].1, parts[2].2));
        assert!(matches!(done, Reassembly::Complete { payload, .. } if payload == &p[..]));
    }

    #[test]
    fn caps_and_timeout_bound_memory() {
        let cfg = DefragConfig {
            max_bytes: 10_000,
            max_datagrams: 5,
            timeout_ns: 1000,
        };
        let mut r = Reassembler::new(cfg);
        let data = [0u8; 1000];
        for id in 0..1000 {
            r.push(10, A, B, &frag(id, 0, true, &data));
            assert!(r.pending() <= 5);
            assert!(r.stats().held_bytes <= 10_000);
        }
        assert_eq!(r.stats().dropped, 995);
        assert!(
            r.order.len() <= 2 * 5 + 1024 + 1,
            "arrival queue stays bounded"
        );
        assert_eq!(r.expire(2000), 5);
        assert_eq!(
            (r.pending(), r.stats().held_bytes, r.stats().expired),
            (0, 0, 5)
        );
        assert!(r.stats().peak_bytes <= 10_000);
    }

    #[test]
    fn many_fragments_of_few_datagrams_stay_under_the_byte_cap() {
        let cfg = DefragConfig {
            max_bytes: 100_000,
            max_datagrams: 1000,
            timeout_ns: u64::MAX,
        };
        let mut r = Reassembler::new(cfg);
        let data = [0u8; 1000];
        for id in 0..50 {
            for k in 0..64 {
                r.push(1, A, B, &frag(id, k * 1000, true, &data));
                assert!(r.stats().held_bytes <= 100_000, "id {id} part {k}");
            }
        }
        assert!(r.stats().peak_bytes <= 100_000);
        // tiny fragments: the per-fragment overhead is charged and the part count is capped
        let mut r = Reassembler::new(DefragConfig::default());
        for k in 0..200 {
            r.push(1, A, B, &frag(9, k * 8, true, &[0u8; 8]));
        }
        assert_eq!(
            r.stats().dropped,
            1,
            "past MAX_PARTS the datagram is dropped"
        );
        assert_eq!(
            r.stats().held_bytes as usize,
            (200 - MAX_PARTS - 1) * (8 + PART_OVERHEAD),
            "the rest start anew"
        );
    }
}
