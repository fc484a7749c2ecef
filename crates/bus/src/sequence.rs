//! Sequence numbers, both ends. A publisher numbers each (kind, bucket) stream of its own on its own
//! ([`Sequencer`]); a subscriber to whole kinds or buckets then sees every stream it takes whole, so a hole
//! in the numbers is a datagram the bus lost ([`Gaps`]).

use std::collections::HashMap;

use wire::kind::Kind;

const BUCKETS: usize = envelope::BUCKETS as usize;

/// The publisher side: the next sequence number of each (kind, bucket) stream.
pub struct Sequencer {
    next: Box<[[u64; BUCKETS]; Kind::COUNT]>,
}

impl Default for Sequencer {
    fn default() -> Self {
        Self {
            next: Box::new([[0; BUCKETS]; Kind::COUNT]),
        }
    }
}

impl Sequencer {
    /// The number of the next datagram of `kind` in `bucket`, advanced for every datagram offered to the bus
    /// (sent or dropped at the high-water mark alike, so drops show as gaps downstream).
    #[inline]
    pub fn next(&mut self, kind: Kind, bucket: u8) -> u64 {
        let slot = &mut self.next[kind.index()][usize::from(bucket) % BUCKETS];
        let seq = *slot;
        *slot += 1;
        seq
    }
}

/// One publisher's stream: (publisher id, kind code, bucket).
pub type Stream = (u64, u8, u8);

/// The subscriber side: the next expected number of every stream seen, and how many numbers were skipped.
#[derive(Default)]
pub struct Gaps {
    next: HashMap<Stream, u64>,
    missing: u64,
}

impl Gaps {
    /// Records datagram `seq` of `stream`; a number past the expected one counts what was skipped. Called
    /// per message from the skeleton's instance in each role's crate: worth inlining there.
    #[inline]
    pub fn see(&mut self, stream: Stream, seq: u64) {
        let next = self.next.entry(stream).or_insert(seq);
        if seq > *next {
            self.missing += seq - *next;
        }
        *next = seq + 1;
    }

    /// Datagrams lost on the bus so far.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// Distinct publishers seen.
    pub fn publishers(&self) -> usize {
        let mut ids: Vec<u64> = self.next.keys().map(|k| k.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Forgets where every stream was: after a change of subscription, a stream that was not taken a moment
    /// ago would otherwise look like a gap.
    pub fn restart(&mut self) {
        self.next.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(g.missing(), 2);
        assert_eq!(g.publishers(), 2);
        g.restart();
        g.see((1, 1, 7), 50);
        assert_eq!(g.missing(), 2, "a restart does not count the jump");
    }

    #[test]
    fn each_stream_is_numbered_on_its_own() {
        let mut s = Sequencer::default();
        assert_eq!(s.next(Kind::Syslog, 3), 0);
        assert_eq!(s.next(Kind::Syslog, 3), 1);
        assert_eq!(s.next(Kind::Syslog, 4), 0);
        assert_eq!(s.next(Kind::Snmptrap, 3), 0);
        assert_eq!(s.next(Kind::Syslog, 3), 2);
    }
}
