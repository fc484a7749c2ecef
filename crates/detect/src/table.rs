//! A key table with a cap: the least recently used key makes room for a new one, and every such eviction is
//! counted. Built on `schnellru` (one allocation, 8 bytes of links per entry on top of key and value).

use std::hash::Hash;

use schnellru::{ByLength, LruMap};

pub struct Table<K: Hash + Eq, V> {
    map: LruMap<K, V, ByLength>,
    cap: u32,
    evicted: u64,
}

impl<K: Hash + Eq + Clone, V> Table<K, V> {
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, u32::MAX as usize) as u32;
        Table {
            map: LruMap::new(ByLength::new(cap)),
            cap,
            evicted: 0,
        }
    }

    /// The value of `key` (now the most recently used), made by `new` if absent.
    pub fn entry(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        if self.map.peek(&key).is_none() && self.map.len() >= self.cap as usize {
            self.map.pop_oldest();
            self.evicted += 1;
        }
        self.map
            .get_or_insert(key, new)
            .expect("room was made for the new key")
    }

    pub fn get(&mut self, key: &K) -> Option<&mut V> {
        self.map.get(key)
    }

    /// Without making it the most recently used.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.map.peek(key)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.map.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes the table holds (its allocation, keys and values inline).
    pub fn memory(&self) -> usize {
        self.map.memory_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_key_goes_and_is_counted() {
        let mut t = Table::new(2);
        *t.entry(1, || 0) += 1;
        *t.entry(2, || 0) += 1;
        *t.entry(1, || 0) += 1; // 1 is now the most recent
        *t.entry(3, || 0) += 1; // evicts 2
        assert_eq!(t.len(), 2);
        assert_eq!(t.evicted(), 1);
        assert_eq!(t.peek(&1), Some(&2));
        assert!(t.peek(&2).is_none());
    }
}
