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

/// A publisher's id as logs and reports write it: 16 hex digits.
pub fn publisher_name(id: u64) -> String {
    format!("{id:016x}")
}

/// A kind code's name in reports (the number, for a kind this build does not know).
pub fn kind_name(code: u8) -> String {
    Kind::from_code(code).map_or_else(|| code.to_string(), |k| k.name().to_owned())
}

/// Where one stream stands at a subscriber.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// The next number expected; `None` after a change of subscription (the next one seen is taken as is).
    next: Option<u64>,
    received: u64,
    missing: u64,
}

/// What a subscriber got of one stream: the ledger's input (`sekiwake ledger` sets it against what the
/// publisher numbered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCount {
    pub stream: Stream,
    pub received: u64,
    /// Numbers skipped between the first and the last one received.
    pub missing: u64,
}

/// The subscriber side: the next expected number of every stream seen, what arrived of it and how many
/// numbers were skipped. Bounded: a publisher has at most kinds × buckets streams.
#[derive(Default)]
pub struct Gaps {
    streams: HashMap<Stream, Seen>,
    missing: u64,
}

impl Gaps {
    /// Records datagram `seq` of `stream`; a number past the expected one counts what was skipped. Called
    /// per message from the skeleton's instance in each role's crate: worth inlining there.
    #[inline]
    pub fn see(&mut self, stream: Stream, seq: u64) {
        let s = self.streams.entry(stream).or_default();
        let next = *s.next.get_or_insert(seq);
        if seq > next {
            s.missing += seq - next;
            self.missing += seq - next;
        }
        s.next = Some(seq + 1);
        s.received += 1;
    }

    /// Datagrams lost on the bus so far.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// Distinct publishers seen.
    pub fn publishers(&self) -> usize {
        let mut ids: Vec<u64> = self.streams.keys().map(|k| k.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Every stream seen, in order of (publisher, kind, bucket).
    pub fn streams(&self) -> Vec<StreamCount> {
        let mut out: Vec<StreamCount> = self
            .streams
            .iter()
            .map(|(&stream, s)| StreamCount {
                stream,
                received: s.received,
                missing: s.missing,
            })
            .collect();
        out.sort_unstable_by_key(|c| c.stream);
        out
    }

    /// Forgets where every stream was (what arrived stays counted): after a change of subscription, a stream
    /// that was not taken a moment ago would otherwise look like a gap.
    pub fn restart(&mut self) {
        for s in self.streams.values_mut() {
            s.next = None;
        }
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
        let first = g.streams()[0];
        assert_eq!(
            (first.stream, first.received, first.missing),
            ((1, 1, 7), 5, 2)
        );
        assert_eq!(g.streams().len(), 4);
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
