//! Records per second of every decoder, in three layers:
//!
//! - `wire`: the zero-copy decoder of crates/wire alone, walking every record and every field (and, for sFlow,
//!   decoding the sampled header as the record decoder does) without building anything;
//! - `records`: [`records::Decoder`] producing typed records;
//! - `json`: the same plus serde_json serialisation of each record into a reused buffer.
//!
//! Each iteration decodes a pool of datagrams from sekiwake-traffic (flow exports of about 1400 bytes; syslog
//! messages of its realistic size mix) or the captured SNMPv3 authPriv vector; throughput is counted in
//! records, so criterion's elements/s are records/s on one core. NetFlow v9 and IPFIX templates are learned
//! before measuring (the pool holds data sets only).
//!
//! Before measuring a case, the bench prints its heap allocations per record for the `records` and `json`
//! layers (a counting allocator, switched on only for that pass).
//!
//! `cargo bench -p sekiwake-records -- --warm-up-time 1 --measurement-time 3` (results in target/criterion).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use records::{Datagram, Decoder, Options};
use traffic::{Exporter, GenKind, Settings};
use wire::kind::Kind;
use wire::netflow::{v5, Event, Session};
use wire::sflow::{self, FlowRecord, Sample};
use wire::snmp::{self, AuthProtocol, PrivProtocol, Usm, UsmUser};

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
const T0: u64 = 1_764_000_000_000_000_000;
/// Datagrams per iteration.
const POOL: usize = 32;
/// net-snmp 5.9.3 `snmptrap -v3 -l authPriv -a SHA -x AES` (see the README beside it).
const V3_AUTH_PRIV: &[u8] = include_bytes!("../../wire/tests/data/snmp/ap_sha_aes.bin");

/// The system allocator, counting allocations (and reallocations) while [`COUNTING`] is on. Off, it costs one
/// relaxed load per allocation, so the timed runs are not disturbed.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count_allocation() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed to the system allocator unchanged; counting touches no memory it hands out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations made by `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// What the wire-layer walk needs across datagrams.
struct WireState {
    session: Session,
    usm: Usm,
}

/// Walks one datagram with the wire decoder; returns the records it held.
type Walk = fn(&mut WireState, &[u8]) -> usize;

struct Case {
    name: &'static str,
    kind: Kind,
    /// Decoded before measuring, by both layers (templates).
    prime: Vec<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    users: Vec<UsmUser>,
    walk: Walk,
}

fn generate(kind: GenKind, s: &Settings, n: usize) -> Vec<Vec<u8>> {
    let mut ex = Exporter::new(kind, Ipv4Addr::new(192, 0, 2, 9), 0, s);
    (0..n as u64)
        .map(|i| {
            let mut o = Vec::new();
            ex.next(i, T0 + i * 1_000_000, s, &mut o);
            o
        })
        .collect()
}

fn priv_user() -> UsmUser {
    UsmUser {
        engine_id: None,
        name: b"privuser".to_vec(),
        auth: Some((AuthProtocol::HmacSha, b"authpass123".to_vec())),
        privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
    }
}

// ------------------------------------------------------------------------------------------- wire walks

fn walk_syslog(_: &mut WireState, p: &[u8]) -> usize {
    wire::syslog::frames(p)
        .flatten()
        .filter_map(|f| wire::syslog::parse(f).ok())
        .map(black_box)
        .count()
}

fn walk_v5(_: &mut WireState, p: &[u8]) -> usize {
    let Ok(v) = v5::Packet::parse(p) else {
        return 0;
    };
    let h = black_box(v.header);
    v.records()
        .map(|r| {
            black_box((
                r.src_addr(),
                r.dst_addr(),
                r.next_hop(),
                r.input(),
                r.output(),
            ));
            black_box((r.packets(), r.bytes(), r.first_ms(), r.last_ms()));
            black_box((
                r.src_port(),
                r.dst_port(),
                r.tcp_flags(),
                r.protocol(),
                r.tos(),
            ));
            black_box((
                r.src_as(),
                r.dst_as(),
                r.src_mask(),
                r.dst_mask(),
                h.sequence,
            ));
        })
        .count()
}

