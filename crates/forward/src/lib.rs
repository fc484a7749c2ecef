//! Forward's logic, without process wiring: take checked envelopes and send each payload, byte-exact, where
//! the routing rules say — destinations (plain UDP, spoofed UDP, TCP/TLS syslog) and groups of them, each
//! with its own 1-in-N sampling. `route.rs` decides, `group.rs` picks group members, `dest.rs` owns the sinks.
//! The binary's `forward` role feeds [`Forwarder`] from the subscriber skeleton.
#![forbid(unsafe_code)]

mod dest;
mod group;
mod informs;
mod report;
pub mod route;
mod traps;

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::{Destination, ForwardConfig, KindSelector, Scheme};
use envelope::Envelope;
use runtime::histogram::Histogram;
use wire::classify::{Mismatch, FLAG_MISMATCHED};
use wire::kind::Kind;

use dest::{Dest, Item, RequestIds, Rewritten};
use group::{GroupState, Pick};
use informs::Delivery;
use route::{Facts, Router, Target, Verdict};

pub use dest::OpenError;
pub use report::{DestinationReport, ForwardReport};

/// A forward configuration that cannot be put in place.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no destination: give --to KIND=udp://HOST:PORT (or [[forward.destination]])")]
    NoDestination,
    #[error("destination {name}: {source}")]
    Open { name: String, source: OpenError },
    #[error("forward.rule: {0}")]
    Rule(String),
    #[error("group {group}: member `{member}` is not a destination")]
    Member { group: String, member: String },
}

/// The kinds a forwarder must subscribe to: every kind a rule or destination can route; everything when a
/// rule does not restrict kinds.
pub fn kinds(cfg: &ForwardConfig) -> Vec<KindSelector> {
    if cfg.rule.iter().any(|r| !r.drop && r.when.kinds.is_empty()) {
        return vec![KindSelector::All];
    }
    let rule_kinds = cfg
        .rule
        .iter()
        .filter(|r| !r.drop)
        .flat_map(|r| r.when.kinds.iter());
    rule_kinds
        .chain(cfg.destination.iter().flat_map(|d| d.kinds.iter()))
        .copied()
        .collect()
}

/// Destinations a reload removed: each delivers what it holds, then its final counters are logged.
fn close_in_background(gone: Vec<Dest>) {
    for d in gone {
        std::thread::spawn(move || {
            let r = d.close();
            tracing::info!(
                "forward: destination {} removed: forwarded={} dropped_at_exit={}",
                r.name,
                r.forwarded,
                r.dropped_at_exit
            );
        });
    }
}

