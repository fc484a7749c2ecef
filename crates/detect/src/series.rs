//! One series of per-second values (events per second of a key) and its baseline: 36 bytes.
//!
//! A value accumulates in the current one-second bucket; the bucket is scored when a later second's event
//! arrives (or when the detector's clock sweeps the key). A spread series holds a level instead of a count:
//! each flow record adds its packets to it in a shape that decays over the flow's duration, so that a flow
//! reported once a minute reads as a steady rate rather than one spike a minute (docs/detection.md).

use crate::baseline::{Baseline, Score, Tuning};

#[derive(Debug, Clone, Copy, Default)]
pub struct Series {
    /// The second being accumulated (0: none yet).
    bucket: u32,
    acc: f32,
    base: Baseline,
}

/// A bucket that was scored.
#[derive(Debug, Clone, Copy)]
pub struct Closed {
    pub tick: u32,
    pub value: f32,
    pub score: Score,
    /// Buckets the baseline had learnt before this one.
    pub learned: u32,
}

impl Series {
    pub fn baseline(&self) -> &Baseline {
        &self.base
    }

    /// Adds `amount` to the bucket of `now`, first scoring the buckets before it. `keep` is what stays of
    /// the value from one second to the next: 0 for counts, e^(−1/τ) for a spread level.
    pub fn add(&mut self, now: u32, amount: f32, keep: f32, t: &Tuning) -> Option<Closed> {
        let closed = self.advance(now, keep, t);
        self.acc += amount;
        closed
    }

    /// Scores every bucket before `now` (the last one with data is scored; idle ones are learnt in one step).
    pub fn advance(&mut self, now: u32, keep: f32, t: &Tuning) -> Option<Closed> {
        if self.bucket == 0 {
            self.bucket = now;
            return None;
        }
        if now <= self.bucket {
            return None;
        }
        let value = self.acc;
        let learned = self.base.seen();
        let score = self.base.observe(value, t);
        let idle = now - self.bucket - 1;
        self.acc = value * keep;
        if idle > 0 {
            self.base.idle(self.acc, idle, t);
            self.acc *= keep.powi(idle.min(1000) as i32);
        }
        let tick = self.bucket;
        self.bucket = now;
        Some(Closed {
            tick,
            value,
            score,
            learned,
        })
    }

    /// The value accumulated so far in the current bucket.
    pub fn current(&self) -> f32 {
        self.acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_close_when_a_later_second_arrives() {
        let t = Tuning::default();
        let mut s = Series::default();
        assert!(s.add(100, 1.0, 0.0, &t).is_none());
        assert!(s.add(100, 1.0, 0.0, &t).is_none());
        let c = s.add(101, 1.0, 0.0, &t).unwrap();
        assert_eq!((c.tick, c.value), (100, 2.0));
        // three idle seconds, then one more
        let c = s.add(105, 1.0, 0.0, &t).unwrap();
        assert_eq!((c.tick, c.value), (101, 1.0));
        assert_eq!(s.baseline().seen(), 5);
    }

    #[test]
    fn a_spread_level_decays() {
        let t = Tuning::default();
        let keep = (-1.0f32 / 10.0).exp();
        let mut s = Series::default();
        s.add(1, 100.0, keep, &t);
        let c = s.advance(2, keep, &t).unwrap();
        assert_eq!(c.value, 100.0);
        assert!((s.current() - 100.0 * keep).abs() < 1e-3);
    }

    #[test]
    fn state_is_small() {
        assert_eq!(std::mem::size_of::<Series>(), 32);
    }
}
