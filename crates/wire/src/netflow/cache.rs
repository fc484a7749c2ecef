//! The template cache: one template per (exporter, observation domain / source id, protocol, template id),
//! bounded in entries and expired by age. Time is whatever clock the caller passes (capture time), so a pcap
//! replays with the expiry it had live.

use std::collections::HashMap;
use std::net::IpAddr;

use super::template::Template;
use super::Protocol;

/// Where templates live: RFC 7011 scopes templates to the exporter and observation domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    pub exporter: IpAddr,
    pub domain: u32,
    pub protocol: Protocol,
}

/// Bounds of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Templates held at most, over all exporters; the least recently refreshed one makes room.
    pub max_templates: usize,
    /// A template not refreshed for this long is forgotten.
    pub expiry_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_templates: 4096,
            expiry_secs: 1800,
        }
    }
}

/// What happened to templates, for the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CacheStats {
    pub learned: u64,
    pub refreshed: u64,
    pub changed: u64,
    pub withdrawn: u64,
    pub expired: u64,
    pub evicted: u64,
}

struct Entry {
    template: Template,
    seen: u64,
}

pub struct TemplateCache {
    entries: HashMap<(Scope, u16), Entry>,
    limits: Limits,
    pub stats: CacheStats,
}

impl TemplateCache {
    pub fn new(limits: Limits) -> Self {
        Self {
            entries: HashMap::new(),
            limits,
            stats: CacheStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The live template `id` of `scope`; an expired one is dropped and counted.
    pub fn get(&mut self, scope: Scope, id: u16, now: u64) -> Option<&Template> {
        let key = (scope, id);
        let stale = self
            .entries
            .get(&key)?
            .seen
            .saturating_add(self.limits.expiry_secs)
            < now;
        if stale {
            self.entries.remove(&key);
            self.stats.expired += 1;
            return None;
        }
        self.entries.get(&key).map(|e| &e.template)
    }

    pub fn insert(&mut self, scope: Scope, template: Template, now: u64) {
        let key = (scope, template.id);
        match self.entries.get_mut(&key) {
            Some(e) => {
                self.stats.refreshed += 1;
                if e.template != template {
                    self.stats.changed += 1;
                    e.template = template;
                }
                e.seen = now;
            }
            None => {
                self.make_room();
                self.stats.learned += 1;
                self.entries.insert(
                    key,
                    Entry {
                        template,
                        seen: now,
                    },
                );
            }
        }
    }

    pub fn withdraw(&mut self, scope: Scope, id: u16) {
        if self.entries.remove(&(scope, id)).is_some() {
            self.stats.withdrawn += 1;
        }
    }

    fn make_room(&mut self) {
        if self.entries.len() < self.limits.max_templates.max(1) {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.seen)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.entries.remove(&k);
            self.stats.evicted += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netflow::template::FieldSpec;

    fn scope(domain: u32) -> Scope {
        Scope {
            exporter: "192.0.2.1".parse().unwrap(),
            domain,
            protocol: Protocol::V9,
        }
    }

    fn template(id: u16, len: u16) -> Template {
        Template {
            id,
            options: false,
            scope_fields: 0,
            fields: vec![FieldSpec {
                id: 1,
                enterprise: 0,
                len,
            }],
            repeats: false,
        }
    }

    #[test]
    fn scoped_by_domain_refreshed_and_expired() {
        let mut c = TemplateCache::new(Limits {
            max_templates: 10,
            expiry_secs: 60,
        });
        c.insert(scope(1), template(256, 4), 100);
        assert!(c.get(scope(2), 256, 100).is_none());
        assert_eq!(c.get(scope(1), 256, 160).map(|t| t.fields[0].len), Some(4));
        c.insert(scope(1), template(256, 8), 150);
        assert_eq!((c.stats.refreshed, c.stats.changed), (1, 1));
        assert!(c.get(scope(1), 256, 211).is_none());
        assert_eq!(c.stats.expired, 1);
    }

    #[test]
    fn the_cap_evicts_the_oldest() {
        let mut c = TemplateCache::new(Limits {
            max_templates: 2,
            expiry_secs: 60,
        });
        c.insert(scope(1), template(256, 4), 1);
        c.insert(scope(1), template(257, 4), 2);
        c.insert(scope(1), template(258, 4), 3);
        assert_eq!((c.len(), c.stats.evicted), (2, 1));
        assert!(c.get(scope(1), 256, 3).is_none());
        assert!(c.get(scope(1), 258, 3).is_some());
        c.withdraw(scope(1), 258);
        assert_eq!((c.len(), c.stats.withdrawn), (1, 1));
    }
}
