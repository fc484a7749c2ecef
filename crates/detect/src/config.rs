//! The `[detect]` section: every detector switchable and tunable, with defaults that work untuned.

use std::net::IpAddr;

use serde::Deserialize;

use crate::baseline::{Direction, Tuning};
use crate::episode::Pacing;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seconds after start during which the detectors learn and nothing alerts.
    pub warmup: u32,
    /// Alerts about one device (an exporter, or the address a flood or scan names) within this many seconds
    /// of each other are one incident.
    pub incident_window: u32,
    /// Alerts open at once, at most (more are counted as `over_cap`).
    pub max_open: usize,
    pub rate: Rate,
    pub silence: Silence,
    pub new_template: NewTemplate,
    pub scan: Scan,
    pub flood: Flood,
    pub flap: Flap,
    pub storm: Storm,
    /// Fixed limits per group of addresses (`[[detect.ceiling]]`).
    #[serde(rename = "ceiling")]
    pub ceilings: Vec<Ceiling>,
    /// Where alerts go (`stdout`, `file:PATH`, `webhook:URL`, `alertmanager:URL`, `syslog:udp://HOST:PORT`,
    /// `bus:ENDPOINT`); opened by the `detect` role. Default: stdout.
    pub alerts: Vec<String>,
    /// Events each alert target holds while it is slow or down; past it they are dropped and counted.
    pub alert_queue: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            warmup: 60,
            incident_window: 60,
            max_open: 10_000,
            rate: Rate::default(),
            silence: Silence::default(),
            new_template: NewTemplate::default(),
            scan: Scan::default(),
            flood: Flood::default(),
            flap: Flap::default(),
            storm: Storm::default(),
            ceilings: Vec::new(),
            alerts: Vec::new(),
            alert_queue: 1000,
        }
    }
}

/// The baseline a live series starts with: a memory of about 100 s, scored in log space, counts.
fn live_tuning() -> Tuning {
    Tuning {
        alpha: 0.01,
        clamp: 3.0,
        short: 0.3,
        long: 0.002,
        threshold: 4.0,
        min_z: 5.0,
        warmup: 30,
        direction: Direction::Up,
        counts: true,
        log: true,
    }
}

/// Learned per-second rates: datagrams per (kind, exporter), syslog messages per (exporter, severity) and
/// per (exporter, template), traps per exporter, and pps/bps/flows/SYN per flow source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rate {
    pub enabled: bool,
    /// Series held at most (least recently used out).
    pub keys: usize,
    pub datagrams: bool,
    pub syslog_severity: bool,
    pub syslog_template: bool,
    pub traps: bool,
    pub flow_sources: bool,
    pub baseline: Tuning,
    pub pacing: Pacing,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            enabled: true,
            keys: 500_000,
            datagrams: true,
            syslog_severity: true,
            syslog_template: true,
            traps: true,
            flow_sources: true,
            baseline: live_tuning(),
            pacing: Pacing::default(),
        }
    }
}

/// An exporter that sent steadily, then nothing for `factor` times its usual interval (and `min_gap` s).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Silence {
    pub enabled: bool,
    pub exporters: usize,
    pub factor: f32,
    pub min_gap: f32,
    /// Datagrams an exporter must have sent before its silence means something.
    pub min_arrivals: u32,
    /// Seconds of silence after which the exporter is taken as gone: its alert ends, and nothing more is
    /// said until it sends again.
    pub forget_after: f32,
    pub pacing: Pacing,
}

impl Default for Silence {
    fn default() -> Self {
        Silence {
            enabled: true,
            exporters: 100_000,
            factor: 5.0,
            min_gap: 1.0,
            min_arrivals: 20,
            forget_after: 3600.0,
            // A silent exporter is hit at every sweep (each second): the episode ends when it speaks again.
            pacing: Pacing {
                hold_down: 2,
                cooldown: 0,
                update_every: 60,
            },
        }
    }
}

/// A log template first seen after the warm-up: on the whole bus, and from one exporter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewTemplate {
    pub enabled: bool,
    pub templates: usize,
    /// Share of agreeing words for a message to join a template.
    pub similarity: f32,
    /// Also alert when an exporter sends a template it never sent, after its own warm-up.
    pub per_exporter: bool,
    /// (exporter, template) pairs remembered.
    pub pairs: usize,
    pub pacing: Pacing,
}

impl Default for NewTemplate {
    fn default() -> Self {
        NewTemplate {
            enabled: true,
            templates: 5_000,
            similarity: 0.5,
            per_exporter: true,
            pairs: 200_000,
            pacing: Pacing {
                hold_down: 30,
                cooldown: 0,
                update_every: 30,
            },
        }
    }
}

