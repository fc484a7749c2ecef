//! Each detector on records made here, second by second, with the capture clock in the test's hands.

use std::net::{IpAddr, Ipv4Addr};

use records::Record;
use wire::kind::Kind;

use super::*;
use crate::alert::State;
use crate::testing::{self, link_trap, message};

const SEC: u64 = 1_000_000_000;
/// 2026-12-07T00:00:00Z
const T0: u64 = 1_796_601_600 * SEC;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn quick() -> Config {
    let mut c = Config {
        warmup: 20,
        ..Config::default()
    };
    c.rate.baseline.warmup = 10;
    c.flood.baseline.warmup = 10;
    c
}

fn v5(src: &str, dst: &str, dst_port: u16, packets: u32, flags: u8) -> Record {
    testing::v5(
        src.parse().unwrap(),
        dst.parse().unwrap(),
        dst_port,
        packets,
        flags,
    )
}

/// Feeds `n` records spread evenly over the second `second` (counted from T0).
fn feed(d: &mut Detector, kind: Kind, second: u64, recs: &[Record]) {
    let n = recs.len().max(1) as u64;
    for (i, r) in recs.iter().enumerate() {
        d.datagram(kind, r.exporter, T0 + second * SEC + i as u64 * SEC / n);
        d.record(r);
    }
}

fn events(alerts: &[Alert], t: Type) -> Vec<(State, String)> {
    alerts
        .iter()
        .filter(|a| a.kind_of == t)
        .map(|a| (a.state, a.key.clone()))
        .collect()
}

#[test]
fn a_rate_jump_alerts_then_ends() {
    let mut d = Detector::new(quick()).unwrap();
    let e = ip("192.0.2.10");
    let mut all = Vec::new();
    for s in 0..300 {
        let n = if (200..210).contains(&s) {
            400
        } else {
            10 + s as usize % 3
        };
        let recs: Vec<Record> = (0..n).map(|_| message(e, 6, "user login ok")).collect();
        feed(&mut d, Kind::Syslog, s, &recs);
        all.extend(d.take());
    }
    let rate = events(&all, Type::Rate);
    assert!(
        rate.contains(&(State::Start, "datagrams/syslog".into())),
        "{rate:?}"
    );
    assert!(
        rate.contains(&(State::End, "datagrams/syslog".into())),
        "{rate:?}"
    );
    let first = all.iter().find(|a| a.kind_of == Type::Rate).unwrap();
    assert_eq!(first.exporter, Some(e));
    assert!(first.value >= 400.0 && first.baseline < 20.0, "{first:?}");
    assert!(
        first.started.starts_with("2026-12-07T00:03:2"),
        "{}",
        first.started
    );
    let before: Vec<_> = all.iter().filter(|a| a.started < stamp_of(200)).collect();
    assert!(before.is_empty(), "false alarms: {before:?}");
}

fn stamp_of(second: u64) -> String {
    crate::alert::stamp((T0 / SEC + second) as u32)
}

#[test]
fn an_exporter_going_silent_alerts_and_ends_when_it_speaks_again() {
    let mut d = Detector::new(quick()).unwrap();
    let e = ip("192.0.2.20");
    let mut all = Vec::new();
    for s in 0..100 {
        if !(60..70).contains(&s) {
            let recs: Vec<Record> = (0..5).map(|_| message(e, 6, "tick")).collect();
            feed(&mut d, Kind::Syslog, s, &recs);
        } else {
            d.tick(T0 + s * SEC);
        }
        all.extend(d.take());
    }
    let silence: Vec<_> = all.iter().filter(|a| a.kind_of == Type::Silence).collect();
    assert_eq!(silence[0].state, State::Start);
    assert_eq!(silence[0].key, "datagrams/syslog");
    // the last datagram came at 59.8 s; 1 s (min_gap) later is 60.8 s, seen at the sweep of second 61
    assert_eq!(silence[0].started, stamp_of(61));
    assert_eq!(silence.last().unwrap().state, State::End);
    assert_eq!(
        silence.last().unwrap().ended.as_deref(),
        Some(stamp_of(70).as_str())
    );
}

