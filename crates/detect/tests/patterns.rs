//! The detectors on datagrams as exporters send them: `traffic` generates background and one pattern,
//! `records` decodes them, the detector runs on the capture clock the test sets.

use std::net::{IpAddr, Ipv4Addr};

use detect::alert::{State, Type};
use detect::{Alert, Config, Detector};
use traffic::{Exporter, GenKind, Pattern, Settings};

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_796_601_600 * SEC;

struct Run {
    detector: Detector,
    decoder: records::Decoder,
    alerts: Vec<Alert>,
    seq: u64,
}

impl Run {
    fn new() -> Run {
        let cfg = Config {
            warmup: 30,
            ..Config::default()
        };
        Run {
            detector: Detector::new(cfg).unwrap(),
            decoder: records::Decoder::new(records::Options::default()).unwrap(),
            alerts: Vec::new(),
            seq: 0,
        }
    }

    /// `per_second` datagrams of `e` in each second of `seconds`.
    fn send(
        &mut self,
        e: &mut Exporter,
        s: &Settings,
        seconds: std::ops::Range<u64>,
        per_second: u64,
    ) {
        let mut out = Vec::new();
        for sec in seconds {
            for i in 0..per_second {
                let now = T0 + sec * SEC + i * SEC / per_second;
                e.next(self.seq, now, s, &mut out);
                self.seq += 1;
                let kind = e.kind.kind();
                let exporter = IpAddr::V4(e.addr);
                self.detector.datagram(kind, exporter, now);
                let d = records::Datagram {
                    kind,
                    exporter,
                    received_ns: now,
                    payload: &out,
                    mismatched: false,
                };
                let detector = &mut self.detector;
                let _ = self.decoder.decode(&d, &mut |r| detector.record(&r));
            }
            self.alerts.extend(self.detector.take());
        }
    }

    fn starts(&self, t: Type) -> Vec<&Alert> {
        self.alerts
            .iter()
            .filter(|a| a.kind_of == t && a.state == State::Start)
            .collect()
    }
}

fn settings(pattern: Pattern) -> Settings {
    Settings {
        pattern,
        ..Settings::default()
    }
}

/// 60 s of background from three exporters of `kind`, then 5 s of `pattern` from a fourth, beside it.
fn scenario(kind: GenKind, pattern: Pattern, per_second: u64) -> Run {
    let mut run = Run::new();
    let bg = settings(Pattern::Background);
    let mut background: Vec<Exporter> = (0..3)
        .map(|i| Exporter::new(kind, Ipv4Addr::new(192, 0, 2, 1 + i), u64::from(i), &bg))
        .collect();
    let ev = settings(pattern);
    let mut event = Exporter::new(kind, Ipv4Addr::new(192, 0, 2, 9), 9, &ev);
    for sec in 0..65 {
        for e in &mut background {
            run.send(e, &bg, sec..sec + 1, 5);
        }
        if sec >= 60 {
            run.send(&mut event, &ev, sec..sec + 1, per_second);
        }
    }
    run
}

fn first_start(run: &Run, t: Type, key_part: &str) -> String {
    let a = run
        .starts(t)
        .into_iter()
        .find(|a| a.key.contains(key_part))
        .unwrap_or_else(|| panic!("no {t:?} alert on {key_part}: {:#?}", run.alerts));
    a.started.clone()
}

#[test]
fn background_alone_raises_nothing() {
    for kind in [
        GenKind::NetflowV9,
        GenKind::Ipfix,
        GenKind::Sflow,
        GenKind::Syslog,
    ] {
        let run = scenario(kind, Pattern::Background, 5);
        assert!(run.alerts.is_empty(), "{}: {:#?}", kind.name(), run.alerts);
    }
}

#[test]
fn floods_in_ipfix_and_sflow() {
    for kind in [GenKind::Ipfix, GenKind::Sflow, GenKind::NetflowV9] {
        for (pattern, metric) in [(Pattern::SynFlood, "/syn_pps"), (Pattern::UdpFlood, "/pps")] {
            let run = scenario(kind, pattern, 50);
            let started = first_start(&run, Type::Flood, &format!("dst/10.0.0.80{metric}"));
            assert!(
                started.as_str() <= "2026-12-07T00:01:02Z",
                "{} {}: {started}",
                kind.name(),
                pattern.name()
            );
        }
    }
}

#[test]
fn scans_in_netflow_and_sflow() {
    for kind in [GenKind::NetflowV9, GenKind::Sflow] {
        let run = scenario(kind, Pattern::PortScan, 20);
        first_start(&run, Type::Scan, "src/198.51.100.66/ports");
        let run = scenario(kind, Pattern::HostScan, 20);
        first_start(&run, Type::Scan, "src/198.51.100.66/hosts");
    }
}

#[test]
fn link_flaps_in_syslog_and_traps() {
    for kind in [GenKind::Syslog, GenKind::SnmptrapV2c, GenKind::SnmptrapV1] {
        let run = scenario(kind, Pattern::LinkFlap, 2);
        let started = first_start(&run, Type::Flap, "if/");
        assert!(
            started.as_str() <= "2026-12-07T00:01:03Z",
            "{}: {started}",
            kind.name()
        );
    }
}
