//! Routing rules: which destinations and groups a datagram goes to. Pure: the facts a rule may ask about
//! (syslog fields, SNMP trap fields, the NetFlow/IPFIX domain) are decoded lazily, only when a rule asks.

use std::cell::OnceCell;
use std::net::IpAddr;

use wire::kind::Kind;

use config::{ForwardConfig, KindSelector, Match, RulesMode, SnmpVersion};

/// Where a rule sends: a destination or a group (indexes into the configuration's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Dest(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    To(Vec<Target>),
    Drop,
}

struct Rule {
    when: Match,
    action: Action,
}

/// What a datagram gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    To(Vec<Target>),
    /// A `drop` rule matched (its index).
    Dropped(usize),
    /// No rule matched.
    Unrouted,
}

/// The compiled rules: the configured ones, then one implicit rule per destination with `kinds`.
#[derive(Default)]
pub struct Router {
    rules: Vec<Rule>,
    mode: RulesMode,
    /// Datagrams each rule matched.
    pub matched: Vec<u64>,
}

impl Router {
    /// Compiles the rules; names were checked with the configuration.
    pub fn new(cfg: &ForwardConfig) -> Result<Router, String> {
        let mut rules = Vec::new();
        for r in &cfg.rule {
            let action = match r.drop {
                true => Action::Drop,
                false => Action::To(
                    r.to.iter()
                        .map(|n| resolve(cfg, n))
                        .collect::<Result<_, _>>()?,
                ),
            };
            rules.push(Rule {
                when: r.when.clone(),
                action,
            });
        }
        for (i, d) in cfg
            .destination
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.kinds.is_empty())
        {
            let when = Match {
                kinds: d.kinds.clone(),
                ..Match::default()
            };
            rules.push(Rule {
                when,
                action: Action::To(vec![Target::Dest(i)]),
            });
        }
        Ok(Router {
            matched: vec![0; rules.len()],
            rules,
            mode: cfg.rules_mode,
        })
    }

    /// The number of configured plus implicit rules.
    pub fn count(&self) -> usize {
        self.rules.len()
    }

    pub fn route(&mut self, facts: &Facts<'_>) -> Verdict {
        let mut to: Vec<Target> = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !matches(&r.when, facts) {
                continue;
            }
            self.matched[i] += 1;
            match &r.action {
                Action::Drop => return Verdict::Dropped(i),
                Action::To(t) => t.iter().for_each(|t| {
                    if !to.contains(t) {
                        to.push(*t)
                    }
                }),
            }
            if self.mode == RulesMode::First {
                break;
            }
        }
        match to.is_empty() {
            true => Verdict::Unrouted,
            false => Verdict::To(to),
        }
    }
}

/// A name to its destination or group.
pub fn resolve(cfg: &ForwardConfig, name: &str) -> Result<Target, String> {
    if let Some(i) = cfg.destination.iter().position(|d| d.name() == name) {
        return Ok(Target::Dest(i));
    }
    cfg.group
        .iter()
        .position(|g| g.name == name)
        .map(Target::Group)
        .ok_or_else(|| format!("`{name}` is neither a destination nor a group"))
}

/// What rules may ask about one datagram; decoded on first use.
pub struct Facts<'a> {
    pub kind: Option<Kind>,
    pub exporter: IpAddr,
    pub payload: &'a [u8],
    syslog: OnceCell<Option<wire::syslog::Message<'a>>>,
    snmp: OnceCell<Option<SnmpFacts>>,
    domain: OnceCell<Option<u32>>,
}

struct SnmpFacts {
    version: SnmpVersion,
    community: Option<Vec<u8>>,
    trap_oid: Option<Vec<u32>>,
}

impl<'a> Facts<'a> {
    pub fn new(kind: Option<Kind>, exporter: IpAddr, payload: &'a [u8]) -> Self {
        Self {
            kind,
            exporter,
            payload,
            syslog: OnceCell::new(),
            snmp: OnceCell::new(),
            domain: OnceCell::new(),
        }
    }

