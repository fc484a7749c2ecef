//! What detection costs, on one core:
//!
//! 1. records per second: a mix of generated datagrams (NetFlow v9, IPFIX, sFlow, syslog, traps from 50
//!    exporters) decoded once, then the records fed to the detector (and, separately, decode + detect);
//! 2. memory: a million distinct addresses (and as many flows) through the detector with its default caps,
//!    the key tables' bytes and the process's peak RSS.
//!
//!     cargo run --release -p sekiwake-detect --example throughput [-- DATAGRAMS]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use detect::{testing, Config, Detector};
use traffic::{Exporter, GenKind, Settings};
use wire::kind::Kind;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_796_601_600 * SEC;

struct Datagram {
    kind: Kind,
    exporter: IpAddr,
    ns: u64,
    bytes: Vec<u8>,
}

/// `n` datagrams of a mix of kinds from 50 exporters, 20 000 a second of capture time.
fn mix(n: u64) -> Vec<Datagram> {
    let s = Settings::default();
    let kinds = [
        (GenKind::NetflowV9, 4),
        (GenKind::Ipfix, 2),
        (GenKind::Sflow, 2),
        (GenKind::Syslog, 15),
        (GenKind::SnmptrapV2c, 1),
    ];
    let mut exporters: Vec<(Exporter, u32)> = Vec::new();
    for (i, (k, weight)) in kinds.iter().enumerate() {
        for j in 0..10u8 {
            let addr = Ipv4Addr::new(192, 0, 2, (i as u8) * 10 + j + 1);
            exporters.push((
                Exporter::new(*k, addr, u64::from(addr.octets()[3]), &s),
                *weight,
            ));
        }
    }
    let wheel: Vec<usize> = exporters
        .iter()
        .enumerate()
        .flat_map(|(i, (_, w))| std::iter::repeat_n(i, *w as usize))
        .collect();
    (0..n)
        .map(|seq| {
            let (e, _) = &mut exporters[wheel[seq as usize % wheel.len()]];
            let ns = T0 + seq * SEC / 20_000;
            let mut bytes = Vec::new();
            e.next(seq, ns, &s, &mut bytes);
            Datagram {
                kind: e.kind.kind(),
                exporter: IpAddr::V4(e.addr),
                ns,
                bytes,
            }
        })
        .collect()
}

fn decoder() -> records::Decoder {
    records::Decoder::new(records::Options::default()).expect("no SNMP users")
}

fn datagram(d: &Datagram) -> records::Datagram<'_> {
    records::Datagram {
        kind: d.kind,
        exporter: d.exporter,
        received_ns: d.ns,
        payload: &d.bytes,
        mismatched: false,
    }
}

fn records_per_second(n: u64) {
    let input = mix(n);
    let mut dec = decoder();
    let mut recs: Vec<(usize, records::Record)> = Vec::new();
    let t = Instant::now();
    for (i, d) in input.iter().enumerate() {
        let _ = dec.decode(&datagram(d), &mut |r| recs.push((i, r)));
    }
    let decode = t.elapsed().as_secs_f64();
    let mut det = Detector::new(Config::default()).expect("defaults");
    let t = Instant::now();
    let mut next = 0;
    for (i, d) in input.iter().enumerate() {
        det.datagram(d.kind, d.exporter, d.ns);
        while next < recs.len() && recs[next].0 == i {
            det.record(&recs[next].1);
            next += 1;
        }
    }
    let alerts = det.take().len();
    let detect = t.elapsed().as_secs_f64();
    let n_rec = recs.len() as f64;
    println!(
        "{} datagrams, {} records ({} flows, {} messages, {} traps); alert events: {alerts}",
        input.len(),
        recs.len(),
        det.stats().flows,
        det.stats().messages,
        det.stats().traps
    );
    println!(
        "detect alone: {:.0} records/s ({:.2} µs a record); decode: {:.0} records/s; decode + detect: {:.0} records/s",
        n_rec / detect,
        detect * 1e6 / n_rec,
        n_rec / decode,
        n_rec / (decode + detect)
    );
}

/// `i` in letters (a word the template miner does not mask).
fn letters(mut i: u32) -> String {
    let mut w = String::new();
    loop {
        w.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return w;
        }
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn million_keys() {
    let before = rss_kib("VmRSS:");
    let mut det = Detector::new(Config::default()).expect("defaults");
    let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let t = Instant::now();
    for i in 0..1_000_000u32 {
        let src = Ipv4Addr::from(0x0a00_0000 + i);
        let dst = Ipv4Addr::from(0x6400_0000 + i);
        let ns = T0 + u64::from(i) * 1000;
        det.datagram(Kind::NetflowV5, exporter, ns);
        det.record(&testing::v5(src, dst, 443, 10, 0x18));
        // and a million exporters: a rate series and a silence entry each
        det.datagram(
            Kind::Syslog,
            IpAddr::V4(Ipv4Addr::from(0xac00_0000 + i)),
            ns,
        );
    }
    // and syslog from 300 000 more exporters: link messages (flap, storm, template-pair tables) and 10 000
    // templates of their own
    for i in 0..300_000u32 {
        let e = IpAddr::V4(Ipv4Addr::from(0xad00_0000 + i));
        let ns = T0 + 1_000_000_000 + u64::from(i) * 1000;
        det.datagram(Kind::Syslog, e, ns);
        let text = match i % 30 {
            0 => format!("daemon {} restarted", letters(i)),
            _ => format!("%LINK-3-UPDOWN: Interface Gi0/{i}, changed state to down"),
        };
        det.record(&testing::message(e, 3, &text));
    }
    let secs = t.elapsed().as_secs_f64();
    let s = det.stats();
    println!(
        "1 000 000 distinct sources, destinations and exporters, 300 000 syslog exporters in {secs:.2} s: keys {:?}",
        s.keys
    );
    println!("evicted {:?}", s.evicted);
    println!(
        "key tables: {:.1} MiB; RSS {:.1} MiB before, {:.1} MiB after, peak {:.1} MiB",
        s.table_bytes as f64 / 1048576.0,
        before as f64 / 1024.0,
        rss_kib("VmRSS:") as f64 / 1024.0,
        rss_kib("VmHWM:") as f64 / 1024.0
    );
}

fn main() {
    // memory first, in a fresh process: the rate pass holds its records in memory
    million_keys();
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    records_per_second(n);
}
