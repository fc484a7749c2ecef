//! Informs sent to a listener: which are a sender's retries of one already on the bus.
//!
//! A sender retries an inform (same request-id, from the same socket) when its acknowledgement is late or
//! lost. The retry must be acknowledged again, not published again: the receivers behind the bus would log
//! one notification per try. State is bounded whatever the traffic: at most `cap` informs are remembered,
//! each for `window_ns` of capture time.

use std::collections::HashMap;
use std::net::SocketAddr;

pub struct RecentInforms {
    /// (sender, request-id) → capture time it was first published.
    seen: HashMap<(SocketAddr, i64), u64>,
    window_ns: u64,
    cap: usize,
}

impl RecentInforms {
    pub fn new(window_ns: u64, cap: usize) -> Self {
        Self {
            seen: HashMap::new(),
            window_ns,
            cap: cap.max(1),
        }
    }

    /// Whether `from` sent `request_id` within the window before `now_ns`.
    pub fn is_retry(&self, from: SocketAddr, request_id: i64, now_ns: u64) -> bool {
        self.seen
            .get(&(from, request_id))
            .is_some_and(|&t| now_ns.saturating_sub(t) < self.window_ns)
    }

    /// Remembers a published inform. When full, informs older than the window go first, then all of them:
    /// a flood of distinct informs costs duplicate detection, never memory.
    pub fn remember(&mut self, from: SocketAddr, request_id: i64, now_ns: u64) {
        if self.seen.len() >= self.cap {
            let window = self.window_ns;
            self.seen
                .retain(|_, &mut t| now_ns.saturating_sub(t) < window);
            if self.seen.len() >= self.cap {
                self.seen.clear();
            }
        }
        self.seen.insert((from, request_id), now_ns);
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_retry_within_the_window_is_recognised() {
        let a: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:4001".parse().unwrap();
        let mut r = RecentInforms::new(60 * S, 100);
        assert!(!r.is_retry(a, 7, 0));
        r.remember(a, 7, 0);
        assert!(r.is_retry(a, 7, 59 * S));
        assert!(
            !r.is_retry(a, 7, 60 * S),
            "past the window it is a new inform"
        );
        assert!(!r.is_retry(a, 8, S), "another request-id");
        assert!(!r.is_retry(b, 7, S), "another sender socket");
    }

    #[test]
    fn memory_stays_within_the_cap() {
        let mut r = RecentInforms::new(60 * S, 10);
        for i in 0..1000 {
            r.remember(
                format!("192.0.2.1:{}", 1000 + i).parse().unwrap(),
                i,
                i as u64,
            );
            assert!(r.len() <= 10);
        }
        let mut r = RecentInforms::new(S, 10);
        for i in 0..10 {
            r.remember("192.0.2.1:1".parse().unwrap(), i, 0);
        }
        r.remember("192.0.2.1:1".parse().unwrap(), 99, 2 * S);
        assert_eq!(r.len(), 1, "the expired ones went first");
    }
}
