//! The detector on hostile datagrams: whatever the records decoded from them say, detection never panics,
//! its tables stay within their caps, and every alert event it raises is valid JSON with its type and state.
//!
//! Input: byte 0 picks the kind (`Kind::ALL[(b & 0x7f) % 6]`) and the clock: bit 7 set, each datagram comes
//! 3 s after the previous one (silences, window ends, hold-downs), else 10 ms. The rest is datagrams
//! separated by `MARK`. The detector has tiny caps and no warm-up, so every path can alert.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use detect::{Config, Detector};
use libfuzzer_sys::fuzz_target;
use records::{Datagram, Decoder, Options};
use wire::kind::Kind;

#[path = "pieces.rs"]
mod pieces;
use pieces::pieces;

const T0: u64 = 1_764_000_000_000_000_000;

fn config() -> Config {
    let mut c = Config {
        warmup: 0,
        max_open: 8,
        ..Config::default()
    };
    c.rate.keys = 16;
    c.rate.baseline.warmup = 0;
    c.flood.hosts = 16;
    c.flood.baseline.warmup = 0;
    c.flood.min_pps = 1.0;
    c.flood.min_samples = 1;
    c.silence.exporters = 4;
    c.silence.min_arrivals = 1;
    c.new_template.templates = 8;
    c.new_template.pairs = 8;
    c.scan.sources = 4;
    c.scan.ports = 3;
    c.scan.hosts = 3;
    c.flap.interfaces = 4;
    c.flap.transitions = 2;
    c.storm.exporters = 4;
    c.storm.traps = 2;
    c.storm.syslog = 2;
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let kind = Kind::ALL[usize::from(first & 0x7f) % Kind::ALL.len()];
    let step = if first & 0x80 != 0 { 3_000_000_000 } else { 10_000_000 };
    let mut decoder = Decoder::new(Options::default()).expect("no users");
    let mut det = Detector::new(config()).expect("a valid configuration");
    for (i, payload) in pieces(rest).into_iter().enumerate() {
        let ns = T0 + i as u64 * step;
        let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i % 3) as u8 + 1));
        det.datagram(kind, exporter, ns);
        let d = Datagram {
            kind,
            exporter,
            received_ns: ns,
            payload,
            mismatched: false,
        };
        let _ = decoder.decode(&d, &mut |r| det.record(&r));
        det.tick(ns + step / 2);
        for a in det.take() {
            let v = serde_json::to_value(&a).expect("an alert serialises");
            assert!(v["type"].is_string() && v["state"].is_string(), "{v}");
        }
    }
    let s = det.stats();
    assert!(s.keys.rate <= 16 && s.keys.hosts <= 16 && s.keys.scan <= 4 && s.keys.exporters <= 4);
    assert!(s.keys.templates <= 8 && s.keys.flap <= 4 && s.keys.storm <= 4);
});
