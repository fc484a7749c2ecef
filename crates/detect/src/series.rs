//! One series of per-second values (events per second of a key) and its baseline: 36 bytes.
//!
//! A value accumulates in the current one-second bucket; the bucket is scored when a later second's event
//! arrives. A flow series also holds a level carried from second to second: a long flow's packets are
//! added to it in a shape that decays over the flow's duration, so that a flow reported once a minute reads
//! as a steady rate rather than one spike a minute, while a short flow's packets count in their second only
//! (docs/detection.md).

use crate::baseline::{Baseline, Score, Tuning};

#[derive(Debug, Clone, Copy, Default)]
pub struct Series {
    /// The second being accumulated (0: none yet).
    bucket: u32,
    /// What this second has, not carried to the next.
    acc: f32,
    /// The level carried from second to second, fading by the caller's `keep`.
    level: f32,
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

    /// Adds `amount` to the bucket of `now`, first scoring the buckets before it.
    pub fn add(&mut self, now: u32, amount: f32, t: &Tuning) -> Option<Closed> {
        self.spread(now, amount, 0.0, 0.0, t)
    }

    /// Adds `now_amount` to the bucket of `now` and `carried` to the level, which keeps `keep` of itself from
    /// one second to the next (e^(−1/τ)).
    pub fn spread(
        &mut self,
        now: u32,
        now_amount: f32,
        carried: f32,
        keep: f32,
        t: &Tuning,
    ) -> Option<Closed> {
        let closed = self.advance(now, keep, t);
        self.acc += now_amount;
        self.level += carried;
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
        let value = self.acc + self.level;
        let learned = self.base.seen();
        let score = self.base.observe(value, t);
        let idle = now - self.bucket - 1;
        self.acc = 0.0;
        self.level *= keep;
        if idle > 0 {
            self.base.idle(self.level, idle, t);
            self.level *= keep.powi(idle.min(1000) as i32);
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

    /// The value of the current bucket so far.
    pub fn current(&self) -> f32 {
        self.acc + self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_close_when_a_later_second_arrives() {
        let t = Tuning::default();
        let mut s = Series::default();
        assert!(s.add(100, 1.0, &t).is_none());
        assert!(s.add(100, 1.0, &t).is_none());
        let c = s.add(101, 1.0, &t).unwrap();
        assert_eq!((c.tick, c.value), (100, 2.0));
        // three idle seconds, then one more
        let c = s.add(105, 1.0, &t).unwrap();
        assert_eq!((c.tick, c.value), (101, 1.0));
        assert_eq!(s.baseline().seen(), 5);
    }

    #[test]
    fn a_spread_level_decays() {
        let t = Tuning::default();
        let keep = (-1.0f32 / 10.0).exp();
        let mut s = Series::default();
        s.spread(1, 5.0, 100.0, keep, &t);
        let c = s.advance(2, keep, &t).unwrap();
        assert_eq!(c.value, 105.0);
        assert!(
            (s.current() - 100.0 * keep).abs() < 1e-3,
            "the level is carried, the rest is not"
        );
    }

    #[test]
    fn state_is_small() {
        assert_eq!(std::mem::size_of::<Series>(), 36);
    }
}
