//! `sekiwake forward`: take envelopes off the bus and send each payload, byte-exact, where the routing rules
//! say: destinations (plain UDP, spoofed UDP, TCP/TLS syslog) and groups of them, each with its own 1-in-N
//! sampling. `route.rs` decides, `group.rs` picks group members, `dest.rs` owns the sinks.

mod dest;
mod group;
mod route;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use bus::{Received, Recv, Subscriber};
use envelope::Envelope;
use wire::kind::Kind;

use super::Stop;
use crate::config::{Config, Destination, ForwardConfig, KindSelector, Scheme};
use crate::metrics::{ForwardReport, Reporter};
use dest::{Dest, Item};
use group::{GroupState, Pick};
use route::{Facts, Router, Target, Verdict};

/// Messages taken off the bus per round before sending.
const BATCH: usize = 512;
const IDLE_WAIT_MS: i64 = 100;
/// At shutdown, how long forward keeps sending what is already queued on its side of the bus.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Tracks the next expected sequence number of each (publisher, kind, bucket) stream to count datagrams
/// lost on the bus. Subscriptions cover whole kinds, so every stream seen is seen whole.
#[derive(Default)]
struct Gaps {
    next: HashMap<(u64, u8, u8), u64>,
    missing: u64,
}

impl Gaps {
    fn publishers(&self) -> usize {
        let mut ids: Vec<u64> = self.next.keys().map(|k| k.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    fn see(&mut self, stream: (u64, u8, u8), seq: u64) {
        let next = self.next.entry(stream).or_insert(seq);
        if seq > *next {
            self.missing += seq - *next;
        }
        *next = seq + 1;
    }
}

/// The subscription prefixes that cover every kind a rule or destination can route; everything when a rule
/// does not restrict kinds.
fn prefixes(cfg: &ForwardConfig) -> Vec<String> {
    if cfg.rule.iter().any(|r| !r.drop && r.when.kinds.is_empty()) {
        return Vec::new();
    }
    let rule_kinds = cfg
        .rule
        .iter()
        .filter(|r| !r.drop)
        .flat_map(|r| r.when.kinds.iter());
    let mut out: Vec<String> = Vec::new();
    for sel in rule_kinds.chain(cfg.destination.iter().flat_map(|d| d.kinds.iter())) {
        let p = match sel {
            KindSelector::All => return Vec::new(),
            KindSelector::Netflow => "netflow-".to_owned(),
            KindSelector::One(k) => format!("{}/", k.name()),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
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

fn open_groups(cfg: &ForwardConfig) -> Result<Vec<GroupState>> {
    cfg.group
        .iter()
        .map(|g| {
            let members = g
                .members
                .iter()
                .map(|m| match route::resolve(cfg, m) {
                    Ok(Target::Dest(i)) => Ok(i),
                    _ => bail!("group {}: member `{m}` is not a destination", g.name),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(GroupState::new(g, members))
        })
        .collect()
}

/// One forwarder's state while it runs.
struct Forwarder {
    dests: Vec<Dest>,
    /// The configuration each destination was opened with (to keep it across a reload when unchanged).
    configs: Vec<Destination>,
    /// The source port plain UDP destinations' sockets are bound to.
    source_port: u16,
    prefixes: Vec<String>,
    groups: Vec<GroupState>,
    /// The groups' names, to carry a group's state across a reload.
    group_names: Vec<String>,
    router: Router,
    gaps: Gaps,
    latency: crate::histogram::Histogram,
    /// Capture timestamps of the batch's routed envelopes, for the latency histogram.
    stamps: Vec<u64>,
    report: ForwardReport,
}

/// Who gets one datagram, and who gets only its templates.
#[derive(Default)]
struct Deliveries {
    full: Vec<usize>,
    templates_only: Vec<usize>,
}

impl Forwarder {
    /// Routes one batch, then sends each destination its share with one batched call.
    fn forward(&mut self, batch: &[Received]) {
        let views: Vec<Option<Envelope<&[u8]>>> = batch
            .iter()
            .map(|m| Envelope::new_checked(&m.body[..]).ok())
            .collect();
        // Reachability as of this batch (groups skip members that are down).
        let ups: Vec<bool> = match self.groups.is_empty() {
            true => Vec::new(),
            false => self.dests.iter().map(Dest::up).collect(),
        };
        for (i, view) in views.iter().enumerate() {
            self.report.received += 1;
            let Some(e) = view else {
                self.report.bad_envelope += 1;
                continue;
            };
            let stream = (
                e.publisher(),
                e.kind_code(),
                envelope::bucket(&e.src_field()),
            );
            self.gaps.see(stream, e.sequence());
            match self
                .router
                .route(&Facts::new(e.kind(), e.src(), e.payload()))
            {
                Verdict::Dropped(_) => self.report.dropped_by_rule += 1,
                Verdict::Unrouted => self.report.unrouted += 1,
                Verdict::To(targets) => {
                    self.report.routed += 1;
                    self.deliver(&ups, i, e, &targets);
                    self.stamps.push(e.timestamp_ns());
                }
            }
        }
        let payload = |i: usize| views[i].as_ref().map_or(&[][..], |e| e.payload());
        self.dests.iter_mut().for_each(|d| d.flush(&payload));
        self.replay_templates();
        let sent_at = capture::now_ns();
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
                    true => dest.rewrite.apply(e.kind(), e.src(), e.payload()),
                    false => None,
                };
                dest.report.rewritten += u64::from(rewritten.is_some());
                dest.pending
                    .push((src, rewritten.map_or(Item::Batch(i), Item::Owned)));
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

    /// One receive-and-send round; returns how many messages it took off the bus.
    fn round(&mut self, sub: &Subscriber, batch: &mut Vec<Received>, wait: i64) -> Result<usize> {
        fill_batch(
            sub,
            batch,
            &mut self.report.bad_envelope,
            &mut self.report.received,
            wait,
        )?;
        let n = batch.len();
        if n > 0 {
            self.forward(batch);
            batch.clear();
        }
        Ok(n)
    }

    fn snapshot(&mut self) -> ForwardReport {
        self.report.bus_gaps = self.gaps.missing;
        self.report.publishers = self.gaps.publishers();
        self.report.latency_ns = self.latency.percentiles();
        self.report.rules_matched = self.router.matched.clone();
        self.report.destinations = self.dests.iter().map(Dest::snapshot).collect();
        self.report.clone()
    }

    /// Applies a new configuration between two rounds, so no datagram in flight is lost: destinations whose
    /// settings did not change keep their sockets, connections and queues; new ones are opened first (any
    /// failure leaves the running configuration as it was); removed ones deliver what they hold and close in
    /// the background.
    fn reconfigure(&mut self, cfg: &Config, sub: &Subscriber) -> Result<()> {
        let f = &cfg.forward;
        if f.destination.is_empty() {
            bail!("no destination: give --to KIND=udp://HOST:PORT (or [[forward.destination]])");
        }
        let router = Router::new(f).map_err(anyhow::Error::msg)?;
        let groups = open_groups(f)?;
        // A plain UDP socket is bound to the source port: a new port needs a new socket.
        let port_changed = f.source_port != self.source_port;
        let keeps = |d: &Destination| {
            self.configs.contains(d)
                && !(port_changed && matches!(d.url.scheme, Scheme::Udp { spoof: false, .. }))
        };
        let mut fresh = f
            .destination
            .iter()
            .map(|d| match keeps(d) {
                true => Ok(None),
                false => Dest::open(d, f.source_port).map(Some),
            })
            .collect::<Result<Vec<_>>>()?;
        // Which old destination each kept one is, checked before anything changes.
        let mut taken = vec![false; self.configs.len()];
        let mut from_old = Vec::with_capacity(f.destination.len());
        for (k, d) in f.destination.iter().enumerate() {
            let j = match fresh[k].is_none() {
                true => self
                    .configs
                    .iter()
                    .position(|c| c == d)
                    .filter(|&j| !taken[j]),
                false => None,
            };
            match (fresh[k].is_some(), j) {
                (true, _) => from_old.push(None),
                (false, Some(j)) => {
                    taken[j] = true;
                    from_old.push(Some(j));
                }
                (false, None) => bail!("destination {} appears twice", d.name()),
            }
        }
        let prefixes = prefixes(f);
        sub.resubscribe(&self.prefixes, &prefixes)?;
        if prefixes != self.prefixes {
            self.gaps.next.clear(); // streams that were not subscribed a moment ago would look like gaps
        }
        // Nothing below can fail: the new configuration takes over as a whole.
        let mut old: Vec<Option<Dest>> = std::mem::take(&mut self.dests)
            .into_iter()
            .map(Some)
            .collect();
        for (k, j) in from_old.into_iter().enumerate() {
            let dest = match j {
                Some(j) => old[j].take(),
                None => fresh[k].take(),
            };
            self.dests.extend(dest);
        }
        close_in_background(old.into_iter().flatten().collect());
        let mut groups = groups;
        for (g, new) in f.group.iter().zip(groups.iter_mut()) {
            if let Some(i) = self.group_names.iter().position(|n| *n == g.name) {
                new.adopt(std::mem::replace(&mut self.groups[i], GroupState::empty()));
            }
        }
        self.group_names = f.group.iter().map(|g| g.name.clone()).collect();
        (self.router, self.groups, self.prefixes) = (router, groups, prefixes);
        self.configs = f.destination.clone();
        self.source_port = f.source_port;
        self.report.rules_matched = vec![0; self.router.len()];
        Ok(())
    }

    /// Final counters, after stream destinations delivered what they hold (or gave up).
    fn close(mut self) -> ForwardReport {
        let mut report = self.snapshot();
        report.destinations = Dest::close_all(self.dests);
        report
    }
}

/// Reads the configuration again (file and flags), for SIGHUP.
pub type Reload<'a> = &'a dyn Fn() -> Result<Config>;

pub fn run(
    cfg: &Config,
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<ForwardReport>>>,
    reload: Option<Reload<'_>>,
) -> Result<ForwardReport> {
    if cfg.bus.subscribe.is_empty() {
        bail!("nothing to subscribe to: give --subscribe ENDPOINT (or bus.subscribe)");
    }
    if cfg.forward.destination.is_empty() {
        bail!("no destination: give --to KIND=udp://HOST:PORT (or [[forward.destination]])");
    }
    let endpoints: Vec<String> = cfg.bus.subscribe.iter().map(|e| e.0.clone()).collect();
    let dests = cfg
        .forward
        .destination
        .iter()
        .map(|d| Dest::open(d, cfg.forward.source_port))
        .collect::<Result<Vec<_>>>()?;
    let prefixes = prefixes(&cfg.forward);
    let sub = Subscriber::connect(
        &endpoints,
        &prefixes,
        cfg.bus.hwm.min(i32::MAX as u32) as i32,
    )?;
    let router = Router::new(&cfg.forward)
        .map_err(anyhow::Error::msg)
        .context("forward.rule")?;
    let mut fwd = Forwarder {
        groups: open_groups(&cfg.forward)?,
        group_names: cfg.forward.group.iter().map(|g| g.name.clone()).collect(),
        dests,
        configs: cfg.forward.destination.clone(),
        source_port: cfg.forward.source_port,
        prefixes,
        gaps: Gaps::default(),
        latency: Default::default(),
        stamps: Vec::with_capacity(BATCH),
        report: ForwardReport {
            role: "forward",
            rules_matched: vec![0; router.len()],
            ..Default::default()
        },
        router,
    };
    tracing::info!(
        "forward: subscribed to {}; {} destination(s), {} group(s), {} rule(s)",
        endpoints.join(", "),
        fwd.dests.len(),
        fwd.groups.len(),
        fwd.router.len()
    );
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let mut batch: Vec<Received> = Vec::with_capacity(BATCH);
    let mut failure = None;
    let hup = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if reload.is_some() {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .context("SIGHUP handler")?;
    }
    while !stop.requested() && failure.is_none() {
        failure = fwd.round(&sub, &mut batch, IDLE_WAIT_MS).err();
        if let (true, Some(r)) = (
            hup.swap(false, std::sync::atomic::Ordering::Relaxed),
            reload,
        ) {
            match r().and_then(|c| fwd.reconfigure(&c, &sub)) {
                Ok(()) => tracing::info!(
                    "forward: configuration reloaded: {} destination(s)",
                    fwd.dests.len()
                ),
                Err(e) => tracing::error!(
                    "forward: reload refused, the running configuration stays: {e:#}"
                ),
            }
        }
        if reporter.due() {
            let snap = fwd.snapshot();
            reporter.report("forward", &snap);
        }
    }
    // What the bus already handed to this process is forwarded before exit, not lost.
    let drain_until = std::time::Instant::now() + DRAIN;
    while failure.is_none() && std::time::Instant::now() < drain_until {
        match fwd.round(&sub, &mut batch, 0) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => failure = Some(e),
        }
    }
    let report = fwd.close();
    reporter.finish("forward", &report);
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Waits up to `wait` ms for the first message, then takes whatever else is queued, up to [`BATCH`].
fn fill_batch(
    sub: &Subscriber,
    batch: &mut Vec<Received>,
    bad: &mut u64,
    received: &mut u64,
    mut wait: i64,
) -> Result<()> {
    while batch.len() < BATCH {
        match sub.recv(wait)? {
            Recv::Message(m) => batch.push(m),
            Recv::Malformed => {
                *received += 1;
                *bad += 1;
            }
            Recv::Idle => break,
        }
        wait = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_to;

    #[test]
    fn gaps_count_missing_sequences() {
        let mut g = Gaps::default();
        for s in [5, 6, 9, 10] {
            g.see((1, 1, 7), s);
        }
        g.see((2, 1, 7), 100);
        // another kind or bucket of the same publisher is its own stream
        g.see((1, 3, 7), 0);
        g.see((1, 1, 8), 0);
        g.see((1, 1, 8), 1);
        assert_eq!(g.missing, 2);
        assert_eq!(g.publishers(), 2);
    }

    #[test]
    fn prefixes_cover_the_destinations_and_rules() {
        let d = |s: &str| parse_to(s).unwrap();
        let cfg = |dests: Vec<_>| ForwardConfig {
            destination: dests,
            ..ForwardConfig::default()
        };
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
        let c = crate::config::Config::parse("t.toml", text).unwrap();
        assert_eq!(prefixes(&c.forward), vec!["sflow/".to_owned()]);
        let text = text.replace(
            "match.kinds = [\"sflow\"]",
            "match.exporters = [\"10.0.0.0/8\"]",
        );
        let c = crate::config::Config::parse("t.toml", &text).unwrap();
        assert!(prefixes(&c.forward).is_empty());
    }
}