/// Distinct destination ports (and hosts) per source in a window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scan {
    pub enabled: bool,
    pub sources: usize,
    /// Seconds.
    pub window: u32,
    pub ports: u64,
    pub hosts: u64,
    pub pacing: Pacing,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            enabled: true,
            sources: 100_000,
            window: 10,
            ports: 100,
            hosts: 50,
            pacing: Pacing::default(),
        }
    }
}

/// A destination's pps, bps, flows/s or SYN pps far above its baseline (and an absolute floor).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flood {
    pub enabled: bool,
    /// Addresses followed, destinations and sources together (each direction its own key, one table).
    pub hosts: usize,
    /// How far above the learned level (× its mean).
    pub factor: f32,
    /// Below these nothing is a flood; a destination still learning alerts above them.
    pub min_pps: f32,
    pub min_mbps: f32,
    pub min_flows: f32,
    pub min_syn_pps: f32,
    /// Sampled records (sFlow, sampled NetFlow/IPFIX) a second needs before its estimate can alert: two
    /// samples at 1 in 1000 read as 2000 pps, which is noise.
    pub min_samples: u16,
    /// Seconds an open flood goes on on its starting level alone; past it, it needs its baseline's verdict.
    pub max_duration: u32,
    pub baseline: Tuning,
    pub pacing: Pacing,
}

impl Default for Flood {
    fn default() -> Self {
        Flood {
            enabled: true,
            hosts: 200_000,
            factor: 5.0,
            min_pps: 5_000.0,
            min_mbps: 50.0,
            min_flows: 1_000.0,
            min_syn_pps: 1_000.0,
            min_samples: 5,
            max_duration: 3600,
            baseline: live_tuning(),
            pacing: Pacing::default(),
        }
    }
}

/// linkDown/linkUp per (exporter, interface), from traps and syslog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flap {
    pub enabled: bool,
    pub interfaces: usize,
    pub transitions: u32,
    /// Seconds.
    pub window: u32,
    pub pacing: Pacing,
}

impl Default for Flap {
    fn default() -> Self {
        Flap {
            enabled: true,
            interfaces: 100_000,
            transitions: 5,
            window: 10,
            pacing: Pacing::default(),
        }
    }
}

/// Bursts of traps (or syslog messages) from one exporter: at least `traps` (`syslog`) in `window` seconds,
/// and `factor` times its usual count per window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storm {
    pub enabled: bool,
    pub exporters: usize,
    pub window: u32,
    pub traps: u32,
    pub syslog: u32,
    pub factor: f32,
    pub pacing: Pacing,
}

impl Default for Storm {
    fn default() -> Self {
        Storm {
            enabled: true,
            exporters: 100_000,
            window: 10,
            traps: 100,
            syslog: 2_000,
            factor: 5.0,
            pacing: Pacing::default(),
        }
    }
}

/// Hard limits for a group of networks, FastNetMon style: `_in` for traffic to an address of the group,
/// `_out` for traffic from one. Each limit is per address, per second.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Ceiling {
    pub name: String,
    /// CIDR prefixes (`192.0.2.0/24`, `2001:db8::/32`).
    pub networks: Vec<String>,
    pub pps_in: Option<f32>,
    pub mbps_in: Option<f32>,
    pub flows_in: Option<f32>,
    pub syn_pps_in: Option<f32>,
    pub pps_out: Option<f32>,
    pub mbps_out: Option<f32>,
    pub flows_out: Option<f32>,
    pub syn_pps_out: Option<f32>,
}

/// A parsed CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub len: u8,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network, String> {
        let (a, l) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address/prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            "" => max,
            l => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("`{s}`: prefix length 0..={max}"))?,
        };
        Ok(Network { addr, len })
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        let (x, y, max) = match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(a)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
            _ => return false,
        };
        let shift = max - u32::from(self.len);
        shift >= 128 || (x >> shift) == (y >> shift)
    }
}

