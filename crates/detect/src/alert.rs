//! Alerts: the one JSON schema every sink receives (docs/detection.md), and the registry that turns the
//! detectors' hits into `start`, `update` and `end` events — deduplicated per (type, exporter, key), held
//! down, cooled down, bounded in number — and groups alerts about one device into incidents.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use serde::Serialize;

use crate::episode::{Episode, Pacing, Transition};
use crate::table::Table;

/// The detector that raised an alert (the `type` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    Rate,
    Silence,
    NewTemplate,
    Scan,
    Flood,
    Flap,
    Storm,
}

impl Type {
    pub const ALL: [Type; 7] = [
        Type::Rate,
        Type::Silence,
        Type::NewTemplate,
        Type::Scan,
        Type::Flood,
        Type::Flap,
        Type::Storm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Type::Rate => "rate",
            Type::Silence => "silence",
            Type::NewTemplate => "new_template",
            Type::Scan => "scan",
            Type::Flood => "flood",
            Type::Flap => "flap",
            Type::Storm => "storm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Start,
    Update,
    End,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Start => "start",
            State::Update => "update",
            State::End => "end",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert event.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// The same for every event of one episode.
    pub id: String,
    #[serde(rename = "type")]
    pub kind_of: Type,
    pub state: State,
    pub severity: Severity,
    /// The telemetry kind the signal came from (`syslog`, `snmptrap`, `netflow-v9`...), when there is one.
    pub kind: Option<&'static str>,
    /// The exporter the signal came from (null for signals about the whole bus, like a template first seen).
    pub exporter: Option<IpAddr>,
    /// What, at that exporter: `datagrams/syslog`, `dst/192.0.2.7/pps`, `if/3`...
    pub key: String,
    /// The measured value (per second for rates, a count for windows).
    pub value: f64,
    /// What was expected: the learned mean, or the threshold crossed.
    pub baseline: f64,
    /// How unusual: −log10 of the tail probability for learned baselines, value / threshold for fixed ones.
    pub score: f64,
    /// RFC 3339 UTC.
    pub started: String,
    /// RFC 3339 UTC, on `end` events.
    pub ended: Option<String>,
    /// One sentence saying why.
    pub summary: String,
    /// Samples or top-N lists that back the alert.
    pub evidence: serde_json::Value,
    pub incident: Incident,
}

/// The incident an alert belongs to: alerts about one device close in time.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Incident {
    pub id: String,
    /// The exporter, or the address the signals name (a flooded destination, a scanning source).
    pub device: Option<IpAddr>,
    /// Every signal of the incident so far, as `type:key` (the first 16).
    pub signals: Vec<String>,
}

/// What a detector found in one bucket; turned into an alert event when the registry says it is one.
pub struct Hit {
    pub severity: Severity,
    pub kind: Option<&'static str>,
    /// The exporter to name when the subject has none (signals about an address several exporters report).
    pub exporter: Option<IpAddr>,
    /// The incident's device (default: the exporter).
    pub device: Option<IpAddr>,
    pub value: f64,
    pub baseline: f64,
    pub score: f64,
    pub summary: String,
    pub evidence: serde_json::Value,
}

/// Identifies an episode's subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub kind_of: Type,
    pub exporter: Option<IpAddr>,
    pub key: String,
}

/// Counters of the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    pub started: u64,
    pub updated: u64,
    pub ended: u64,
    /// Hits inside a key's cooldown after an end.
    pub suppressed: u64,
    /// Hits during the warm-up after start.
    pub warming_up: u64,
    /// Hits that would have opened an episode past the cap on open alerts.
    pub over_cap: u64,
    pub incidents: u64,
}

struct Open {
    episode: Episode,
    alert: Alert,
}

/// Bounds of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_open: usize,
    /// Ended episodes remembered for their cooldown.
    pub remembered: usize,
    pub devices: usize,
    /// Seconds within which alerts about one device join one incident.
    pub incident_window: u32,
}

pub struct Registry {
    pacing: HashMap<Type, Pacing>,
    limits: Limits,
    /// No alert before this second.
    quiet_until: u32,
    open: HashMap<Subject, Open>,
    ended: Table<Subject, Episode>,
    /// Each device's latest incident and when it last had an alert.
    devices: Table<IpAddr, (Incident, u32)>,
    out: Vec<Alert>,
    pub stats: AlertStats,
}

const MAX_SIGNALS: usize = 16;