fn walk_template_based(w: &mut WireState, p: &[u8]) -> usize {
    let mut n = 0;
    let _ = w.session.decode(EXPORTER, T0 / 1_000_000_000, p, &mut |e| {
        if let Event::Flow(r) | Event::Options(r) = e {
            r.fields().for_each(|(f, v)| {
                black_box((f.id, v));
            });
            black_box(r.sampling_rate);
            n += 1;
        }
    });
    n
}

fn walk_sflow(_: &mut WireState, p: &[u8]) -> usize {
    let Ok(d) = sflow::parse(p) else { return 0 };
    let mut n = 0;
    for s in d.samples().flatten() {
        match s {
            Sample::Flow(f) => {
                for r in f.records().flatten() {
                    match r {
                        FlowRecord::RawHeader(h) => {
                            let _ = black_box(h.decode());
                        }
                        r => {
                            black_box(r);
                        }
                    }
                }
                n += 1;
            }
            Sample::Counters(c) => {
                c.records().flatten().for_each(|r| {
                    black_box(r);
                });
                n += 1;
            }
            Sample::Unknown { .. } => {}
        }
    }
    n
}

fn walk_snmp(w: &mut WireState, p: &[u8]) -> usize {
    let Ok(m) = snmp::parse(p, &mut w.usm) else {
        return 0;
    };
    m.pdu.varbinds.iter().for_each(|vb| {
        black_box(vb);
    });
    1
}

// ------------------------------------------------------------------------------------------------ cases

fn syslog(name: &'static str, f: traffic::syslog::Format) -> Case {
    let s = Settings {
        syslog_format: f,
        ..Settings::default()
    };
    Case {
        name,
        kind: Kind::Syslog,
        prime: Vec::new(),
        pool: generate(GenKind::Syslog, &s, POOL),
        users: Vec::new(),
        walk: walk_syslog,
    }
}

/// One observation domain whose first datagram carries the template; the pool is the data-only ones after.
fn flows(name: &'static str, kind: Kind, g: GenKind, walk: Walk) -> Case {
    let s = Settings {
        domains: 1,
        template_every: 1_000_000,
        ..Settings::default()
    };
    let mut all = generate(g, &s, POOL + 1);
    let pool = all.split_off(1);
    Case {
        name,
        kind,
        prime: all,
        pool,
        users: Vec::new(),
        walk,
    }
}

fn gen_case(name: &'static str, kind: Kind, g: GenKind, walk: Walk) -> Case {
    Case {
        name,
        kind,
        prime: Vec::new(),
        pool: generate(g, &Settings::default(), POOL),
        users: Vec::new(),
        walk,
    }
}

fn cases() -> Vec<Case> {
    use traffic::syslog::Format;
    vec![
        syslog("syslog-rfc3164", Format::Rfc3164),
        syslog("syslog-rfc5424", Format::Rfc5424),
        syslog("syslog-cisco", Format::Cisco),
        flows("netflow-v5", Kind::NetflowV5, GenKind::NetflowV5, walk_v5),
        flows(
            "netflow-v9",
            Kind::NetflowV9,
            GenKind::NetflowV9,
            walk_template_based,
        ),
        flows("ipfix", Kind::Ipfix, GenKind::Ipfix, walk_template_based),
        gen_case("sflow", Kind::Sflow, GenKind::Sflow, walk_sflow),
        gen_case(
            "snmp-v2c-trap",
            Kind::Snmptrap,
            GenKind::SnmptrapV2c,
            walk_snmp,
        ),
        Case {
            name: "snmp-v3-authpriv",
            kind: Kind::Snmptrap,
            prime: Vec::new(),
            pool: vec![V3_AUTH_PRIV.to_vec(); POOL],
            users: vec![priv_user()],
            walk: walk_snmp,
        },
    ]
}

