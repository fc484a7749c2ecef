//! Distinct values in a window: exact while few (a small inline set), a HyperLogLog sketch (datasketches,
//! 2^8 registers of 4 bits, about 6 % error) once past it, so a key's memory stays bounded however many
//! values it sees.

use datasketches::hll::{HllSketch, HllType};

/// Values held exactly before switching to the sketch.
pub const EXACT: usize = 12;
const LG_K: u8 = 8;

#[derive(Debug, Clone)]
pub enum Distinct {
    Exact { values: [u32; EXACT], len: u8 },
    Sketch(Box<HllSketch>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Exact {
            values: [0; EXACT],
            len: 0,
        }
    }
}

impl Distinct {
    pub fn insert(&mut self, v: u32) {
        match self {
            Distinct::Exact { values, len } => {
                let held = &values[..usize::from(*len)];
                if held.contains(&v) {
                    return;
                }
                if usize::from(*len) < EXACT {
                    values[usize::from(*len)] = v;
                    *len += 1;
                    return;
                }
                let mut sketch = HllSketch::new(LG_K, HllType::Hll4).expect("lg_k 8 is in range");
                for &x in held {
                    sketch.update(x);
                }
                sketch.update(v);
                *self = Distinct::Sketch(Box::new(sketch));
            }
            Distinct::Sketch(s) => s.update(v),
        }
    }

    pub fn count(&self) -> u64 {
        match self {
            Distinct::Exact { len, .. } => u64::from(*len),
            Distinct::Sketch(s) => s.estimate().round() as u64,
        }
    }

    /// The exact values, while there are few.
    pub fn exact(&self) -> Option<&[u32]> {
        match self {
            Distinct::Exact { values, len } => Some(&values[..usize::from(*len)]),
            Distinct::Sketch(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_estimated() {
        let mut d = Distinct::default();
        for v in [5, 5, 6, 7, 7, 7] {
            d.insert(v);
        }
        assert_eq!(d.count(), 3);
        assert_eq!(d.exact(), Some(&[5, 6, 7][..]));
        for v in 0..1000 {
            d.insert(v);
            d.insert(v);
        }
        let n = d.count() as f64;
        assert!((n - 1000.0).abs() < 150.0, "{n}");
        assert!(d.exact().is_none());
    }
}
