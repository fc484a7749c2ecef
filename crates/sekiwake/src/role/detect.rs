//! `sekiwake detect`: the detectors of `crates/detect` on the subscriber skeleton. Each envelope is decoded
//! (`crates/records`), its datagram and records go to the [`Detector`] with the capture time as the clock,
//! and the alert events it raises go to the sinks of `crates/alerts`. When the bus is quiet the clock keeps
//! moving (the capture time of the last datagram plus the time since), so silences are seen.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use alerts::{SinkStats, Sinks, Target};
use anyhow::{Context as _, Result};
use bus::subscriber::{self, Delivered, Handler};
use config::{Config, ConfigError, KindSelector};
use detect::{Detector, Stats};
use envelope::FLAG_MISMATCHED;
use runtime::{Reporter, Summary};
use serde::Serialize;

use crate::cli::{kinds_help, RecordArgs, StatsArgs, SubscribeArgs};
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub bus: SubscribeArgs,
    #[arg(long, help = kinds_help("Only these kinds (repeatable)"))]
    pub kind: Vec<KindSelector>,
    /// Where alerts go (repeatable): stdout, file:PATH, webhook:URL, alertmanager:URL,
    /// syslog:udp://HOST:PORT, bus:ENDPOINT (default: detect.alerts, else stdout).
    #[arg(long = "alerts")]
    pub alerts: Vec<String>,
    /// Seconds of learning after start, during which nothing alerts (default: detect.warmup, 60).
    #[arg(long)]
    pub warmup: Option<u32>,
    #[command(flatten)]
    pub records: RecordArgs,
    #[command(flatten)]
    pub stats: StatsArgs,
}

impl RoleConfig for Args {
    const SECTION: Option<&'static str> = Some("detect");

    fn check(cfg: &Config) -> Result<(), ConfigError> {
        section(cfg).map(|_| ())
    }
}

/// The `[detect]` section, checked: detector settings and alert targets.
fn section(cfg: &Config) -> Result<detect::Config, ConfigError> {
    let d: detect::Config = cfg.section("detect")?;
    if let Err((key, message)) = d.check() {
        let name = key.rsplit('.').next().unwrap_or(&key);
        return Err(cfg.error_at(&key, name, message));
    }
    for (i, a) in d.alerts.iter().enumerate() {
        a.parse::<Target>()
            .map_err(|m| cfg.error_at(&format!("detect.alerts[{i}]"), "alerts", m))?;
    }
    Ok(d)
}

impl Args {
    fn apply(&self, cfg: &mut Config) {
        self.bus.apply(cfg);
        self.records.apply(cfg);
        self.stats.apply(cfg);
    }

    /// Flags over the section: targets from `--alerts` replace the section's.
    fn targets(&self, d: &detect::Config) -> Result<Vec<Target>> {
        let written = match self.alerts.is_empty() {
            true => &d.alerts,
            false => &self.alerts,
        };
        let mut targets = written
            .iter()
            .map(|a| a.parse::<Target>().map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()?;
        if targets.is_empty() {
            targets.push(Target::Stdout);
        }
        Ok(targets)
    }
}

/// At stop, how long the bus is drained, and how long sinks may take to deliver what they hold.
const DRAIN: Duration = Duration::from_secs(1);
const SINK_GRACE: Duration = Duration::from_secs(3);

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.apply(&mut cfg);
    let mut d = section(&cfg)?;
    if let Some(w) = args.warmup {
        d.warmup = w;
    }
    let targets = args.targets(&d)?;
    // the key files are read once: the bus sink and the subscriber share them
    let curve = crate::cli::curve(&cfg)?;
    let sink_opts = alerts::Options {
        queue: d.alert_queue,
        curve: curve.clone(),
        ..alerts::Options::default()
    };
    let detector = Detector::new(d).map_err(anyhow::Error::msg)?;
    let decoder = records::Decoder::new(cfg.decode.options()).context("decode.snmp_users")?;
    let sinks = Sinks::start(&targets, sink_opts)?;
    tracing::info!(
        "detect: alerts go to {}",
        targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let opts = subscriber::Options {
        endpoints: cfg.bus.subscribe.iter().map(|e| e.0.clone()).collect(),
        kinds: args.kind.clone(),
        shard: cfg.bus.shard,
        curve,
        hwm: cfg.bus.hwm,
        drain: DRAIN,
        reload_on_sighup: false,
    };
    let stop = ctx.stop(args.stats.duration());
    let mut reporter = Reporter::new(&cfg.stats, None);
    let handler = Detecting {
        detector,
        decoder,
        sinks: Some(sinks),
        clock: Clock::default(),
        unknown_kind: 0,
        clock_ahead: 0,
    };
    subscriber::run(&opts, handler, &stop, &mut reporter)?;
    Ok(ExitCode::SUCCESS)
}

/// Detect's own counters (the skeleton adds the bus's).
#[derive(Debug, Clone, Serialize)]
pub struct DetectReport {
    /// Envelopes of a kind this build does not know (counted, not decoded).
    pub unknown_kind: u64,
    /// Envelopes stamped more than 5 minutes ahead of this host's clock (judged as stamped now).
    pub clock_ahead: u64,
    /// What the decoder made of the datagrams (malformed ones are counted there and skipped).
    pub records: records::Stats,
    pub detector: Stats,
    pub sinks: Vec<SinkStats>,
}

impl Summary for DetectReport {
    fn line(&self) -> String {
        let a = &self.detector.alerts;
        let sent: u64 = self.sinks.iter().map(|s| s.sent).sum();
        let lost: u64 = self
            .sinks
            .iter()
            .map(|s| s.dropped_full + s.rejected + s.unsent_at_exit)
            .sum();
        format!(
            "records={} malformed={} alerts_started={} ended={} open_keys={} sink_sent={sent} sink_lost={lost}",
            self.records.records,
            self.records.malformed,
            a.started,
            a.ended,
            self.detector.keys.rate + self.detector.keys.hosts,
        )
    }
}

/// The capture clock, moved on by wall time while nothing arrives.
#[derive(Default)]
struct Clock {
    last: Option<(u64, Instant)>,
}

impl Clock {
    fn saw(&mut self, ns: u64) {
        if self.last.is_none_or(|(t, _)| ns >= t) {
            self.last = Some((ns, Instant::now()));
        }
    }