#[test]
fn templates_new_on_the_bus_and_new_for_an_exporter() {
    let mut d = Detector::new(quick()).unwrap();
    let (a, b) = (ip("192.0.2.30"), ip("192.0.2.31"));
    let mut all = Vec::new();
    for s in 0..60 {
        let mut recs = vec![message(a, 6, &format!("session opened for user u{s}"))];
        if s >= 25 {
            recs.push(message(b, 6, "backup finished"));
        }
        if s == 50 {
            recs.push(message(a, 6, "session opened for user u77"));
            recs.push(message(b, 6, &format!("session opened for user x{s}")));
            recs.push(message(a, 2, "kernel panic: attempted to kill init"));
        }
        feed(&mut d, Kind::Syslog, s, &recs);
        all.extend(d.take());
    }
    let t = events(&all, Type::NewTemplate);
    let starts: Vec<_> = all
        .iter()
        .filter(|x| x.kind_of == Type::NewTemplate && x.state == State::Start)
        .map(|x| (x.exporter, x.summary.clone()))
        .collect();
    // "backup finished" appeared at 25 s, after the warm-up (20 s): new on the bus. At 50 s b sends the
    // session template a has sent all along (new for b), and a sends a message never seen.
    assert_eq!(starts.len(), 3, "{starts:?} {t:?}");
    assert!(starts[0].1.contains("never seen before: backup finished"));
    assert_eq!(starts[1].0, Some(b));
    assert!(starts[1].1.contains("new for 192.0.2.31"));
    assert!(starts[2].1.contains("kernel panic"));
}

#[test]
fn flaps_from_traps_and_syslog_are_one_incident() {
    let mut d = Detector::new(quick()).unwrap();
    let e = ip("192.0.2.40");
    let mut all = Vec::new();
    for s in 0..40 {
        let mut recs = vec![message(e, 6, "heartbeat")];
        feed(&mut d, Kind::Syslog, s, &recs);
        if s >= 30 {
            let up = s % 2 == 1;
            let state = if up { "up" } else { "down" };
            recs = vec![
                message(e, 3, &format!("%LINK-3-UPDOWN: Interface Gi0/3, changed state to {state}")),
                message(e, 5, &format!("%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/3, changed state to {state}")),
            ];
            feed(&mut d, Kind::Syslog, s, &recs);
            feed(&mut d, Kind::Snmptrap, s, &[link_trap(e, 3, up)]);
        }
        all.extend(d.take());
    }
    let flaps: Vec<&Alert> = all
        .iter()
        .filter(|a| a.kind_of == Type::Flap && a.state == State::Start)
        .collect();
    let keys: Vec<&str> = flaps.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["if/Gi0/3", "if/3"],
        "LINK and LINEPROTO count once"
    );
    assert_eq!(flaps[0].started, stamp_of(34), "the 5th transition");
    assert_eq!(flaps[0].incident.id, flaps[1].incident.id);
    // the link messages were also new log templates: the incident lists every signal
    let signals = &flaps[1].incident.signals;
    assert!(
        signals.ends_with(&["flap:if/Gi0/3".to_owned(), "flap:if/3".to_owned()]),
        "{signals:?}"
    );
}

#[test]
fn a_trap_storm() {
    let mut d = Detector::new(quick()).unwrap();
    let e = ip("192.0.2.50");
    let mut all = Vec::new();
    for s in 0..60 {
        let n = if s == 45 { 300 } else { 1 };
        let recs: Vec<Record> = (0..n).map(|i| link_trap(e, 1000 + i, true)).collect();
        feed(&mut d, Kind::Snmptrap, s, &recs);
        all.extend(d.take());
    }
    let storm = events(&all, Type::Storm);
    assert_eq!(storm[0], (State::Start, "traps".into()));
    assert!(
        events(&all, Type::Flap).is_empty(),
        "one transition per interface is no flap"
    );
}

