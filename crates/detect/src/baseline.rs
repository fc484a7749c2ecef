//! The learned baseline of one series (a rate per second, a count per bucket): an exponentially weighted
//! mean and variance, updated with each bucket's value clamped to a few deviations so that a spike does not
//! drag the baseline after it, then a second stage that asks how unusual the recent deviations are compared
//! with the deviations this series usually has (an anomaly likelihood). The second stage is what keeps a
//! noisy series from paging: a series that often jumps by 3σ learns that 3σ is ordinary for it.

use serde::{Deserialize, Serialize};

/// Which deviations count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only values above the baseline (floods, storms, bursts).
    Up,
    /// Only values below it.
    Down,
    /// Both.
    Both,
}

/// How a baseline learns and when it calls a value anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    /// Weight of a new bucket in the mean and variance (0.05: a memory of about 20 buckets).
    pub alpha: f32,
    /// A value further than this many deviations from the mean updates the baseline as if it were this far.
    pub clamp: f32,
    /// Weight of a new deviation score in the short-term average the likelihood stage judges.
    pub short: f32,
    /// Weight of a new deviation score in the long-term distribution of scores.
    pub long: f32,
    /// Alert when the short-term average of scores is this unusual: −log10 of its tail probability under the
    /// long-term distribution (4: one chance in 10 000).
    pub threshold: f32,
    /// And only when the bucket itself is at least this many deviations away.
    pub min_z: f32,
    /// Buckets a series must have seen before it may alert.
    pub warmup: u32,
    pub direction: Direction,
    /// The series counts events: its variance is at least its mean (a Poisson floor), so that a key that
    /// usually sees 2 events a second does not alert on 6.
    pub counts: bool,
    /// Score the logarithm of the value (ln(1 + x)): for series whose spread grows with their level, like
    /// traffic rates, where a doubling means the same at 10 and at 10 000.
    pub log: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            alpha: 0.05,
            clamp: 3.0,
            short: 0.3,
            long: 0.01,
            threshold: 4.0,
            min_z: 4.0,
            warmup: 30,
            direction: Direction::Up,
            counts: true,
            log: false,
        }
    }
}

/// What one bucket scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// The baseline mean before this bucket.
    pub mean: f32,
    /// Signed deviations from the mean, in standard deviations.
    pub z: f32,
    /// −log10 of the tail probability of the recent scores (0 during warm-up).
    pub surprise: f32,
    /// The series is past warm-up and both tests passed.
    pub anomalous: bool,
}

/// The state of one series: 24 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Baseline {
    mean: f32,
    var: f32,
    score_mean: f32,
    score_var: f32,
    score_short: f32,
    seen: u32,
}

/// Scores are capped here so that one enormous bucket does not swamp the score distribution.
const MAX_SCORE: f32 = 20.0;

impl Baseline {
    pub fn seen(&self) -> u32 {
        self.seen
    }

    pub fn mean(&self) -> f32 {
        self.mean
    }

    /// Scores `x` against the baseline, then learns from it.
    pub fn observe(&mut self, x: f32, t: &Tuning) -> Score {
        let x = match t.log {
            true => x.max(0.0).ln_1p(),
            false => x,
        };
        let sd = self.deviation(t);
        let z = if self.seen == 0 {
            0.0
        } else {
            (x - self.mean) / sd
        };
        let surprise = self.judge(directed(z, t.direction), t);
        let anomalous =
            self.seen > t.warmup && surprise >= t.threshold && directed(z, t.direction) >= t.min_z;
        let score = Score {
            mean: self.mean,
            z,
            surprise,
            anomalous,
        };
        self.learn(x, sd, t);
        score
    }

    /// `k` buckets in a row without an event, learnt as one step with the weight `k` steps would have had:
    /// a key seen once a minute costs one update per event, not sixty. Idle buckets are not scored.
    pub fn idle(&mut self, x: f32, k: u32, t: &Tuning) {
        if k == 0 || self.seen == 0 {
            return;
        }
        let x = match t.log {
            true => x.max(0.0).ln_1p(),
            false => x,
        };
        let w = 1.0 - (1.0 - t.alpha).powi(k.min(10_000) as i32);
        let d = x - self.mean;
        self.mean += w * d;
        self.var = (1.0 - w) * (self.var + w * d * d);
        self.seen = self.seen.saturating_add(k);
    }

    /// The standard deviation used to score: with a floor for counts, and never zero.
    fn deviation(&self, t: &Tuning) -> f32 {
        let floor = match (t.counts, t.log) {
            // Poisson: the variance of a count is its mean; of its logarithm, about 1 / the count.
            (true, false) => self.mean.max(1.0),
            (true, true) => 1.0 / (1.0 + self.mean.exp_m1().max(0.0)),
            // A flat series still has a scale: a hundredth of its level.
            (false, _) => (0.01 * self.mean).powi(2) + 1e-6,
        };
        (self.var + floor).sqrt()
    }

    /// The likelihood stage: how unusual the short-term average of scores is against the long-term ones.
    fn judge(&mut self, score: f32, t: &Tuning) -> f32 {
        let s = score.min(MAX_SCORE);
        if self.seen <= t.warmup {
            // Learn what scores this series usually has; judge nothing yet.
            self.learn_scores(s, t.long.max(1.0 / (self.seen + 1) as f32), t);
            return 0.0;
        }
        self.score_short += t.short * (s - self.score_short);
        // The short-term average of scores varies less than single scores: by short / (2 − short).
        let spread = (self.score_var * t.short / (2.0 - t.short) + 1e-4).sqrt();
        let u = (self.score_short - self.score_mean) / spread;
        let surprise = -log10_tail(u);

        self.learn_scores(s, t.long, t);
        surprise
    }

