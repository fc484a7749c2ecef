//! Shards of a subscriber: N instances of one role, shard I of N taking the buckets with `bucket mod N == I`.
//! A bucket is a function of the exporter's address (topic.rs), so together the N shards take every datagram
//! exactly once, and each exporter's stream whole and in order: its templates, sequence numbers and detector
//! state stay with one shard.

use std::fmt;
use std::str::FromStr;

use wire::kind::Kind;

use crate::selector::{prefixes, KindSelector};
use crate::topic::BUCKETS;

/// Shard `index` of `count` (`0/1`: the whole bus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u8,
    count: u8,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Shard `index` of `count`: `count` from 1 to the number of buckets (64), `index` below `count`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 || count > BUCKETS {
            return Err(format!(
                "a bus has {BUCKETS} buckets: shards number 1 to {BUCKETS}, not {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count}: shards are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Shard {
            index: index as u8,
            count: count as u8,
        })
    }

    pub fn index(self) -> u32 {
        u32::from(self.index)
    }

    pub fn count(self) -> u32 {
        u32::from(self.count)
    }

    /// The whole bus: one shard of one.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    pub fn takes(self, bucket: u8) -> bool {
        bucket % self.count == self.index
    }

    /// The buckets this shard takes.
    pub fn buckets(self) -> impl Iterator<Item = u8> {
        (0..BUCKETS as u8).filter(move |&b| self.takes(b))
    }
}

/// The subscription prefixes of `selectors` on `shard`: the kinds' prefixes for the whole bus, else one
/// `kind/bNN/` prefix per kind and bucket of the shard. Alert events (`alert/`) carry no bucket: when the
/// selectors take everything, shard 0 takes them, so that N shards see each alert once.
pub fn shard_prefixes(selectors: &[KindSelector], shard: Shard) -> Vec<String> {
    let whole = prefixes(selectors.iter().copied());
    if shard.is_whole() {
        return whole;
    }
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|&k| whole.is_empty() || selectors.iter().any(|s| s.matches(Some(k))))
        .collect();
    let mut out: Vec<String> = kinds
        .iter()
        .flat_map(|k| {
            shard
                .buckets()
                .map(move |b| format!("{}/b{b:02}/", k.name()))
        })
        .collect();
    if whole.is_empty() && shard.index == 0 {
        out.push("alert/".to_owned());
    }
    out
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a shard: I/N, shard I of N (0/3, 1/3 and 2/3 share a bus)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Configuration files write a shard as `"I/N"`.
impl<'de> serde::Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> KindSelector {
        s.parse().unwrap()
    }

    #[test]
    fn shards_take_every_kind_and_bucket_once() {
        for n in [2, 3, 5, 64] {
            let mut seen = std::collections::HashMap::new();
            for i in 0..n {
                for p in shard_prefixes(&[], Shard::new(i, n).unwrap()) {
                    *seen.entry(p).or_insert(0) += 1;
                }
            }
            // every kind in every bucket, and the alerts, each on exactly one shard
            assert_eq!(seen.len(), Kind::ALL.len() * BUCKETS as usize + 1, "{n}");
            assert!(seen.values().all(|&c| c == 1), "{n}");
            assert!(seen.contains_key("netflow-v9/b63/") && seen.contains_key("alert/"));
        }
    }

    #[test]
    fn kind_selectors_narrow_the_shard() {
        let s = Shard::new(1, 2).unwrap();
        let p = shard_prefixes(&[sel("netflow")], s);
        assert_eq!(p.len(), 2 * 32);
        assert!(p.contains(&"netflow-v5/b01/".to_owned()));
        assert!(p.contains(&"netflow-v9/b63/".to_owned()));
        assert!(!p
            .iter()
            .any(|p| p.contains("/b00/") || p.starts_with("alert")));
        // the whole bus keeps the kinds' own prefixes
        assert_eq!(
            shard_prefixes(&[sel("syslog")], Shard::default()),
            vec!["syslog/".to_owned()]
        );
    }

    #[test]
    fn shards_parse_and_refuse() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard::new(2, 3).unwrap());
        assert_eq!(Shard::new(2, 3).unwrap().to_string(), "2/3");
        for bad in ["3/3", "0/0", "0/65", "1", "a/b", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let three: Vec<u8> = Shard::new(2, 3).unwrap().buckets().collect();
        assert_eq!(three.len(), 21);
        assert!(three.iter().all(|b| b % 3 == 2));
    }
}