// ------------------------------------------------------------------------------------------------ bench

fn datagram(kind: Kind, payload: &[u8]) -> Datagram<'_> {
    Datagram {
        kind,
        exporter: EXPORTER,
        received_ns: T0,
        payload,
        mismatched: false,
    }
}

/// A record decoder that has seen the case's priming datagrams.
fn decoder(case: &Case) -> Decoder {
    let mut dec = Decoder::new(Options {
        snmp_users: case.users.clone(),
        ..Options::default()
    })
    .expect("valid users");
    for p in &case.prime {
        let _ = dec.decode(&datagram(case.kind, p), &mut |_| {});
    }
    dec
}

/// The records in the pool, checked to be the same for both layers and free of errors.
fn count(case: &Case, w: &mut WireState, dec: &mut Decoder) -> u64 {
    let mut typed = 0u64;
    for p in &case.pool {
        let r = dec.decode(&datagram(case.kind, p), &mut |_| typed += 1);
        assert!(r.is_ok(), "{}: {r:?}", case.name);
    }
    let walked: usize = case.pool.iter().map(|p| (case.walk)(w, p)).sum();
    assert_eq!(
        walked as u64, typed,
        "{}: wire and records disagree",
        case.name
    );
    typed
}

/// Prints the case's allocations per record: decoding into typed records, and serialising them to JSON too
/// (into a buffer grown beforehand, so its growth is not counted).
fn report_allocations(case: &Case, dec: &mut Decoder, records: u64) {
    let typed = allocations(|| {
        for p in &case.pool {
            let _ = dec.decode(&datagram(case.kind, p), &mut |r| {
                black_box(r);
            });
        }
    });
    let mut json = Vec::with_capacity(1 << 20);
    let serialised = allocations(|| {
        for p in &case.pool {
            json.clear();
            let _ = dec.decode(&datagram(case.kind, p), &mut |r| {
                records::write_json(&mut json, &r).expect("a Vec takes any write")
            });
        }
    });
    let per = |n: u64| n as f64 / records.max(1) as f64;
    println!(
        "{}: {:.2} allocations per record (records), {:.2} (json)",
        case.name,
        per(typed),
        per(serialised)
    );
}

fn bench_case(c: &mut Criterion, case: &Case) {
    let mut w = WireState {
        session: Session::default(),
        usm: Usm::new(case.users.clone()).expect("valid users"),
    };
    for p in &case.prime {
        (case.walk)(&mut w, p);
    }
    let mut dec = decoder(case);
    let records = count(case, &mut w, &mut dec);
    report_allocations(case, &mut dec, records);
    let mut g = c.benchmark_group(case.name);
    g.throughput(Throughput::Elements(records));
    g.bench_function("wire", |b| {
        b.iter(|| {
            case.pool
                .iter()
                .map(|p| (case.walk)(&mut w, black_box(p)))
                .sum::<usize>()
        })
    });
    g.bench_function("records", |b| {
        b.iter(|| {
            for p in &case.pool {
                let _ = dec.decode(&datagram(case.kind, black_box(p)), &mut |r| {
                    black_box(r);
                });
            }
        })
    });
    let mut json = Vec::with_capacity(64 * 1024);
    g.bench_function("json", |b| {
        b.iter(|| {
            for p in &case.pool {
                json.clear();
                let _ = dec.decode(&datagram(case.kind, black_box(p)), &mut |r| {
                    records::write_json(&mut json, &r).expect("a Vec takes any write")
                });
                black_box(&json);
            }
        })
    });
    g.finish();
}

fn decoders(c: &mut Criterion) {
    for case in cases() {
        bench_case(c, &case);
    }
}

criterion_group!(benches, decoders);
criterion_main!(benches);
