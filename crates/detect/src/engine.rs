//! The detector: every datagram and record of the bus goes in, with its capture time as the clock; alert
//! events come out. Each detector keeps its keys in a [`Table`] with a cap; all of them hand their hits to
//! one [`Registry`], which paces them into start/update/end events and groups them into incidents.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use records::{Body, Record};
use serde::Serialize;
use serde_json::json;
use wire::kind::Kind;

use crate::alert::{Alert, AlertStats, Hit, Limits, Registry, Severity, Subject, Type};
use crate::baseline::Tuning;
use crate::config::{Ceiling, Config, Network};
use crate::distinct::Distinct;
use crate::facts::{FlowFacts, Link};
use crate::series::{Closed, Series};
use crate::table::Table;
use crate::templates::{self, Miner};

/// Flow records kept for evidence (the top sources, ports and protocols of a flood; a scan's targets).
const RECENT_FLOWS: usize = 8192;
/// Of those, the last seconds evidence looks at.
const EVIDENCE_SECONDS: u32 = 2;
/// Entries of a top-N list in evidence.
const TOP: usize = 5;
/// Bytes of a message or template quoted in evidence.
const EVIDENCE_TEXT: usize = 512;
/// A flow metric this many times over its floor (or its learned limit) alerts in its first second.
const STRONG: f32 = 4.0;
/// An address seen for fewer seconds than this has no baseline yet: its floors alone decide. One seen
/// longer but still learning does not alert until its baseline has learnt (ceilings aside).
const YOUNG: u32 = 5;

/// What a rate series counts, at one exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counted {
    Datagrams(u8),
    Severity(u8),
    Template(u32),
    Traps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RateKey {
    exporter: IpAddr,
    what: Counted,
}

impl RateKey {
    fn describe(&self) -> (String, Option<&'static str>) {
        match self.what {
            Counted::Datagrams(k) => {
                let kind = Kind::from_code(k).map_or("unknown", Kind::name);
                (format!("datagrams/{kind}"), Some(kind))
            }
            Counted::Severity(s) => (format!("syslog/severity/{s}"), Some("syslog")),
            Counted::Template(t) => (format!("syslog/template/{t}"), Some("syslog")),
            Counted::Traps => ("traps".to_owned(), Some("snmptrap")),
        }
    }
}

/// Which end of a flow an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Dst,
    Src,
}

/// One address's metric, as a flow record of an exporter measured it.
struct Measured {
    exporter: IpAddr,
    kind: &'static str,
    addr: IpAddr,
    side: Side,
    metric: usize,
}

impl Measured {
    /// A flood on a destination, a rate on a source (a ceiling's breach is a flood either way), one subject
    /// whichever exporter reports the address.
    fn subject(&self, ceiling: Option<&str>) -> Subject {
        let (kind_of, dir) = match (self.side, ceiling) {
            (Side::Dst, _) => (Type::Flood, "dst"),
            (Side::Src, None) => (Type::Rate, "src"),
            (Side::Src, Some(_)) => (Type::Flood, "src"),
        };
        let (addr, m) = (self.addr, METRICS[self.metric]);
        let key = match ceiling {
            Some(name) => format!("ceiling/{name}/{dir}/{addr}/{m}"),
            None => format!("{dir}/{addr}/{m}"),
        };
        Subject {
            kind_of,
            exporter: None,
            key,
        }
    }

    fn direction(&self) -> &'static str {
        match self.side {
            Side::Dst => "to",
            Side::Src => "from",
        }
    }
}

/// The four flow series of one address on one side of its flows: 4 × 36 + 36 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Host {
    series: [Series; 4],
    /// The typical duration of its flows, seconds: how slowly their packets fade from the level.
    tau: f32,
    /// Records of the current second and of the last one before it that had any (the second the series
    /// close when this one's first record comes): unsampled, sampled, sampled with SYN.
    second: u32,
    records: [u16; 3],
    closed: [u16; 3],
    /// The usual number of sampled records (and sampled SYN records) a second: a second's estimate from
    /// samples counts only when it has many more samples than usual.
    usual_samples: [f32; 2],
    /// Per metric (bit), whether the last closed second was over its floor: a key without history alerts
    /// only on two seconds in a row, so that one big flow of a new address is not a flood.
    over_floor: u8,
    /// The last closed second: "in a row" means this one and the next.
    last_closed: u32,
}