    fn now(&self) -> Option<u64> {
        self.last.map(|(t, at)| {
            t.saturating_add(at.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64)
        })
    }
}

struct Detecting {
    detector: Detector,
    decoder: records::Decoder,
    /// `None` once closed.
    sinks: Option<Sinks>,
    clock: Clock,
    unknown_kind: u64,
    clock_ahead: u64,
}

/// A datagram stamped further ahead of this host's clock is taken as stamped now: one wrong clock must not
/// carry detection's clock into the future (where every bucket would wait for it).
const MAX_AHEAD_NS: u64 = 300 * 1_000_000_000;

impl Detecting {
    fn stamp(&mut self, ns: u64) -> u64 {
        let wall = runtime::now_ns();
        match ns > wall.saturating_add(MAX_AHEAD_NS) {
            true => {
                self.clock_ahead += 1;
                wall
            }
            false => ns,
        }
    }

    fn send_alerts(&mut self) {
        let Some(sinks) = &self.sinks else { return };
        for a in self.detector.take() {
            sinks.send(a);
        }
    }

    fn report(&self, sinks: Vec<SinkStats>) -> DetectReport {
        DetectReport {
            unknown_kind: self.unknown_kind,
            clock_ahead: self.clock_ahead,
            records: self.decoder.stats,
            detector: self.detector.stats(),
            sinks,
        }
    }
}

impl Handler for Detecting {
    type Counters = DetectReport;
    type Error = anyhow::Error;

    fn role(&self) -> &'static str {
        "detect"
    }

    fn batch(&mut self, batch: &[Delivered<'_>]) -> Result<()> {
        for d in batch {
            let e = &d.envelope;
            let Some(kind) = e.kind() else {
                self.unknown_kind += 1;
                continue;
            };
            let ts = self.stamp(e.timestamp_ns());
            self.clock.saw(ts);
            self.detector.datagram(kind, e.src(), ts);
            let datagram = records::Datagram {
                kind,
                exporter: e.src(),
                received_ns: ts,
                payload: e.payload(),
                mismatched: e.flags() & FLAG_MISMATCHED != 0,
            };
            // A datagram that does not decode is counted by the decoder; detection goes on.
            let detector = &mut self.detector;
            let _ = self.decoder.decode(&datagram, &mut |r| detector.record(&r));
        }
        self.send_alerts();
        Ok(())
    }

    fn idle(&mut self) -> Result<()> {
        if let Some(now) = self.clock.now() {
            self.detector.tick(now);
        }
        self.send_alerts();
        Ok(())
    }

    fn counters(&mut self) -> DetectReport {
        let sinks = self.sinks.as_ref().map(Sinks::stats).unwrap_or_default();
        self.report(sinks)
    }

    fn close(mut self) -> DetectReport {
        self.send_alerts();
        let sinks = self
            .sinks
            .take()
            .map(|s| s.close(SINK_GRACE))
            .unwrap_or_default();
        self.report(sinks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// examples/detect.toml writes every setting at its default: it must stay so.
    #[test]
    fn the_example_is_the_defaults() {
        let text = include_str!("../../../../examples/detect.toml");
        let cfg = Config::parse_with("examples/detect.toml", text, &["detect"]).unwrap();
        let d = section(&cfg).unwrap();
        let want = detect::Config {
            alerts: vec!["stdout".into()],
            ..detect::Config::default()
        };
        assert_eq!(d, want);
    }

    #[test]
    fn a_bad_target_names_its_line() {
        let text = "[detect]\nwarmup = 5\nalerts = [\"stdout\", \"pager:x\"]\n";
        let cfg = Config::parse_with("d.toml", text, &["detect"]).unwrap();
        let e = section(&cfg).unwrap_err().to_string();
        assert!(
            e.starts_with("d.toml:3: key `detect.alerts[1]`: `pager:x`"),
            "{e}"
        );
    }
}