#[test]
fn a_port_scan_and_a_host_scan() {
    let mut d = Detector::new(quick()).unwrap();
    let mut all = Vec::new();
    for s in 0..40 {
        let mut recs = vec![v5("10.0.0.1", "10.0.0.2", 443, 10, 0x1b)];
        if s == 30 {
            recs.extend((1..=150).map(|p| v5("198.51.100.9", "10.0.0.2", p, 1, 0x02)));
            recs.extend((1..=60).map(|h| v5("198.51.100.10", &format!("10.0.1.{h}"), 22, 1, 0x02)));
        }
        feed(&mut d, Kind::NetflowV5, s, &recs);
        all.extend(d.take());
    }
    let scans = events(&all, Type::Scan);
    assert!(
        scans.contains(&(State::Start, "src/198.51.100.9/ports".into())),
        "{scans:?}"
    );
    assert!(
        scans.contains(&(State::Start, "src/198.51.100.10/hosts".into())),
        "{scans:?}"
    );
    let a = all
        .iter()
        .find(|a| a.key == "src/198.51.100.9/ports")
        .unwrap();
    assert_eq!(a.incident.device, Some(ip("198.51.100.9")));
    assert_eq!(a.evidence["sample_dst_hosts"][0], "10.0.0.2");
}

#[test]
fn a_syn_flood_with_its_top_sources() {
    let mut d = Detector::new(quick()).unwrap();
    let mut all = Vec::new();
    for s in 0..80 {
        let mut recs: Vec<Record> = (0..20)
            .map(|i| v5(&format!("10.0.2.{i}"), "10.0.0.80", 443, 50, 0x1b))
            .collect();
        if s >= 60 {
            // 100 sources, 100 SYN packets each per second
            recs.extend(
                (0..100).map(|i| v5(&format!("203.0.113.{i}"), "10.0.0.80", 443, 100, 0x02)),
            );
        }
        feed(&mut d, Kind::NetflowV5, s, &recs);
        all.extend(d.take());
    }
    let floods = events(&all, Type::Flood);
    assert!(
        floods.contains(&(State::Start, "dst/10.0.0.80/pps".into())),
        "{floods:?}"
    );
    assert!(
        floods.contains(&(State::Start, "dst/10.0.0.80/syn_pps".into())),
        "{floods:?}"
    );
    let a = all
        .iter()
        .find(|a| a.key == "dst/10.0.0.80/syn_pps")
        .unwrap();
    assert!(
        a.started >= stamp_of(60) && a.started <= stamp_of(62),
        "{}",
        a.started
    );
    assert_eq!(a.evidence["top_protocols"][0]["value"], "6");
    assert!(a.evidence["top_sources"][0]["value"]
        .as_str()
        .unwrap()
        .starts_with("203.0.113."));
    assert!(
        all.iter().all(|a| a.started >= stamp_of(60)),
        "no alert before the flood"
    );
}

/// 800 s of 100 pps to 10.0.0.90, with a 20 000 pps flood from 60 s to 700 s; every alert event.
fn long_flood(c: Config) -> Vec<Alert> {
    let mut d = Detector::new(c).unwrap();
    let mut all = Vec::new();
    for s in 0..800 {
        let mut recs: Vec<Record> = (0..5)
            .map(|i| v5(&format!("10.0.2.{i}"), "10.0.0.90", 80, 20, 0x1b))
            .collect();
        if (60..700).contains(&s) {
            recs.extend((0..50).map(|i| v5(&format!("203.0.113.{i}"), "10.0.0.90", 53, 400, 0)));
        }
        feed(&mut d, Kind::NetflowV5, s, &recs);
        all.extend(d.take());
    }
    all
}

#[test]
fn a_long_flood_stays_one_alert_until_it_stops() {
    let all = long_flood(quick());
    let pps: Vec<(State, String)> = all
        .iter()
        .filter(|a| a.key == "dst/10.0.0.90/pps")
        .map(|a| (a.state, a.ended.clone().unwrap_or_default()))
        .filter(|(s, _)| *s != State::Update)
        .collect();
    assert_eq!(pps.len(), 2, "{pps:?}");
    assert_eq!(pps[0].0, State::Start);
    assert_eq!(
        pps[1],
        (State::End, stamp_of(710)),
        "ten seconds after the flood's last second"
    );
}

#[test]
fn past_max_duration_a_flood_needs_its_baseline_again() {
    let mut c = quick();
    c.flood.max_duration = 100;
    let all = long_flood(c);
    let first_end = all
        .iter()
        .find(|a| a.key == "dst/10.0.0.90/pps" && a.state == State::End)
        .unwrap();
    assert!(
        first_end.ended.as_deref().unwrap() < stamp_of(700).as_str(),
        "{first_end:?}"
    );
}