impl Host {
    /// Counts a record in its second, keeping the counts of the second before.
    fn count(&mut self, now: u32, f: &FlowFacts) {
        if now > self.second {
            self.closed = self.records;
            self.records = [0; 3];
            let idle = now - self.second - 1;
            for (usual, n) in self
                .usual_samples
                .iter_mut()
                .zip([self.closed[1], self.closed[2]])
            {
                // clamped, as the baselines are: a flood must not teach its own sample count
                let n = f32::from(n).min(unusual_samples(*usual));
                *usual += 0.05 * (n - *usual);
                *usual *= 0.95f32.powi(idle.min(1000) as i32);
            }
            self.second = now;
        }
        let slot = match (f.sampled, f.syn) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2,
        };
        self.records[slot] = self.records[slot].saturating_add(1);
        if slot == 2 {
            self.records[1] = self.records[1].saturating_add(1);
        }
    }

    /// What the closed second's estimate of `metric` rests on: (enough, unusual). Enough: none of its records
    /// sampled (unsampled records are exact counts), or at least `min` sampled ones (sampled SYN records for
    /// the SYN rate). Unusual: also more samples than the address's usual number reaches by chance once in
    /// ten billion seconds — a sampled count is noisy, and among thousands of addresses one always has its
    /// unlucky second.
    fn samples(&self, metric: usize, min: u16) -> (bool, bool) {
        let (n, usual) = match metric {
            3 => (self.closed[2], self.usual_samples[1]),
            _ => (self.closed[1], self.usual_samples[0]),
        };
        let n = f32::from(n);
        let enough = n == 0.0 || n >= f32::from(min);
        (enough, n == 0.0 || enough && n >= unusual_samples(usual))
    }
}

/// The chance, per address and second, that sampling noise alone reaches `unusual_samples`: one in ten
/// billion, so that a network with a hundred thousand busy addresses sees such a second about once in
/// three days.
const SAMPLE_NOISE: f64 = 1e-10;

/// The fewest sampled records a second that a Poisson count with mean `usual` reaches with a chance of at
/// most `SAMPLE_NOISE`. Exact for small means, where a normal approximation (mean + k deviations) is far too
/// lenient: at a usual 0.6 samples a second, 6 samples happen once in 30 000 seconds, 11 once in 2·10^10.
fn unusual_samples(usual: f32) -> f32 {
    let mean = f64::from(usual.max(0.0));
    if mean > 100.0 {
        // the normal tail at Z deviations is 1e-10; Cornish–Fisher adds the Poisson's skew, (Z² − 1) / 6
        const Z: f64 = 6.36;
        return (mean + Z * mean.sqrt() + (Z * Z - 1.0) / 6.0 + 1.0).floor() as f32;
    }
    let (mut n, mut p_n, mut at_most_n) = (0u32, (-mean).exp(), (-mean).exp());
    while 1.0 - at_most_n > SAMPLE_NOISE {
        n += 1;
        p_n *= mean / f64::from(n);
        at_most_n += p_n;
    }
    (n + 1) as f32
}

const METRICS: [&str; 4] = ["pps", "mbps", "flows", "syn_pps"];

/// One exporter of one kind: when it started, its usual interval and how much that varies, when it last
/// sent.
#[derive(Debug, Clone, Copy, Default)]
struct Exporter {
    first: u32,
    last_ms: u64,
    gap: f32,
    gap_var: f32,
    arrivals: u32,
    /// Silent past `forget_after`: its alert ended, nothing more until it sends again.
    gone: bool,
    silent: bool,
}

#[derive(Debug, Clone, Default)]
struct Scan {
    start: u32,
    /// The second of the last hit: one a second is enough.
    last_hit: u32,
    ports: Distinct,
    hosts: Distinct,
    inserts: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Flap {
    /// Seconds of the latest transitions, a ring.
    times: [u32; 8],
    next: u8,
    /// 0 unknown, 1 down, 2 up.
    state: u8,
}

#[derive(Debug, Clone, Copy, Default)]
struct Storm {
    start: u32,
    count: u32,
    previous: u32,
    /// The usual count per window.
    mean: f32,
    last_hit: u32,
}

struct CompiledCeiling {
    name: String,
    networks: Vec<Network>,
    /// Per metric: (in, out).
    limits: [(Option<f32>, Option<f32>); 4],
}

impl CompiledCeiling {
    fn new(c: &Ceiling) -> Result<Self, String> {
        Ok(CompiledCeiling {
            name: c.name.clone(),
            networks: c
                .networks
                .iter()
                .map(|n| Network::parse(n))
                .collect::<Result<_, _>>()?,
            limits: [
                (c.pps_in, c.pps_out),
                (c.mbps_in, c.mbps_out),
                (c.flows_in, c.flows_out),
                (c.syn_pps_in, c.syn_pps_out),
            ],
        })
    }
}

/// Sizes of the key tables, or what they evicted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Keys {
    pub rate: u64,
    pub exporters: u64,
    pub templates: u64,
    pub template_pairs: u64,
    pub scan: u64,
    pub hosts: u64,
    pub flap: u64,
    pub storm: u64,
}

/// Counters of the detector.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub datagrams: u64,
    pub records: u64,
    pub flows: u64,
    pub messages: u64,
    pub traps: u64,
    /// Anomalous buckets (or windows) per detector, before pacing.
    pub hits: HashMap<&'static str, u64>,
    pub alerts: AlertStats,
    pub keys: Keys,
    pub evicted: Keys,
    /// Bytes held by the key tables.
    pub table_bytes: u64,
}