impl Registry {
    pub fn new(pacing: HashMap<Type, Pacing>, limits: Limits) -> Self {
        Registry {
            pacing,
            limits,
            quiet_until: 0,
            ended: Table::new(limits.remembered),
            devices: Table::new(limits.devices),
            open: HashMap::new(),
            out: Vec::new(),
            stats: AlertStats::default(),
        }
    }

    /// No alert before `second`.
    pub fn quiet_until(&mut self, second: u32) {
        self.quiet_until = second;
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The baseline an open alert started with, and the second it started.
    pub fn open_since(&self, s: &Subject) -> Option<(f64, u32)> {
        self.open
            .get(s)
            .map(|o| (o.alert.baseline, o.episode.started()))
    }

    fn pacing(&self, t: Type) -> Pacing {
        self.pacing.get(&t).copied().unwrap_or_default()
    }

    /// An anomalous bucket of `subject` at `now`; `hit` is only called when an event goes out.
    pub fn hit(&mut self, now: u32, subject: Subject, hit: impl FnOnce() -> Hit) {
        if now < self.quiet_until {
            self.stats.warming_up += 1;
            return;
        }
        let p = self.pacing(subject.kind_of);
        if let Some(o) = self.open.get_mut(&subject) {
            if o.episode.verdict(now, true, &p) == Transition::Update {
                let h = hit();
                refresh(&mut o.alert, State::Update, h);
                self.stats.updated += 1;
                self.out.push(o.alert.clone());
            }
            return;
        }
        let mut episode = self.ended.get(&subject).copied().unwrap_or_default();
        match episode.verdict(now, true, &p) {
            Transition::Start if self.open.len() >= self.limits.max_open => {
                self.stats.over_cap += 1
            }
            Transition::Start => self.start(now, subject, episode, hit()),
            Transition::Suppressed => self.stats.suppressed += 1,
            _ => {}
        }
    }

    fn start(&mut self, now: u32, subject: Subject, episode: Episode, h: Hit) {
        let device = h.device.or(subject.exporter);
        let incident = self.incident(now, device, &subject);
        let alert = Alert {
            id: format!("{}-{:016x}", now, fingerprint(&subject)),
            kind_of: subject.kind_of,
            state: State::Start,
            severity: h.severity,
            kind: h.kind,
            exporter: subject.exporter.or(h.exporter),
            key: subject.key.clone(),
            value: h.value,
            baseline: h.baseline,
            score: h.score,
            started: stamp(now),
            ended: None,
            summary: bounded(h.summary),
            evidence: h.evidence,
            incident,
        };
        self.stats.started += 1;
        self.out.push(alert.clone());
        self.open.insert(subject, Open { episode, alert });
    }

    /// The incident of `device`: the open one if its last alert is recent, else a new one.
    fn incident(&mut self, now: u32, device: Option<IpAddr>, s: &Subject) -> Incident {
        let signal = format!("{}:{}", s.kind_of.name(), s.key);
        let window = self.limits.incident_window;
        let fresh = || Incident {
            id: format!("{now}-{:08x}", fingerprint(s) as u32),
            device,
            signals: Vec::new(),
        };
        let mut lone = fresh();
        let d = match device {
            Some(d) => self.devices.entry(d, || (fresh(), now)),
            None => {
                lone.signals.push(signal);
                self.stats.incidents += 1;
                return lone;
            }
        };
        if d.0.signals.is_empty() || now > d.1.saturating_add(window) {
            d.0 = fresh();
            self.stats.incidents += 1;
        }
        d.1 = now;
        if d.0.signals.len() < MAX_SIGNALS && !d.0.signals.contains(&signal) {
            d.0.signals.push(signal);
        }
        d.0.clone()
    }

    /// Ends the episodes whose hold-down is over (call once a second or so).
    pub fn sweep(&mut self, now: u32) {
        let mut done = Vec::new();
        for (s, o) in self.open.iter_mut() {
            let p = self.pacing.get(&s.kind_of).copied().unwrap_or_default();
            if o.episode.expire(now, &p) == Transition::End {
                done.push(s.clone());
            }
        }
        // in a stable order, whatever the map's
        done.sort_by(|a, b| {
            (a.kind_of.name(), &a.key, a.exporter).cmp(&(b.kind_of.name(), &b.key, b.exporter))
        });
        for s in done {
            self.end(now, s);
        }
    }

    /// Ends `subject`'s episode now, whatever its hold-down (the silent exporter spoke again).
    pub fn resolve(&mut self, now: u32, subject: &Subject) {
        let p = Pacing {
            hold_down: 0,
            ..self.pacing(subject.kind_of)
        };
        if let Some(o) = self.open.get_mut(subject) {
            if o.episode.expire(now, &p) == Transition::End {
                self.end(now, subject.clone());
            }
        }
    }

    fn end(&mut self, now: u32, s: Subject) {
        let Some(mut o) = self.open.remove(&s) else {
            return;
        };
        o.alert.state = State::End;
        o.alert.ended = Some(stamp(now));
        // The end lists the signals the incident gathered since the start.
        let device = o.alert.incident.device;
        if let Some((inc, _)) = device.and_then(|d| self.devices.peek(&d)) {
            if inc.id == o.alert.incident.id {
                o.alert.incident = inc.clone();
            }
        }
        self.stats.ended += 1;
        self.out.push(o.alert);
        *self.ended.entry(s, Episode::default) = o.episode;
    }

    /// The events raised since the last call.
    pub fn take(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.out)
    }
}