fn open_groups(cfg: &ForwardConfig) -> Result<Vec<GroupState>, ForwardError> {
    cfg.group
        .iter()
        .map(|g| {
            let members = g
                .members
                .iter()
                .map(|m| match route::resolve(cfg, m) {
                    Ok(Target::Dest(i)) => Ok(i),
                    _ => Err(ForwardError::Member {
                        group: g.name.clone(),
                        member: m.clone(),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(GroupState::new(g, members))
        })
        .collect()
}

/// Where a destination of a prepared configuration comes from.
enum Slot {
    /// A running destination (its index) whose settings did not change: it keeps its socket and queue.
    Kept(usize),
    /// Opened for the new configuration.
    Opened(Box<Dest>),
}

/// A configuration ready to take over: everything that can fail (opening new destinations, compiling rules)
/// is done. Dropping it leaves the running forwarder as it was.
pub struct Prepared {
    router: Router,
    groups: Vec<GroupState>,
    group_names: Vec<String>,
    /// Each destination of the new configuration, in order.
    dests: Vec<Slot>,
    configs: Vec<Destination>,
    source_port: u16,
    kinds: Vec<KindSelector>,
}

impl Prepared {
    /// The kinds the new configuration needs from the bus.
    pub fn kinds(&self) -> &[KindSelector] {
        &self.kinds
    }

    pub fn destinations(&self) -> usize {
        self.dests.len()
    }
}

/// One forwarder's state while it runs.
#[derive(Default)]
pub struct Forwarder {
    dests: Vec<Dest>,
    /// The configuration each destination was opened with (to keep it across a reload when unchanged).
    configs: Vec<Destination>,
    /// The source port plain UDP destinations' sockets are bound to.
    source_port: u16,
    groups: Vec<GroupState>,
    /// The groups' names, to carry a group's state across a reload.
    group_names: Vec<String>,
    router: Router,
    latency: Histogram,
    /// Request-ids of v1 traps translated to v2c, kept across reloads.
    request_ids: RequestIds,
    /// Capture timestamps of the batch's routed envelopes, for the latency histogram.
    stamps: Vec<u64>,
    report: ForwardReport,
    /// When destinations' answers were last read ([`Forwarder::read_answers`]).
    answers_read_at: Option<Instant>,
}

/// How often, at most, forward reads what destinations sent back while batches flow (a read is one
/// nonblocking syscall per UDP destination, not worth making per batch at low rates).
const ANSWER_READ_EVERY: Duration = Duration::from_millis(100);

/// Who gets one datagram, and who gets only its templates.
#[derive(Default)]
struct Deliveries {
    full: Vec<usize>,
    templates_only: Vec<usize>,
}

impl Forwarder {
    /// Starts from nothing: the one way a configuration takes over, at start as at a reload.
    pub fn open(cfg: &ForwardConfig) -> Result<Self, ForwardError> {
        let mut f = Forwarder::default();
        let p = f.prepare(cfg)?;
        f.commit(p);
        Ok(f)
    }

    pub fn destinations(&self) -> usize {
        self.dests.len()
    }

    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    pub fn rules(&self) -> usize {
        self.router.count()
    }

    /// Routes one batch of checked envelopes (or of anything that holds one, such as the subscriber's
    /// deliveries, so no copy of the batch is made), then sends each destination its share with one batched
    /// call. The work is done by non-generic methods, compiled (and inlined) in this crate.
    pub fn forward<'a, E: AsRef<Envelope<&'a [u8]>>>(&mut self, batch: &[E]) {
        let ups = self.reachability();
        for (i, e) in batch.iter().enumerate() {
            self.route_one(&ups, i, e.as_ref());
        }
        self.send_batch(&|i| batch.get(i).map_or(&[][..], |e| e.as_ref().payload()));
        self.read_answers(false);
    }

    /// Nothing arrived for a while: reads what destinations sent back and resends the informs due.
    pub fn tick(&mut self) {
        self.read_answers(false);
    }

    /// Reads and counts what destinations sent back (SNMP Responses to informs, Reports) and resends the
    /// informs whose time has come: at most every [`ANSWER_READ_EVERY`] unless `now`.
    fn read_answers(&mut self, now: bool) {
        let at = Instant::now();
        let recent = self
            .answers_read_at
            .is_some_and(|t| at.duration_since(t) < ANSWER_READ_EVERY);
        if recent && !now {
            return;
        }
        self.answers_read_at = Some(at);
        self.dests.iter_mut().for_each(Dest::read_answers);
    }

    /// Reachability as of this batch (groups skip members that are down).
    fn reachability(&self) -> Vec<bool> {
        match self.groups.is_empty() {
            true => Vec::new(),
            false => self.dests.iter().map(Dest::up).collect(),
        }
    }

    /// Runs the rules for datagram `i` of the batch and queues it where they say.
    fn route_one(&mut self, ups: &[bool], i: usize, e: &Envelope<&[u8]>) {
        if e.flags() & FLAG_MISMATCHED != 0 {
            self.count_mismatched(e);
        }
        match self
            .router
            .route(&Facts::new(e.kind(), e.src(), e.payload()))
        {
            Verdict::Dropped(_) => self.report.dropped_by_rule += 1,
            Verdict::Unrouted => self.report.unrouted += 1,
            Verdict::To(targets) => {
                self.report.routed += 1;
                self.deliver(ups, i, e, &targets);
                self.stamps.push(e.timestamp_ns());
            }
        }
    }

    /// Counts a datagram capture flagged as not fitting its port's kind, under the reason it did not fit.
    fn count_mismatched(&mut self, e: &Envelope<&[u8]>) {
        self.report.mismatched += 1;
        if let Some(kind) = e.kind() {
            if let Some(reason) = wire::classify::refusal(kind, e.payload()) {
                self.report.refused.add(Mismatch { kind, reason });
            }
        }
    }

    /// Sends every destination what is queued for it; `payload` resolves batch indexes.
    fn send_batch<'a>(&mut self, payload: &dyn Fn(usize) -> &'a [u8]) {
        self.dests.iter_mut().for_each(|d| d.flush(payload));
        self.replay_templates();
        let sent_at = runtime::now_ns();
        for ts in self.stamps.drain(..) {
            self.latency.record(sent_at.saturating_sub(ts));
        }
    }

    /// Queues datagram `i` for every destination its targets name (group members chosen here).
    fn deliver(&mut self, ups: &[bool], i: usize, e: &Envelope<&[u8]>, targets: &[Target]) {
        let src = SocketAddr::new(e.src(), e.src_port());
        let templates = OnceCell::new();
        let template_only = || {
            templates
                .get_or_init(|| match e.kind() {
                    Some(Kind::NetflowV9 | Kind::Ipfix) => {
                        wire::netflow::split::template_only(e.payload())
                    }
                    _ => None,
                })
                .as_ref()
        };
        let who = self.who(ups, e, targets, src, &template_only);
        for d in who.full {
            let dest = &mut self.dests[d];
            dest.report.routed += 1;
            if !dest.takes(e.kind()) {
                dest.report.wrong_kind += 1;
                continue;
            }
            if dest.keep() {
                let rewritten = match dest.rewrite.any() {
                    true => {
                        let ids = &mut self.request_ids;
                        dest.rewrite.apply(e.kind(), e.src(), e.payload(), ids)
                    }
                    false => Rewritten::Unchanged,
                };
                let item = match rewritten {
                    Rewritten::Unchanged => Item::Batch(i),
                    Rewritten::Changed(bytes) => {
                        dest.report.rewritten += 1;
                        Item::Owned(bytes)
                    }
                    Rewritten::Untranslated(why) => {
                        *dest.report.v1_untranslated.entry(why.name()).or_default() += 1;
                        Item::Batch(i)
                    }
                };
                // an inform goes as this forwarder's own (or as a trap), whatever rewrite it had
                let inform = match &item {
                    Item::Owned(bytes) => dest.inform_copy(e.flags(), bytes),
                    Item::Batch(_) => dest.inform_copy(e.flags(), e.payload()),
                };
                match inform {
                    Delivery::AsIs => dest.pending.push((src, item)),
                    Delivery::Send(m) | Delivery::Held(Some(m)) => {
                        dest.pending.push((src, Item::Owned(m)))
                    }
                    Delivery::Held(None) => {}
                }
                continue;
            }
            dest.report.sampled_out += 1;
            if let Some(t) = template_only() {
                dest.push_templates(src, t.clone());
            }
        }
        for d in who.templates_only {
            let dest = &mut self.dests[d];
            if let (true, Some(t)) = (dest.takes(e.kind()), template_only()) {
                dest.push_templates(src, t.clone());
            }
        }
    }

    /// Resolves targets to destinations: groups pick their member(s); templates are remembered for replays.
    fn who<'t>(
        &mut self,
        ups: &[bool],
        e: &Envelope<&[u8]>,
        targets: &[Target],
        src: SocketAddr,
        template_only: &impl Fn() -> Option<&'t Vec<u8>>,
    ) -> Deliveries {
        let mut w = Deliveries::default();
        let up = |d: usize| ups.get(d).copied().unwrap_or(true);
        for t in targets {
            match *t {
                Target::Dest(d) => w.full.push(d),
                Target::Group(g) => {
                    let grp = &mut self.groups[g];
                    match grp.pick(e.src(), &up) {
                        Pick::Every => w.full.extend(&grp.members),
                        Pick::One(m) => {
                            w.full.push(m);
                            w.templates_only
                                .extend(grp.members.iter().filter(|&&x| x != m));
                        }
                    }
                    if let Some(t) = template_only() {
                        grp.remember(src, t);
                    }
                }
            }
        }
        w.full.sort_unstable();
        w.full.dedup();
        w.templates_only.retain(|d| !w.full.contains(d));
        w.templates_only.sort_unstable();
        w.templates_only.dedup();
        w
    }

    /// A group member that came back gets its group's templates at once.
    fn replay_templates(&mut self) {
        if self.groups.is_empty() {
            return;
        }
        let up: Vec<bool> = self.dests.iter().map(Dest::up).collect();
        let mut replays = Vec::new();
        for g in &mut self.groups {
            replays.extend(g.comebacks(&|d| up[d]));
        }
        for (d, templates) in replays {
            let dest = &mut self.dests[d];
            if !dest.takes(Some(Kind::NetflowV9)) {
                continue;
            }
            for (src, t) in templates {
                dest.push_templates(src, t);
            }
            dest.report.template_replays += 1;
            dest.flush(&|_| &[][..]);
        }
    }

    /// The counters now.
    pub fn snapshot(&mut self) -> ForwardReport {
        self.read_answers(true);
        self.report.latency_ns = self.latency.percentiles();
        self.report.rules_matched = self.router.matched.clone();
        self.report.destinations = self.dests.iter().map(Dest::snapshot).collect();
        self.report.clone()
    }

    /// Readies a new configuration without touching the running one: destinations whose settings did not
    /// change will keep their sockets, connections and queues; new ones are opened now, so any failure
    /// leaves the running configuration as it was.
    pub fn prepare(&self, f: &ForwardConfig) -> Result<Prepared, ForwardError> {
        if f.destination.is_empty() {
            return Err(ForwardError::NoDestination);
        }
        let router = Router::new(f).map_err(ForwardError::Rule)?;
        let groups = open_groups(f)?;
        // A plain UDP socket is bound to the source port: a new port needs a new socket.
        let port_changed = f.source_port != self.source_port;
        let mut dests = Vec::with_capacity(f.destination.len());
        for d in &f.destination {
            // Names are unique (the configuration checks them), so a running destination is kept at most once.
            let rebind = port_changed && matches!(d.url.scheme, Scheme::Udp(_));
            let kept = match rebind {
                true => None,
                false => self.configs.iter().position(|c| c == d),
            };
            dests.push(match kept {
                Some(j) => Slot::Kept(j),
                None => {
                    let opened =
                        Dest::open(d, f.source_port).map_err(|source| ForwardError::Open {
                            name: d.name().to_owned(),
                            source,
                        })?;
                    Slot::Opened(Box::new(opened))
                }
            });
        }
        Ok(Prepared {
            router,
            groups,
            group_names: f.group.iter().map(|g| g.name.clone()).collect(),
            dests,
            configs: f.destination.clone(),
            source_port: f.source_port,
            kinds: kinds(f),
        })
    }

    /// Puts a prepared configuration in place (nothing here can fail): kept destinations move over, removed
    /// ones deliver what they hold and close in the background, groups keep what they knew.
    pub fn commit(&mut self, p: Prepared) {
        let mut old: Vec<Option<Dest>> = std::mem::take(&mut self.dests)
            .into_iter()
            .map(Some)
            .collect();
        self.dests = p
            .dests
            .into_iter()
            .filter_map(|d| match d {
                Slot::Opened(fresh) => Some(*fresh),
                Slot::Kept(j) => old[j].take(),
            })
            .collect();
        close_in_background(old.into_iter().flatten().collect());
        let mut groups = p.groups;
        for (name, new) in p.group_names.iter().zip(groups.iter_mut()) {
            if let Some(i) = self.group_names.iter().position(|n| n == name) {
                new.adopt(std::mem::replace(&mut self.groups[i], GroupState::empty()));
            }
        }
        (self.router, self.groups, self.group_names) = (p.router, groups, p.group_names);
        self.configs = p.configs;
        self.source_port = p.source_port;
        self.report.rules_matched = vec![0; self.router.count()];
    }

    /// Final counters, after stream destinations delivered what they hold (or gave up).
    pub fn close(mut self) -> ForwardReport {
        let mut report = self.snapshot();
        report.destinations = Dest::close_all(self.dests);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::parse_to;

    #[test]
    fn kinds_cover_the_destinations_and_rules() {
        let d = |s: &str| parse_to(s).unwrap();
        let cfg = |dests: Vec<_>| ForwardConfig {
            destination: dests,
            ..ForwardConfig::default()
        };
        let prefixes = |c: &ForwardConfig| envelope::prefixes(kinds(c));
        let p = prefixes(&cfg(vec![
            d("syslog=udp://127.0.0.1:1"),
            d("netflow=udp://127.0.0.1:2"),
            d("syslog=udp://127.0.0.1:3"),
        ]));
        assert_eq!(p, vec!["syslog/".to_owned(), "netflow-".to_owned()]);
        assert!(prefixes(&cfg(vec![
            d("all=udp://127.0.0.1:1"),
            d("sflow=udp://127.0.0.1:2")
        ]))
        .is_empty());
        let text = "[[forward.destination]]\nname = \"a\"\nurl = \"udp://127.0.0.1:1\"\n\
                    [[forward.rule]]\nmatch.kinds = [\"sflow\"]\nto = [\"a\"]\n";
        let c = config::Config::parse("t.toml", text).unwrap();
        assert_eq!(prefixes(&c.forward), vec!["sflow/".to_owned()]);
        let text = text.replace(
            "match.kinds = [\"sflow\"]",
            "match.exporters = [\"10.0.0.0/8\"]",
        );
        let c = config::Config::parse("t.toml", &text).unwrap();
        assert!(prefixes(&c.forward).is_empty());
    }

    #[test]
    fn a_reload_keeps_unchanged_destinations_and_refuses_what_cannot_open() {
        let d = |s: &str| parse_to(s).unwrap();
        let cfg = |dests: Vec<_>| ForwardConfig {
            destination: dests,
            ..ForwardConfig::default()
        };
        let mut f = Forwarder::open(&cfg(vec![d("syslog=udp://127.0.0.1:9")])).unwrap();
        let p = f
            .prepare(&cfg(vec![
                d("syslog=udp://127.0.0.1:9"),
                d("sflow=udp://127.0.0.1:10"),
            ]))
            .unwrap();
        assert!(
            matches!(p.dests[..], [Slot::Kept(0), Slot::Opened(_)]),
            "the first one is kept"
        );
        f.commit(p);
        assert_eq!(f.destinations(), 2);
        let missing_ca = ForwardConfig {
            destination: vec![Destination {
                tls_ca: Some("/nonexistent/ca.pem".into()),
                ..d("syslog=tls://127.0.0.1:6514")
            }],
            ..ForwardConfig::default()
        };
        assert!(matches!(
            f.prepare(&missing_ca),
            Err(ForwardError::Open { .. })
        ));
        assert_eq!(f.destinations(), 2, "a refused reload changes nothing");
        assert!(matches!(
            f.prepare(&cfg(vec![])),
            Err(ForwardError::NoDestination)
        ));
    }

    #[test]
    fn v1_traps_translate_with_unique_request_ids_or_pass_counted() {
        const V1: &[u8] = include_bytes!("../../wire/tests/data/snmp/v1.bin");
        const V1_RFC3584: &[u8] = include_bytes!("../../wire/tests/data/snmp/v1_rfc3584.bin");
        const V1_GENERIC7: &[u8] = include_bytes!("../../wire/tests/data/snmp/v1_generic7.bin");
        const V1_NEGATIVE: &[u8] =
            include_bytes!("../../wire/tests/data/snmp/v1_negative_specific.bin");
        const V2: &[u8] = include_bytes!("../../wire/tests/data/snmp/v2.bin");
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let url = format!("snmptrap=udp://{}", receiver.local_addr().unwrap());
        let cfg = ForwardConfig {
            destination: vec![Destination {
                v1_to_v2c: true,
                ..parse_to(&url).unwrap()
            }],
            ..ForwardConfig::default()
        };
        let mut f = Forwarder::open(&cfg).unwrap();
        f.request_ids = RequestIds::starting_at(i32::MAX - 1);
        let sent = [V1, V1_RFC3584, V1_GENERIC7, V1_NEGATIVE, V2];
        let bodies: Vec<Vec<u8>> = sent
            .iter()
            .map(|p| {
                let mut h = envelope::Header::for_kind(Kind::Snmptrap);
                h.src = "127.0.0.41".parse().unwrap();
                let mut body = Vec::new();
                h.encode(p, &mut body);
                body
            })
            .collect();
        struct Delivery<'a>(Envelope<&'a [u8]>);
        impl<'a> AsRef<Envelope<&'a [u8]>> for Delivery<'a> {
            fn as_ref(&self) -> &Envelope<&'a [u8]> {
                &self.0
            }
        }
        let batch: Vec<_> = bodies
            .iter()
            .map(|b| Delivery(Envelope::new_checked(&b[..]).unwrap()))
            .collect();
        f.forward(&batch);
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        for _ in &sent {
            let n = receiver.recv(&mut buf).unwrap();
            got.push(buf[..n].to_vec());
        }
        let decode = |p: &[u8]| wire::snmp::parse(p, &mut wire::snmp::Usm::default()).unwrap();
        let ids: Vec<Option<i32>> = got[..3].iter().map(|p| decode(p).pdu.request_id).collect();
        assert_eq!(
            ids,
            [Some(i32::MAX - 1), Some(i32::MAX), Some(1)],
            "wraps past 0"
        );
        assert!(got[..3]
            .iter()
            .all(|p| decode(p).pdu.kind == wire::snmp::PduKind::TrapV2));
        assert_eq!(got[3], V1_NEGATIVE, "untranslatable: sent as it came");
        assert_eq!(got[4], V2, "not a v1 trap: sent as it came");
        let r = &f.snapshot().destinations[0];
        assert_eq!((r.routed, r.rewritten, r.forwarded), (5, 3, 5));
        assert_eq!(
            r.v1_untranslated,
            std::collections::BTreeMap::from([("specific_trap_out_of_range", 1)])
        );
    }

    #[test]
    fn request_ids_are_positive_and_never_repeat_within_a_cycle() {
        let mut ids = RequestIds::default();
        let first = ids.next();
        assert!(first > 0);
        let mut seen = std::collections::HashSet::from([first]);
        for _ in 0..10_000 {
            let id = ids.next();
            assert!(id > 0 && seen.insert(id), "{id}");
        }
        assert_eq!(RequestIds::starting_at(0).next(), 1);
        assert_ne!(
            (0..8)
                .map(|_| RequestIds::default().next())
                .collect::<std::collections::HashSet<_>>()
                .len(),
            1,
            "each forwarder starts somewhere else"
        );
    }
}