pub struct Detector {
    cfg: Config,
    ceilings: Vec<CompiledCeiling>,
    started: u32,
    now: u32,
    now_ms: u64,
    swept: u32,
    rates: Table<RateKey, Series>,
    exporters: Table<(u8, IpAddr), Exporter>,
    miner: Miner,
    pairs: Table<(IpAddr, u32), ()>,
    /// Templates born after the warm-up: (born, last hit). Their repeats update the alert until its
    /// hold-down, one hit a second at most.
    fresh: HashMap<u32, (u32, u32)>,
    scans: Table<IpAddr, Scan>,
    hosts: Table<(IpAddr, Side), Host>,
    flaps: Table<(IpAddr, u64), Flap>,
    storms: Table<(IpAddr, bool), Storm>,
    recent: VecDeque<(u32, IpAddr, FlowFacts)>,
    registry: Registry,
    stats: Stats,
}

impl Detector {
    /// Fails on a configuration that cannot work (its message names the key).
    pub fn new(mut cfg: Config) -> Result<Self, String> {
        cfg.check().map_err(|(k, m)| format!("{k}: {m}"))?;
        // A key learns no longer than the process does.
        for t in [&mut cfg.rate.baseline, &mut cfg.flood.baseline] {
            t.warmup = t.warmup.min(cfg.warmup);
        }
        let pacing = HashMap::from([
            (Type::Rate, cfg.rate.pacing),
            (Type::Silence, cfg.silence.pacing),
            (Type::NewTemplate, cfg.new_template.pacing),
            (Type::Scan, cfg.scan.pacing),
            (Type::Flood, cfg.flood.pacing),
            (Type::Flap, cfg.flap.pacing),
            (Type::Storm, cfg.storm.pacing),
        ]);
        let limits = Limits {
            max_open: cfg.max_open,
            remembered: cfg.max_open * 10,
            devices: 100_000,
            incident_window: cfg.incident_window,
        };
        let miner = templates::Limits {
            templates: cfg.new_template.templates,
            similarity: cfg.new_template.similarity,
            ..templates::Limits::default()
        };
        Ok(Detector {
            ceilings: cfg
                .ceilings
                .iter()
                .map(CompiledCeiling::new)
                .collect::<Result<_, _>>()?,
            started: 0,
            now: 0,
            now_ms: 0,
            swept: 0,
            rates: Table::new(cfg.rate.keys),
            exporters: Table::new(cfg.silence.exporters),
            miner: Miner::new(miner),
            pairs: Table::new(cfg.new_template.pairs),
            fresh: HashMap::new(),
            scans: Table::new(cfg.scan.sources),
            hosts: Table::new(cfg.flood.hosts),
            flaps: Table::new(cfg.flap.interfaces),
            storms: Table::new(cfg.storm.exporters),
            recent: VecDeque::with_capacity(RECENT_FLOWS),
            registry: Registry::new(pacing, limits),
            stats: Stats::default(),
            cfg,
        })
    }

    /// The clock: capture times drive it; it never goes back.
    fn clock(&mut self, ns: u64) {
        let ms = ns / 1_000_000;
        let sec = (ns / 1_000_000_000).min(u64::from(u32::MAX)) as u32;
        if self.started == 0 {
            self.started = sec.max(1);
            self.swept = sec;
            self.registry
                .quiet_until(self.started.saturating_add(self.cfg.warmup));
        }
        if ms > self.now_ms {
            self.now_ms = ms;
            self.now = sec.max(1);
        }
        if self.now > self.swept {
            self.swept = self.now;
            self.sweep();
        }
    }

    /// Time passes without data (`ns`: the capture clock's now).
    pub fn tick(&mut self, ns: u64) {
        if self.started != 0 {
            self.clock(ns);
        }
    }

    /// One datagram, before its records.
    pub fn datagram(&mut self, kind: Kind, exporter: IpAddr, ns: u64) {
        self.clock(ns);
        self.stats.datagrams += 1;
        if self.cfg.rate.enabled && self.cfg.rate.datagrams {
            self.count(exporter, Counted::Datagrams(kind.code()));
        }
        // kept whether or not silences are watched: new templates need each exporter's first second
        self.arrival(kind, exporter);
    }

    /// One record of the latest datagram.
    pub fn record(&mut self, r: &Record) {
        self.stats.records += 1;
        let exporter = r.exporter;
        match &r.body {
            Body::Message(m) => self.message(exporter, m.severity, &m.message),
            Body::Trap(t) if r.record == "trap" => {
                self.stats.traps += 1;
                if self.cfg.rate.enabled && self.cfg.rate.traps {
                    self.count(exporter, Counted::Traps);
                }
                self.storm(exporter, false);
                if let Some(l) = Link::from_trap(t) {
                    self.link(exporter, l, "snmptrap");
                }
            }
            Body::V5Flow(f) => self.flow(exporter, r.kind, FlowFacts::v5(f)),
            Body::Flow(f) => {
                if let Some(f) = FlowFacts::template_based(f) {
                    self.flow(exporter, r.kind, f)
                }
            }
            Body::SflowFlow(f) => {
                if let Some(f) = FlowFacts::sflow(f) {
                    self.flow(exporter, r.kind, f)
                }
            }
            _ => {}
        }
    }

