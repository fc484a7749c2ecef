//! Sampling rates learned from options data: samplingInterval (34), samplerRandomInterval (50),
//! samplingPacketInterval/Space (305/306), or samplingSize/Population (309/310, as IOS-XR sends them), either
//! for a whole domain or per sampler (samplerId 48, selectorId 302). A flow record that names its own interval or sampler wins over the domain's rate.

use std::collections::HashMap;

use super::cache::Scope;
use super::{uint, DataRecord, Protocol};

/// Samplers remembered per domain.
const MAX_SAMPLERS: usize = 64;

#[derive(Default)]
struct Rates {
    domain: Option<u32>,
    samplers: Vec<(u64, u32)>,
}

pub(super) struct Sampling {
    scopes: HashMap<Scope, Rates>,
    cap: usize,
}

/// The sampling-related elements of one record.
#[derive(Default)]
struct Seen {
    interval: Option<u64>,
    packet_interval: Option<u64>,
    packet_space: Option<u64>,
    /// samplingSize packets taken out of every samplingPopulation.
    size: Option<u64>,
    population: Option<u64>,
    sampler: Option<u64>,
}

impl Seen {
    fn of(rec: &DataRecord<'_>, protocol: Protocol) -> Self {
        // v9 scope fields use their own type numbers (system, interface...), not element ids.
        let skip = match protocol {
            Protocol::V9 => usize::from(rec.template.scope_fields),
            Protocol::Ipfix => 0,
        };
        let mut s = Seen::default();
        for (f, v) in rec.fields().skip(skip).filter(|(f, _)| f.enterprise == 0) {
            match f.id {
                34 | 50 => s.interval = uint(v),
                305 => s.packet_interval = uint(v),
                306 => s.packet_space = uint(v),
                309 => s.size = uint(v),
                310 => s.population = uint(v),
                48 | 302 => s.sampler = uint(v),
                _ => {}
            }
        }
        s
    }

    fn rate(&self) -> Option<u32> {
        let r = match (self.interval, self.packet_interval, self.packet_space) {
            (Some(n), _, _) => n,
            (None, Some(i), Some(s)) if i > 0 => i.checked_add(s)? / i,
            _ => match (self.size, self.population) {
                (Some(size), Some(population)) if size > 0 => population / size,
                _ => return None,
            },
        };
        (r > 0).then(|| r.min(u64::from(u32::MAX)) as u32)
    }
}

impl Sampling {
    pub fn new(cap: usize) -> Self {
        Self {
            scopes: HashMap::new(),
            cap: cap.max(1),
        }
    }

    pub fn learn(&mut self, scope: Scope, rec: &DataRecord<'_>) {
        let seen = Seen::of(rec, scope.protocol);
        let Some(rate) = seen.rate() else { return };
        if !self.scopes.contains_key(&scope) && self.scopes.len() >= self.cap {
            let victim = self.scopes.keys().next().copied();
            victim.map(|k| self.scopes.remove(&k));
        }
        let r = self.scopes.entry(scope).or_default();
        match seen.sampler {
            None => r.domain = Some(rate),
            Some(id) => {
                r.samplers.retain(|(s, _)| *s != id);
                r.samplers.truncate(MAX_SAMPLERS - 1);
                r.samplers.push((id, rate));
            }
        }
    }

    pub fn rate(&self, scope: Scope, rec: &DataRecord<'_>) -> Option<u32> {
        let names_sampling = rec.template.fields.iter().any(|f| {
            f.enterprise == 0 && matches!(f.id, 34 | 50 | 305 | 306 | 309 | 310 | 48 | 302)
        });
        if !names_sampling {
            return self.scopes.get(&scope).and_then(|r| r.domain);
        }
        let seen = Seen::of(rec, scope.protocol);
        if let Some(rate) = seen.rate() {
            return Some(rate);
        }
        let r = self.scopes.get(&scope)?;
        let by_sampler = seen.sampler.and_then(|id| {
            r.samplers
                .iter()
                .find(|(s, _)| *s == id)
                .map(|(_, rate)| *rate)
        });
        by_sampler.or(r.domain)
    }
}