    fn learn_scores(&mut self, s: f32, w: f32, t: &Tuning) {
        if self.seen <= t.warmup {
            self.score_short += w * (s - self.score_short);
        }
        let d = s - self.score_mean;
        self.score_mean += w * d;
        self.score_var = (1.0 - w) * (self.score_var + w * d * d);
    }

    /// The clamped update: early buckets are averaged plainly, later ones weighted by `alpha`.
    fn learn(&mut self, x: f32, sd: f32, t: &Tuning) {
        let w = t.alpha.max(1.0 / (self.seen + 1) as f32);
        let limit = t.clamp * sd;
        let x = match self.seen {
            0 => x,
            _ => x.clamp(self.mean - limit, self.mean + limit),
        };
        let d = x - self.mean;
        self.mean += w * d;
        self.var = (1.0 - w) * (self.var + w * d * d);
        self.seen = self.seen.saturating_add(1);
    }
}

fn directed(z: f32, d: Direction) -> f32 {
    match d {
        Direction::Up => z.max(0.0),
        Direction::Down => (-z).max(0.0),
        Direction::Both => z.abs(),
    }
}

/// log10 of the upper tail of the standard normal distribution at `u`. The complementary error function by
/// the Abramowitz–Stegun 7.1.26 rational approximation (error below 1.5e-7) near the centre, and the
/// asymptotic series far out, where the tail underflows a float.
pub fn log10_tail(u: f32) -> f32 {
    let u = f64::from(u);
    if u < 5.0 {
        let x = u / std::f64::consts::SQRT_2;
        let tail = 0.5 * erfc(x);
        return tail.max(1e-300).log10() as f32;
    }
    // Q(u) ≈ φ(u)/u · (1 − 1/u²)
    let ln =
        -u * u / 2.0 - (u * (2.0 * std::f64::consts::PI).sqrt()).ln() + (1.0 - 1.0 / (u * u)).ln();
    (ln / std::f64::consts::LN_10) as f32
}

fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    poly * (-x * x).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail() {
        assert!((log10_tail(0.0) - 0.5f32.log10()).abs() < 1e-3);
        // Q(3) = 1.35e-3, Q(6) = 9.87e-10
        assert!((log10_tail(3.0) - (-2.8697)).abs() < 1e-2);
        assert!((log10_tail(6.0) - (-9.0057)).abs() < 2e-2);
        assert!(log10_tail(-3.0) > -0.01);
    }

    fn steady(b: &mut Baseline, t: &Tuning, n: usize) {
        for i in 0..n {
            let s = b.observe(100.0 + (i % 7) as f32, t);
            assert!(!s.anomalous, "bucket {i}: {s:?}");
        }
    }

    #[test]
    fn a_spike_alerts_and_does_not_drag_the_baseline() {
        let t = Tuning::default();
        let mut b = Baseline::default();
        steady(&mut b, &t, 200);
        let before = b.mean();
        let s = b.observe(1000.0, &t);
        assert!(s.anomalous, "{s:?}");
        assert!(s.z > 20.0);
        // the clamped update moves the mean by at most alpha · clamp · σ
        assert!(b.mean() - before < 3.0, "{} -> {}", before, b.mean());
    }

    #[test]
    fn nothing_alerts_during_warm_up() {
        let t = Tuning {
            warmup: 50,
            ..Tuning::default()
        };
        let mut b = Baseline::default();
        for i in 0..50 {
            let x = if i == 40 { 10_000.0 } else { 10.0 };
            assert!(!b.observe(x, &t).anomalous);
        }
    }

    #[test]
    fn direction_up_ignores_drops_and_both_sees_them() {
        let up = Tuning::default();
        let both = Tuning {
            direction: Direction::Both,
            ..up
        };
        let (mut a, mut b) = (Baseline::default(), Baseline::default());
        steady(&mut a, &up, 200);
        steady(&mut b, &both, 200);
        assert!(!a.observe(0.0, &up).anomalous);
        assert!(b.observe(0.0, &both).anomalous);
    }

    #[test]
    fn poisson_floor_keeps_small_counts_quiet() {
        let t = Tuning::default();
        let mut b = Baseline::default();
        for i in 0..300 {
            // 2 events a second, exactly: a variance of zero without the floor
            assert!(!b.observe(2.0, &t).anomalous, "{i}");
        }
        assert!(!b.observe(6.0, &t).anomalous);
        assert!(b.observe(40.0, &t).anomalous);
    }

    #[test]
    fn a_noisy_series_learns_that_its_jumps_are_ordinary() {
        let t = Tuning {
            counts: false,
            min_z: 0.0,
            ..Tuning::default()
        };
        let mut b = Baseline::default();
        let mut alerts = 0;
        // every tenth bucket jumps by 4σ of the quiet ones
        for i in 0..2000 {
            let x = if i % 10 == 0 {
                140.0
            } else {
                100.0 + (i % 3) as f32 * 5.0
            };
            alerts += u32::from(b.observe(x, &t).anomalous);
        }
        assert!(alerts < 5, "{alerts}");
    }

    #[test]
    fn state_is_small() {
        assert_eq!(std::mem::size_of::<Baseline>(), 24);
    }
}