    /// The alert events raised since the last call.
    pub fn take(&mut self) -> Vec<Alert> {
        self.registry.take()
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.alerts = self.registry.stats;
        s.keys = Keys {
            rate: self.rates.len() as u64,
            exporters: self.exporters.len() as u64,
            templates: self.miner.len() as u64,
            template_pairs: self.pairs.len() as u64,
            scan: self.scans.len() as u64,
            hosts: self.hosts.len() as u64,
            flap: self.flaps.len() as u64,
            storm: self.storms.len() as u64,
        };
        s.evicted = Keys {
            rate: self.rates.evicted(),
            exporters: self.exporters.evicted(),
            templates: self.miner.evicted(),
            template_pairs: self.pairs.evicted(),
            scan: self.scans.evicted(),
            hosts: self.hosts.evicted(),
            flap: self.flaps.evicted(),
            storm: self.storms.evicted(),
        };
        s.table_bytes = [
            self.rates.memory(),
            self.exporters.memory(),
            self.pairs.memory(),
            self.scans.memory(),
            self.hosts.memory(),
            self.flaps.memory(),
            self.storms.memory(),
        ]
        .iter()
        .sum::<usize>() as u64;
        s
    }

    fn hit_counted(&mut self, t: Type) {
        *self.stats.hits.entry(t.name()).or_default() += 1;
    }

    // ------------------------------------------------------------------------------------------ rate

    fn count(&mut self, exporter: IpAddr, what: Counted) {
        let key = RateKey { exporter, what };
        let t = self.cfg.rate.baseline;
        let closed = self
            .rates
            .entry(key, Series::default)
            .add(self.now, 1.0, &t);
        if let Some(c) = closed.filter(|c| c.score.anomalous) {
            self.rate_hit(key, c, &t);
        }
    }

    fn rate_hit(&mut self, key: RateKey, c: Closed, t: &Tuning) {
        self.hit_counted(Type::Rate);
        let (name, kind) = key.describe();
        let usual = level(c.score.mean, t);
        let severity = match key.what {
            Counted::Severity(s) if s <= 3 => Severity::Critical,
            _ => Severity::Warning,
        };
        let subject = Subject {
            kind_of: Type::Rate,
            exporter: Some(key.exporter),
            key: name.clone(),
        };
        self.registry.hit(self.now, subject, || Hit {
            severity,
            kind,
            exporter: None,
            device: None,
            value: f64::from(c.value),
            baseline: f64::from(usual),
            score: f64::from(c.score.surprise),
            summary: format!(
                "{name} from {} at {}/s, usually {:.1}/s",
                key.exporter, c.value, usual
            ),
            evidence: json!({ "second": crate::alert::stamp(c.tick), "z": c.score.z }),
        });
    }

    // --------------------------------------------------------------------------------------- silence

    fn arrival(&mut self, kind: Kind, exporter: IpAddr) {
        let (now, now_ms) = (self.now, self.now_ms);
        let e = self.exporters.entry((kind.code(), exporter), || Exporter {
            first: now,
            last_ms: now_ms,
            ..Exporter::default()
        });
        if e.arrivals > 0 {
            let gap = now_ms.saturating_sub(e.last_ms) as f32 / 1000.0;
            let w = (1.0 / e.arrivals as f32).max(0.05);
            let d = gap - e.gap;
            e.gap += w * d;
            e.gap_var = (1.0 - w) * (e.gap_var + w * d * d);
        }
        e.arrivals = e.arrivals.saturating_add(1);
        e.last_ms = now_ms;
        e.gone = false;
        if std::mem::take(&mut e.silent) {
            let subject = silence_subject(kind.code(), exporter);
            self.registry.resolve(now, &subject);
        }
    }

    fn silences(&mut self) {
        let c = &self.cfg.silence;
        let now_ms = self.now_ms;
        let (mut silent, mut gone) = (Vec::new(), Vec::new());
        for (&(kind, exporter), e) in self.exporters.iter_mut() {
            let quiet = now_ms.saturating_sub(e.last_ms) as f32 / 1000.0;
            // several times the usual interval, and far out in its spread: a bursty sender's pauses are not
            // silences
            let limit = (c.factor * e.gap)
                .max(e.gap + 10.0 * e.gap_var.sqrt())
                .max(c.min_gap);
            if e.gone || e.arrivals < c.min_arrivals || quiet <= limit {
                continue;
            }
            if quiet > c.forget_after {
                (e.gone, e.silent) = (true, false);
                gone.push(silence_subject(kind, exporter));
            } else {
                e.silent = true;
                silent.push((kind, exporter, quiet, e.gap, limit));
            }
        }
        for subject in gone {
            self.registry.resolve(self.now, &subject);
        }
        for (kind, exporter, quiet, gap, limit) in silent {
            self.hit_counted(Type::Silence);
            let subject = silence_subject(kind, exporter);
            let name = Kind::from_code(kind).map_or("unknown", Kind::name);
            self.registry.hit(self.now, subject, || Hit {
                severity: Severity::Warning,
                kind: Some(name),
                exporter: None,
                device: None,
                value: f64::from(quiet),
                baseline: f64::from(gap),
                score: f64::from(quiet / limit),
                summary: format!(
                    "{exporter} sent no {name} for {quiet:.1} s; it usually sends every {gap:.2} s"
                ),
                evidence: json!({ "silent_seconds": quiet, "usual_interval": gap, "limit": limit }),
            });
        }
    }