impl Config {
    /// Rules serde cannot say. Errors name the key.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (i, c) in self.ceilings.iter().enumerate() {
            if c.networks.is_empty() {
                return Err((
                    format!("detect.ceiling[{i}].networks"),
                    "a ceiling needs at least one network".into(),
                ));
            }
            for n in &c.networks {
                Network::parse(n).map_err(|m| (format!("detect.ceiling[{i}].networks"), m))?;
            }
        }
        let t = &self.new_template.similarity;
        if !(0.0..=1.0).contains(t) {
            return Err((
                "detect.new_template.similarity".into(),
                "between 0 and 1".into(),
            ));
        }
        for (key, n) in [
            ("detect.scan.window", self.scan.window),
            ("detect.flap.window", self.flap.window),
            ("detect.storm.window", self.storm.window),
            ("detect.incident_window", self.incident_window.max(1)),
        ] {
            within(key, f64::from(n), 1.0, DAY)?;
        }
        within("detect.warmup", f64::from(self.warmup), 0.0, 7.0 * DAY)?;
        within("detect.max_open", self.max_open as f64, 1.0, 1e6)?;
        within(
            "detect.flap.transitions",
            f64::from(self.flap.transitions),
            1.0,
            8.0,
        )?;
        for (section, t) in [
            ("rate", &self.rate.baseline),
            ("flood", &self.flood.baseline),
        ] {
            check_tuning(&format!("detect.{section}.baseline"), t)?;
        }
        for (section, p) in [
            ("rate", &self.rate.pacing),
            ("silence", &self.silence.pacing),
            ("new_template", &self.new_template.pacing),
            ("scan", &self.scan.pacing),
            ("flood", &self.flood.pacing),
            ("flap", &self.flap.pacing),
            ("storm", &self.storm.pacing),
        ] {
            for (name, v) in [
                ("hold_down", p.hold_down),
                ("cooldown", p.cooldown),
                ("update_every", p.update_every),
            ] {
                within(
                    &format!("detect.{section}.pacing.{name}"),
                    f64::from(v),
                    0.0,
                    DAY,
                )?;
            }
        }
        let f = &self.flood;
        for (key, v) in [
            ("detect.flood.factor", f.factor),
            ("detect.storm.factor", self.storm.factor),
            ("detect.silence.factor", self.silence.factor),
        ] {
            within(key, f64::from(v), 1e-3, 1e6)?;
        }
        for (key, v) in [
            ("detect.flood.min_pps", f.min_pps),
            ("detect.flood.min_mbps", f.min_mbps),
            ("detect.flood.min_flows", f.min_flows),
            ("detect.flood.min_syn_pps", f.min_syn_pps),
            ("detect.silence.min_gap", self.silence.min_gap),
            ("detect.silence.forget_after", self.silence.forget_after),
        ] {
            within(key, f64::from(v), 0.0, 1e12)?;
        }
        Ok(())
    }
}

const DAY: f64 = 86_400.0;

/// A setting within its range (a NaN is not).
fn within(key: &str, v: f64, min: f64, max: f64) -> Result<(), (String, String)> {
    match v >= min && v <= max {
        true => Ok(()),
        false => Err((key.to_owned(), format!("{v} is not within {min}..={max}"))),
    }
}

fn check_tuning(key: &str, t: &Tuning) -> Result<(), (String, String)> {
    within(&format!("{key}.alpha"), f64::from(t.alpha), 1e-6, 1.0)?;
    within(&format!("{key}.short"), f64::from(t.short), 1e-6, 1.0)?;
    within(&format!("{key}.long"), f64::from(t.long), 1e-6, 1.0)?;
    within(&format!("{key}.clamp"), f64::from(t.clamp), 1e-3, 1e3)?;
    within(
        &format!("{key}.threshold"),
        f64::from(t.threshold),
        0.0,
        300.0,
    )?;
    within(&format!("{key}.min_z"), f64::from(t.min_z), 0.0, 1e6)?;
    within(
        &format!("{key}.warmup"),
        f64::from(t.warmup),
        0.0,
        7.0 * DAY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_by_key() {
        assert!(Config::default().check().is_ok());
        let mut c = Config::default();
        c.flood.baseline.clamp = -1.0;
        assert_eq!(c.check().unwrap_err().0, "detect.flood.baseline.clamp");
        let mut c = Config::default();
        c.rate.baseline.alpha = f32::NAN;
        assert_eq!(c.check().unwrap_err().0, "detect.rate.baseline.alpha");
        let mut c = Config::default();
        c.flap.transitions = 9;
        assert_eq!(c.check().unwrap_err().0, "detect.flap.transitions");
        let mut c = Config::default();
        c.silence.pacing.hold_down = u32::MAX;
        assert_eq!(c.check().unwrap_err().0, "detect.silence.pacing.hold_down");
        let c = Config {
            max_open: 0,
            ..Config::default()
        };
        assert_eq!(c.check().unwrap_err().0, "detect.max_open");
    }

    #[test]
    fn networks() {
        let n = Network::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(!n.contains("2001:db8::1".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Network::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8:1::5".parse().unwrap()));
        assert!(Network::parse("192.0.2.0/33").is_err());
        assert!(Network::parse("nope/8").is_err());
    }
}
