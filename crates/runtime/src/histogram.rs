//! A log-linear histogram for latencies: 8 sub-buckets per power of two (12.5 % resolution), fixed size,
//! no allocation per value.

use serde::Serialize;

const SUB: u64 = 8;
const SLOTS: usize = 64 * SUB as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; SLOTS]>,
    total: u64,
    max: u64,
}

/// Percentiles in the stats JSON (upper bounds of their buckets).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: Box::new([0; SLOTS]),
            total: 0,
            max: 0,
        }
    }
}

#[inline]
fn slot(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let k = 63 - u64::from(v.leading_zeros());
    ((k - 2) * SUB + ((v >> (k - 3)) & (SUB - 1))) as usize
}

/// The largest value that falls in slot `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let (k, sub) = (i / SUB + 2, i % SUB);
    let lower = (SUB + sub) << (k - 3);
    lower + ((1u64 << (k - 3)) - 1)
}

impl Histogram {
    /// Called per datagram from other crates: worth inlining there.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[slot(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// The smallest bucket bound below which a fraction `q` of the values lie.
    pub fn quantile(&self, q: f64) -> u64 {
        let want = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return upper(i).min(self.max);
            }
        }
        self.max
    }

    pub fn percentiles(&self) -> Percentiles {
        if self.total == 0 {
            return Percentiles::default();
        }
        Percentiles {
            count: self.total,
            p50: self.quantile(0.5),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_every_value_in_order() {
        for v in [0u64, 1, 7, 8, 9, 15, 16, 17, 1000, 123_456_789, u64::MAX] {
            let i = slot(v);
            assert!(i < SLOTS);
            assert!(v <= upper(i), "{v} above its slot's bound {}", upper(i));
            assert!(i == 0 || v > upper(i - 1), "{v} belongs in an earlier slot");
        }
    }

    #[test]
    fn percentiles_within_the_resolution() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p = h.percentiles();
        assert_eq!((p.count, p.max), (10_000, 10_000_000));
        for (got, want) in [
            (p.p50, 5_000_000f64),
            (p.p99, 9_900_000.0),
            (p.p999, 9_990_000.0),
        ] {
            assert!(
                (got as f64) >= want && (got as f64) <= want * 1.125,
                "{got} vs {want}"
            );
        }
        assert_eq!(Histogram::default().percentiles(), Percentiles::default());
    }
}