    fn sweep(&mut self) {
        if self.cfg.silence.enabled {
            self.silences();
        }
        let hold = self.cfg.new_template.pacing.hold_down;
        let now = self.now;
        self.fresh
            .retain(|_, (born, _)| now <= born.saturating_add(hold));
        self.registry.sweep(self.now);
    }

    // ---------------------------------------------------------------------------------------- syslog

    fn message(&mut self, exporter: IpAddr, severity: u8, text: &str) {
        self.stats.messages += 1;
        let rate = self.cfg.rate.enabled;
        if rate && self.cfg.rate.syslog_severity {
            self.count(exporter, Counted::Severity(severity));
        }
        self.storm(exporter, true);
        if let Some(l) = Link::from_syslog(text) {
            self.link(exporter, l, "syslog");
        }
        if !(self.cfg.new_template.enabled || rate && self.cfg.rate.syslog_template) {
            return;
        }
        let m = self.miner.learn(text);
        if rate && self.cfg.rate.syslog_template {
            self.count(exporter, Counted::Template(m.id));
        }
        if self.cfg.new_template.enabled {
            self.template(exporter, m, text);
        }
    }

    fn template(&mut self, exporter: IpAddr, m: templates::Matched, text: &str) {
        let warm = self.now >= self.started.saturating_add(self.cfg.warmup);
        // bounded by the number of templates: at most that many can be fresh at once
        if m.new && warm && self.fresh.len() < self.cfg.new_template.templates {
            self.fresh.insert(m.id, (self.now, 0));
        }
        if let Some((_, last)) = self
            .fresh
            .get_mut(&m.id)
            .filter(|(_, last)| *last < self.now)
        {
            *last = self.now;
            self.template_hit(None, exporter, m.id, text);
        }
        if !self.cfg.new_template.per_exporter {
            return;
        }
        let known = self.pairs.get(&(exporter, m.id)).is_some();
        self.pairs.entry((exporter, m.id), || ());
        let first = self
            .exporters
            .peek(&(Kind::Syslog.code(), exporter))
            .map_or(self.now, |e| e.first);
        let exporter_warm = self.now >= first.saturating_add(self.cfg.warmup);
        if !known && !m.new && exporter_warm {
            self.template_hit(Some(exporter), exporter, m.id, text);
        }
    }

    fn template_hit(&mut self, at: Option<IpAddr>, exporter: IpAddr, id: u32, text: &str) {
        self.hit_counted(Type::NewTemplate);
        let template = self.miner.get(id).map(|t| (t.text(), t.count));
        let (template, count) = template.unwrap_or_default();
        let subject = Subject {
            kind_of: Type::NewTemplate,
            exporter: at,
            key: format!("template/{id}"),
        };
        let whose = match at {
            Some(_) => format!("new for {exporter}"),
            None => "never seen before".to_owned(),
        };
        self.registry.hit(self.now, subject, || Hit {
            severity: Severity::Info,
            kind: Some("syslog"),
            exporter: None,
            device: Some(exporter),
            value: count as f64,
            baseline: 0.0,
            score: 1.0,
            summary: format!("log template {whose}: {template}"),
            evidence: json!({
                "template": templates::cut(&template, EVIDENCE_TEXT),
                "sample": templates::cut(text, EVIDENCE_TEXT),
                "from": exporter,
            }),
        });
    }

    // ---------------------------------------------------------------------------------------- storms

    fn storm(&mut self, exporter: IpAddr, syslog: bool) {
        if !self.cfg.storm.enabled {
            return;
        }
        let c = &self.cfg.storm;
        let now = self.now;
        let s = self.storms.entry((exporter, syslog), || Storm {
            start: now,
            ..Storm::default()
        });
        if now >= s.start.saturating_add(c.window) {
            let windows = (now - s.start) / c.window;
            s.previous = if windows == 1 { s.count } else { 0 };
            // clamped, so that a storm does not teach the exporter that storms are usual
            let learnt = (s.count as f32).min(2.0 * s.mean + 1.0);
            s.mean += 0.1 * (learnt - s.mean);
            if windows > 1 {
                s.mean *= 0.9f32.powi((windows - 1).min(100) as i32);
            }
            s.count = 0;
            s.start = s.start.saturating_add(windows * c.window);
        }
        s.count += 1;
        // the last `window` seconds: this window's count and the part of the previous one still inside
        let elapsed = (now - s.start) as f32 / c.window as f32;
        let recent = s.count as f32 + s.previous as f32 * (1.0 - elapsed).max(0.0);
        let floor = if syslog { c.syslog } else { c.traps } as f32;
        if recent >= floor && recent >= c.factor * s.mean && s.last_hit < now {
            s.last_hit = now;
            let usual = s.mean;
            self.storm_hit(exporter, syslog, recent, usual, floor);
        }
    }