    fn syslog(&self) -> Option<&wire::syslog::Message<'a>> {
        self.syslog
            .get_or_init(|| {
                let first = wire::syslog::frames(self.payload).next()?.ok()?;
                (self.kind == Some(Kind::Syslog))
                    .then(|| wire::syslog::parse(first).ok())
                    .flatten()
            })
            .as_ref()
    }

    fn snmp(&self) -> Option<&SnmpFacts> {
        self.snmp.get_or_init(|| self.decode_snmp()).as_ref()
    }

    fn decode_snmp(&self) -> Option<SnmpFacts> {
        use wire::snmp::{parse, Usm, Version};
        if self.kind != Some(Kind::Snmptrap) {
            return None;
        }
        // Without users: v1, v2c and unauthenticated v3 decode; other v3 messages show only their version.
        let m = parse(self.payload, &mut Usm::default()).ok();
        let version = match m.as_ref().map(|m| m.version) {
            Some(Version::V1) => SnmpVersion::V1,
            Some(Version::V2c) => SnmpVersion::V2c,
            Some(Version::V3) => SnmpVersion::V3,
            None => wire::classify::confirm(wire::kind::Family::Snmptrap, self.payload)
                .ok()
                .filter(|c| c.variant == 3)
                .map(|_| SnmpVersion::V3)?,
        };
        Some(SnmpFacts {
            version,
            community: m.as_ref().and_then(|m| m.community.clone()),
            trap_oid: m.and_then(|m| m.trap_oid()).map(|o| o.arcs().to_vec()),
        })
    }

    fn domain(&self) -> Option<u32> {
        *self.domain.get_or_init(|| match self.kind {
            Some(Kind::NetflowV9 | Kind::Ipfix) => wire::netflow::header(self.payload)
                .ok()
                .map(|(h, _)| h.domain),
            _ => None,
        })
    }
}

/// Every given condition holds.
fn matches(m: &Match, f: &Facts<'_>) -> bool {
    any_or_empty(&m.kinds, |k: &KindSelector| k.matches(f.kind))
        && any_or_empty(&m.exporters, |c| c.contains(f.exporter))
        && syslog_matches(m, f)
        && snmp_matches(m, f)
        && any_or_empty(&m.domains, |d| f.domain() == Some(*d))
}

fn any_or_empty<T>(list: &[T], pred: impl Fn(&T) -> bool) -> bool {
    list.is_empty() || list.iter().any(pred)
}

fn syslog_matches(m: &Match, f: &Facts<'_>) -> bool {
    let asks = !m.facilities.is_empty()
        || !m.severities.is_empty()
        || !m.hosts.is_empty()
        || !m.apps.is_empty()
        || m.message.is_some();
    if !asks {
        return true;
    }
    let Some(s) = f.syslog() else { return false };
    any_or_empty(&m.facilities, |x| x.0 == s.facility)
        && any_or_empty(&m.severities, |x| x.0 == s.severity)
        && any_or_empty(&m.hosts, |h| s.hostname == Some(h.as_bytes()))
        && any_or_empty(&m.apps, |a| s.app == Some(a.as_bytes()))
        && m.message.as_ref().is_none_or(|p| p.0.is_match(s.message))
}

fn snmp_matches(m: &Match, f: &Facts<'_>) -> bool {
    let asks = !m.trap_oids.is_empty() || !m.communities.is_empty() || !m.snmp_versions.is_empty();
    if !asks {
        return true;
    }
    let Some(s) = f.snmp() else { return false };
    let oid = s.trap_oid.as_deref();
    any_or_empty(&m.snmp_versions, |v| *v == s.version)
        && any_or_empty(&m.communities, |c| {
            s.community.as_deref() == Some(c.as_bytes())
        })
        && any_or_empty(&m.trap_oids, |p| oid.is_some_and(|o| o.starts_with(&p.0)))
}

#[cfg(test)]
mod tests;