/// An update: the latest value and evidence; the baseline stays the one the episode started from.
fn refresh(a: &mut Alert, state: State, h: Hit) {
    a.state = state;
    a.value = h.value;
    a.score = a.score.max(h.score);
    a.summary = bounded(h.summary);
    a.evidence = h.evidence;
}

/// Bytes of a summary kept: an alert's size must not follow a message's.
const MAX_SUMMARY: usize = 512;

fn bounded(mut s: String) -> String {
    let end = crate::templates::cut(&s, MAX_SUMMARY).len();
    s.truncate(end);
    s
}

fn fingerprint(s: &Subject) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// A second as RFC 3339 UTC.
pub fn stamp(second: u32) -> String {
    let s = records::Stamp::new(u64::from(second) * 1_000_000_000);
    // whole seconds: drop the microseconds
    format!("{}Z", &s.as_str()[..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let pacing = HashMap::from([(
            Type::Flap,
            Pacing {
                hold_down: 5,
                cooldown: 10,
                update_every: 3,
            },
        )]);
        Registry::new(
            pacing,
            Limits {
                max_open: 2,
                remembered: 10,
                devices: 10,
                incident_window: 60,
            },
        )
    }

    fn subject(key: &str) -> Subject {
        Subject {
            kind_of: Type::Flap,
            exporter: Some("192.0.2.1".parse().unwrap()),
            key: key.into(),
        }
    }

    fn hit(v: f64) -> impl FnOnce() -> Hit {
        move || Hit {
            severity: Severity::Warning,
            kind: Some("snmptrap"),
            exporter: None,
            device: None,
            value: v,
            baseline: 5.0,
            score: v / 5.0,
            summary: "flapping".into(),
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn start_update_end_then_cooldown_and_one_incident_per_device() {
        let mut r = registry();
        r.quiet_until(100);
        r.hit(99, subject("if/1"), hit(6.0));
        assert_eq!(r.stats.warming_up, 1);
        for t in 100..104 {
            r.hit(t, subject("if/1"), hit(t as f64));
        }
        r.hit(101, subject("if/2"), hit(7.0));
        r.sweep(108);
        r.sweep(110);
        r.hit(112, subject("if/1"), hit(9.0)); // inside the cooldown
        let events: Vec<(String, &str, f64)> = r
            .take()
            .iter()
            .map(|a| (a.key.clone(), a.state.name(), a.value))
            .collect();
        assert_eq!(
            events,
            vec![
                ("if/1".into(), "start", 100.0),
                ("if/1".into(), "update", 103.0),
                ("if/2".into(), "start", 7.0),
                ("if/1".into(), "end", 103.0),
                ("if/2".into(), "end", 7.0),
            ]
        );
        assert_eq!(r.stats.suppressed, 1);
        assert_eq!(
            r.stats.incidents, 1,
            "both interfaces are one device's incident"
        );
    }

    #[test]
    fn the_cap_on_open_alerts_is_counted() {
        let mut r = registry();
        for k in ["a", "b", "c"] {
            r.hit(1, subject(k), hit(1.0));
        }
        assert_eq!(r.open_count(), 2);
        assert_eq!(r.stats.over_cap, 1);
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(1_796_601_600), "2026-12-07T00:00:00Z");
    }
}