    fn storm_hit(&mut self, exporter: IpAddr, syslog: bool, recent: f32, usual: f32, floor: f32) {
        self.hit_counted(Type::Storm);
        let (what, kind) = match syslog {
            true => ("syslog", "syslog"),
            false => ("traps", "snmptrap"),
        };
        let window = self.cfg.storm.window;
        let subject = Subject {
            kind_of: Type::Storm,
            exporter: Some(exporter),
            key: what.to_owned(),
        };
        self.registry.hit(self.now, subject, || Hit {
            severity: Severity::Warning,
            kind: Some(kind),
            exporter: None,
            device: None,
            value: f64::from(recent),
            baseline: f64::from(usual),
            score: f64::from(recent / floor),
            summary: format!(
                "{what} storm from {exporter}: {recent:.0} in {window} s, usually {usual:.1}"
            ),
            evidence: json!({ "window_seconds": window, "floor": floor }),
        });
    }

    // ----------------------------------------------------------------------------------------- flaps

    fn link(&mut self, exporter: IpAddr, l: Link, source: &'static str) {
        if !self.cfg.flap.enabled {
            return;
        }
        let now = self.now;
        let window = self.cfg.flap.window;
        let f = self
            .flaps
            .entry((exporter, hash64(&l.interface)), Flap::default);
        let state = if l.up { 2 } else { 1 };
        if f.state == state {
            // the same change said twice (LINK and LINEPROTO, a repeated trap)
            return;
        }
        f.state = state;
        f.times[usize::from(f.next) % 8] = now;
        f.next = f.next.wrapping_add(1);
        let within = f
            .times
            .iter()
            .filter(|&&t| t != 0 && t.saturating_add(window) > now)
            .count() as u32;
        let need = self.cfg.flap.transitions.min(8);
        if within >= need {
            self.hit_counted(Type::Flap);
            let subject = Subject {
                kind_of: Type::Flap,
                exporter: Some(exporter),
                key: l.interface.clone(),
            };
            let state = if l.up { "up" } else { "down" };
            self.registry.hit(now, subject, || Hit {
                severity: Severity::Warning,
                kind: Some(source),
                exporter: None,
                device: None,
                value: f64::from(within),
                baseline: f64::from(need),
                score: f64::from(within) / f64::from(need),
                summary: format!(
                    "{} on {exporter} changed state {within} times in {window} s (now {state}, from {source})",
                    l.interface
                ),
                evidence: json!({ "transitions": within, "window_seconds": window, "state": state, "source": source }),
            });
        }
    }

    // ----------------------------------------------------------------------------------------- flows

    fn flow(&mut self, exporter: IpAddr, kind: &'static str, f: FlowFacts) {
        self.stats.flows += 1;
        if self.recent.len() == RECENT_FLOWS {
            self.recent.pop_front();
        }
        self.recent.push_back((self.now, exporter, f));
        if self.cfg.scan.enabled && !f.is_reply() {
            self.scan(exporter, kind, &f);
        }
        if self.cfg.flood.enabled || !self.ceilings.is_empty() {
            self.host(exporter, kind, f.dst, Side::Dst, &f);
        }
        if self.cfg.rate.enabled && self.cfg.rate.flow_sources || !self.ceilings.is_empty() {
            self.host(exporter, kind, f.src, Side::Src, &f);
        }
    }

    fn host(
        &mut self,
        exporter: IpAddr,
        kind: &'static str,
        addr: IpAddr,
        side: Side,
        f: &FlowFacts,
    ) {
        let t = match side {
            Side::Dst => self.cfg.flood.baseline,
            Side::Src => self.cfg.rate.baseline,
        };
        let now = self.now;
        let h = self.hosts.entry((addr, side), Host::default);
        // A flow of a second or less (and a packet sample) counts in this second; a longer one goes to this
        // second and fades over the typical duration of the address's long flows.
        let long = f.duration > 1.0;
        if long {
            h.tau = match h.tau {
                0.0 => f.duration,
                tau => tau + 0.1 * (f.duration - tau),
            };
        }
        let keep = if h.tau > 0.0 {
            (-1.0 / h.tau).exp()
        } else {
            0.0
        };
        let share = if long {
            1.0 - (-1.0 / f.duration).exp()
        } else {
            1.0
        };
        let amounts = [
            f.packets,
            f.bytes * 8.0 / 1e6,
            1.0,
            if f.syn { f.packets } else { 0.0 },
        ];
        let mut closed = [None; 4];
        for (i, s) in h.series.iter_mut().enumerate() {
            closed[i] = match long {
                true => s.spread(now, 0.0, amounts[i] * share, keep, &t),
                false => s.spread(now, amounts[i], 0.0, keep, &t),
            };
        }
        h.count(now, f);
        let min = self.cfg.flood.min_samples;
        let samples: [(bool, bool); 4] = std::array::from_fn(|m| h.samples(m, min));
        // every series of the address closes the same second
        let in_a_row = match closed.iter().flatten().next() {
            Some(c) => std::mem::replace(&mut h.last_closed, c.tick).saturating_add(1) == c.tick,
            None => false,
        };
        for (metric, c) in closed.iter().enumerate() {
            if let Some(c) = c {
                let at = Measured {
                    exporter,
                    kind,
                    addr,
                    side,
                    metric,
                };
                self.judge_host(&at, c, &t, samples[metric], in_a_row);
            }
        }
    }