#[test]
fn a_ceiling_alerts_from_the_first_second() {
    let mut c = quick();
    c.ceilings.push(crate::config::Ceiling {
        name: "servers".into(),
        networks: vec!["10.9.0.0/16".into()],
        pps_in: Some(500.0),
        ..Default::default()
    });
    let mut d = Detector::new(c).unwrap();
    let mut all = Vec::new();
    for s in 0..30 {
        let recs: Vec<Record> = (0..10)
            .map(|_| v5("10.0.0.1", "10.9.1.1", 53, 100, 0))
            .collect();
        feed(&mut d, Kind::NetflowV5, s, &recs);
        all.extend(d.take());
    }
    let f = events(&all, Type::Flood);
    assert_eq!(
        f[0],
        (State::Start, "ceiling/servers/dst/10.9.1.1/pps".into())
    );
}

#[test]
fn key_tables_stay_within_their_caps() {
    let mut c = quick();
    c.rate.keys = 1000;
    c.flood.hosts = 500;
    c.scan.sources = 300;
    let mut d = Detector::new(c).unwrap();
    for i in 0..20_000u32 {
        let a = Ipv4Addr::from(0x0a00_0000 + i).to_string();
        let r = v5(&a, &a, 80, 1, 0);
        let e = IpAddr::V4(Ipv4Addr::from(0xc000_0000 + i));
        d.datagram(Kind::NetflowV5, e, T0 + u64::from(i) * 1000);
        d.record(&r);
    }
    let s = d.stats();
    assert_eq!(s.keys.rate, 1000);
    assert_eq!(s.evicted.rate, 19_000);
    assert_eq!(s.keys.hosts, 500);
    assert_eq!(s.keys.scan, 300);
    assert!(s.evicted.hosts >= 39_000);
}

#[test]
fn bytes_per_key() {
    // what the tables hold per entry besides the hash table's own overhead
    assert_eq!(
        std::mem::size_of::<(RateKey, Series)>(),
        64,
        "docs/detection.md"
    );
    assert_eq!(std::mem::size_of::<Series>(), 36);
    assert_eq!(
        std::mem::size_of::<Host>(),
        4 * 36 + 36,
        "45 bytes a rate key"
    );
}

#[test]
fn sampling_noise_needs_more_samples_the_more_an_address_usually_has() {
    // P(X ≥ n) for a Poisson mean of 0.6: 9.1e-10 at n = 10, 5.0e-11 at n = 11
    assert_eq!(unusual_samples(0.6), 11.0);
    assert_eq!(unusual_samples(0.0), 1.0);
    // 0.04 a second: 5 samples happen with a chance of 8.5e-10, 6 with 5.7e-12
    assert_eq!(unusual_samples(0.04), 6.0);
    // large means: the normal tail, and no jump where the two rules meet
    let (below, above) = (unusual_samples(99.9), unusual_samples(100.1));
    assert!((below - above).abs() < 3.0, "{below} {above}");
    assert!(unusual_samples(10_000.0) > 10_640.0);
}

/// A source that usually sends 40 pps: one second of one 5 000-packet flow is a burst, not an alert; two
/// seconds in a row are.
#[test]
fn a_source_alerts_on_two_seconds_in_a_row_not_on_one_burst() {
    let mut d = Detector::new(quick()).unwrap();
    let mut all = Vec::new();
    let src = "10.1.16.41";
    for s in 0..300 {
        let mut recs: Vec<Record> = (0..4)
            .map(|i| v5(src, &format!("203.0.113.{i}"), 443, 10, 0x1b))
            .collect();
        if [200, 250, 251].contains(&s) {
            recs.push(v5(src, "203.0.113.200", 443, 5000, 0x18));
        }
        feed(&mut d, Kind::NetflowV5, s, &recs);
        all.extend(d.take());
    }
    let starts: Vec<&Alert> = all
        .iter()
        .filter(|a| a.key == format!("src/{src}/pps") && a.state == State::Start)
        .collect();
    assert_eq!(starts.len(), 1, "{all:?}");
    assert!(starts[0].started >= stamp_of(250), "{:?}", starts[0]);
}