    /// A closed second of one address's metric: a flood (or a source's rate) if far above its baseline and
    /// its floor, or if over a ceiling. An open alert goes on while the metric stays over its floor and
    /// `factor` times the level it started from, for `max_duration` at most: then only the baseline's
    /// verdict can open it again (a new server's steady traffic is a flood for an hour, not for ever).
    fn judge_host(
        &mut self,
        at: &Measured,
        c: &Closed,
        t: &Tuning,
        (enough, unusual): (bool, bool),
        in_a_row: bool,
    ) {
        let fl = &self.cfg.flood;
        let floor = [fl.min_pps, fl.min_mbps, fl.min_flows, fl.min_syn_pps][at.metric];
        let usual = level(c.score.mean, t);
        let over = c.value >= floor;
        let bit = 1u8 << at.metric;
        let Some(h) = self.hosts.get(&(at.addr, at.side)) else {
            return;
        };
        let was_over = in_a_row && h.over_floor & bit != 0;
        h.over_floor = (h.over_floor & !bit) | if over { bit } else { 0 };
        let young = c.learned < YOUNG;
        // One second over is not a flood unless far over: big flows make single-second spikes. Without
        // history, it must also be far above what little was learnt. A source never alerts on one second,
        // however far over: that is one host's burst (one big flow), where a flood's onset is worth a page.
        let once_is_enough = at.side == Side::Dst;
        let far = unusual
            && match young {
                true => {
                    (was_over || once_is_enough && c.value >= STRONG * floor)
                        && (c.learned < 3 || c.value >= fl.factor * usual)
                }
                false => {
                    c.score.anomalous
                        && c.value >= fl.factor * usual
                        && (was_over || once_is_enough && c.value >= STRONG * fl.factor * usual)
                }
            };
        let enabled = match at.side {
            Side::Dst => fl.enabled,
            Side::Src => self.cfg.rate.enabled && self.cfg.rate.flow_sources,
        };
        let factor = f64::from(fl.factor);
        if enabled && over && enough {
            let subject = at.subject(None);
            let (now, longest) = (self.now, fl.max_duration);
            let going_on = self
                .registry
                .open_since(&subject)
                .is_some_and(|(b, since)| {
                    f64::from(c.value) >= factor * b && now < since.saturating_add(longest)
                });
            if far || going_on {
                self.flood_hit(at, subject, c, usual, None);
            }
        }
        let ceilings: Vec<(String, f32)> = self
            .ceilings
            .iter()
            .filter(|g| g.networks.iter().any(|n| n.contains(at.addr)))
            .filter_map(|g| {
                let (i, o) = g.limits[at.metric];
                let limit = match at.side {
                    Side::Dst => i,
                    Side::Src => o,
                }?;
                (c.value >= limit).then(|| (g.name.clone(), limit))
            })
            .collect();
        for (name, limit) in ceilings.into_iter().filter(|_| enough) {
            let subject = at.subject(Some(&name));
            self.flood_hit(at, subject, c, limit, Some(name));
        }
    }

    fn flood_hit(
        &mut self,
        at: &Measured,
        subject: Subject,
        c: &Closed,
        baseline: f32,
        ceiling: Option<String>,
    ) {
        self.hit_counted(subject.kind_of);
        let (direction, addr, side) = (at.direction(), at.addr, at.side);
        let m = METRICS[at.metric];
        let recent = &self.recent;
        let why = match &ceiling {
            Some(name) => format!("over the ceiling of {name} ({baseline})"),
            None => format!("usually {baseline:.1}"),
        };
        let kind_of = subject.kind_of;
        self.registry.hit(self.now, subject, || Hit {
            severity: if kind_of == Type::Flood {
                Severity::Critical
            } else {
                Severity::Warning
            },
            kind: Some(at.kind),
            exporter: Some(at.exporter),
            device: Some(addr),
            value: f64::from(c.value),
            baseline: f64::from(baseline),
            score: match ceiling {
                Some(_) => f64::from(c.value / baseline.max(f32::MIN_POSITIVE)),
                None => f64::from(c.score.surprise),
            },
            summary: format!("{m} {direction} {addr} at {:.0}, {why}", c.value),
            evidence: top_talkers(recent, self.now, addr, side),
        });
    }

    // ------------------------------------------------------------------------------------------ scans

    fn scan(&mut self, exporter: IpAddr, kind: &'static str, f: &FlowFacts) {
        let (now, c) = (self.now, &self.cfg.scan);
        let window = c.window;
        let s = self.scans.entry(f.src, || Scan {
            start: now,
            ..Scan::default()
        });
        if now >= s.start.saturating_add(window) {
            *s = Scan {
                start: now,
                ..Scan::default()
            };
        }
        s.ports.insert(u32::from(f.dst_port));
        s.hosts.insert(hash64(&f.dst) as u32);
        s.inserts += 1;
        let exact = s.ports.exact().is_some() && s.hosts.exact().is_some();
        if s.last_hit == now || !exact && !s.inserts.is_multiple_of(8) {
            return;
        }
        let (ports, hosts) = (s.ports.count(), s.hosts.count());
        let (need_ports, need_hosts) = (c.ports, c.hosts);
        if ports >= need_ports || hosts >= need_hosts {
            s.last_hit = now;
        }
        for (what, n, need) in [("ports", ports, need_ports), ("hosts", hosts, need_hosts)] {
            if n >= need {
                self.scan_hit(exporter, kind, f.src, what, n, need, window);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_hit(
        &mut self,
        exporter: IpAddr,
        kind: &'static str,
        src: IpAddr,
        what: &str,
        n: u64,
        need: u64,
        window: u32,
    ) {
        self.hit_counted(Type::Scan);
        // One subject whichever exporter sees the scanner: the alert names the first.
        let subject = Subject {
            kind_of: Type::Scan,
            exporter: None,
            key: format!("src/{src}/{what}"),
        };
        let recent = &self.recent;
        self.registry.hit(self.now, subject, || Hit {
            severity: Severity::Warning,
            kind: Some(kind),
            exporter: Some(exporter),
            device: Some(src),
            value: n as f64,
            baseline: need as f64,
            score: n as f64 / need as f64,
            summary: format!("{src} reached {n} distinct destination {what} in {window} s"),
            evidence: targets(recent, src),
        });
    }
}

fn silence_subject(kind: u8, exporter: IpAddr) -> Subject {
    Subject {
        kind_of: Type::Silence,
        exporter: Some(exporter),
        key: format!(
            "datagrams/{}",
            Kind::from_code(kind).map_or("unknown", Kind::name)
        ),
    }
}

/// A baseline mean in the value's units.
fn level(mean: f32, t: &Tuning) -> f32 {
    match t.log {
        true => mean.exp_m1(),
        false => mean,
    }
}

fn hash64(v: &impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The top sources (or destinations), destination ports and protocols of the recent flows to (from) `addr`,
/// by packets.
fn top_talkers(
    recent: &VecDeque<(u32, IpAddr, FlowFacts)>,
    now: u32,
    addr: IpAddr,
    side: Side,
) -> serde_json::Value {
    let mut peers: HashMap<IpAddr, f32> = HashMap::new();
    let mut ports: HashMap<u16, f32> = HashMap::new();
    let mut protocols: HashMap<u8, f32> = HashMap::new();
    let mut exporters: HashMap<IpAddr, f32> = HashMap::new();
    for (_, exporter, f) in recent
        .iter()
        .rev()
        .take_while(|(t, _, _)| t + EVIDENCE_SECONDS > now)
    {
        let peer = match side {
            Side::Dst if f.dst == addr => f.src,
            Side::Src if f.src == addr => f.dst,
            _ => continue,
        };
        *peers.entry(peer).or_default() += f.packets;
        *ports.entry(f.dst_port).or_default() += f.packets;
        *protocols.entry(f.protocol).or_default() += f.packets;
        *exporters.entry(*exporter).or_default() += f.packets;
    }
    let peer_name = match side {
        Side::Dst => "top_sources",
        Side::Src => "top_destinations",
    };
    json!({
        peer_name: top(peers),
        "top_dst_ports": top(ports),
        "top_protocols": top(protocols),
        "exporters": top(exporters),
    })
}

fn top<K: ToString>(m: HashMap<K, f32>) -> Vec<serde_json::Value> {
    let mut v: Vec<(K, f32)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.into_iter()
        .take(TOP)
        .map(|(k, n)| json!({ "value": k.to_string(), "packets": n }))
        .collect()
}

/// A scanning source's recent targets: a sample of its destination ports and hosts.
fn targets(recent: &VecDeque<(u32, IpAddr, FlowFacts)>, src: IpAddr) -> serde_json::Value {
    let mut ports: Vec<u16> = Vec::new();
    let mut hosts: Vec<IpAddr> = Vec::new();
    for (_, _, f) in recent
        .iter()
        .rev()
        .filter(|(_, _, f)| f.src == src && !f.is_reply())
    {
        if ports.len() < 20 && !ports.contains(&f.dst_port) {
            ports.push(f.dst_port);
        }
        if hosts.len() < 10 && !hosts.contains(&f.dst) {
            hosts.push(f.dst);
        }
    }
    ports.sort_unstable();
    json!({ "sample_dst_ports": ports, "sample_dst_hosts": hosts })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
