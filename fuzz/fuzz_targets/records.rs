//! The record decoder end to end: typed records from every kind, each serialised to JSON and read back.
//!
//! Input: byte 0 picks the kind (`Kind::ALL[b % 6]`; bit 6 also asks for template records); the rest is
//! datagrams separated by `MARK`, decoded in order by one decoder with small template limits, the clock
//! moving a second per datagram. SNMP goes through a decoder shared by all runs, holding a SHA + AES user
//! (keyed once: the password expansion costs a megabyte of hashing), so that the v3 paths run too.
//!
//! Checked beyond "no panic": every record is valid JSON naming its kind and record type; a datagram gives
//! at most one record per byte; the decoder's counters match what it handed out.
#![no_main]

use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use records::{Datagram, Decoder, Options, Record};
use wire::kind::Kind;
use wire::netflow::cache::Limits;
use wire::snmp::{AuthProtocol, PrivProtocol, UsmUser};

#[path = "pieces.rs"]
mod pieces;
use pieces::pieces;
const T0: u64 = 1_764_000_000_000_000_000;

fn options(templates: bool, snmp_users: Vec<UsmUser>) -> Options {
    Options {
        templates,
        limits: Limits {
            max_templates: 4,
            expiry_secs: 3,
        },
        snmp_users,
    }
}

fn snmp_decoder() -> &'static Mutex<Decoder> {
    static DEC: OnceLock<Mutex<Decoder>> = OnceLock::new();
    DEC.get_or_init(|| {
        let user = UsmUser {
            name: b"privuser".to_vec(),
            engine_id: None,
            auth: Some((AuthProtocol::HmacSha, b"authpass123".to_vec())),
            privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
        };
        Mutex::new(Decoder::new(options(false, vec![user])).expect("valid user"))
    })
}

/// The `kind` a record of a datagram classified as `k` may carry (v9 and IPFIX are told apart by version).
fn kind_ok(k: Kind, name: &str) -> bool {
    match k {
        Kind::NetflowV9 | Kind::Ipfix => name == "netflow-v9" || name == "ipfix",
        k => name == k.name(),
    }
}

fn check(kind: Kind, r: &Record, json: &mut Vec<u8>) {
    assert!(
        kind_ok(kind, r.kind),
        "{} record from a {} datagram",
        r.kind,
        kind.name()
    );
    assert_eq!(r.record, r.body.name());
    json.clear();
    serde_json::to_writer(&mut *json, r).expect("a record always serialises");
    let v: serde_json::Value = serde_json::from_slice(json).expect("valid JSON");
    assert_eq!(v["kind"].as_str(), Some(r.kind));
    assert_eq!(v["record"].as_str(), Some(r.record));
}

fn run(dec: &mut Decoder, kind: Kind, payloads: &[&[u8]]) {
    let exporter: IpAddr = "192.0.2.9".parse().unwrap();
    let mut json = Vec::with_capacity(4096);
    let before = dec.stats;
    let mut total = 0u64;
    for (i, p) in payloads.iter().enumerate() {
        let d = Datagram {
            kind,
            exporter,
            received_ns: T0 + i as u64 * 1_000_000_000,
            payload: p,
            mismatched: i % 2 == 1,
        };
        let mut n = 0usize;
        let res = dec.decode(&d, &mut |r| {
            n += 1;
            check(kind, &r, &mut json);
        });
        assert!(n <= p.len(), "{n} records from {} bytes", p.len());
        if let Err(problems) = res {
            assert!(!problems.is_empty());
        }
        total += n as u64;
    }
    assert_eq!(
        dec.stats.datagrams - before.datagrams,
        payloads.len() as u64
    );
    assert_eq!(dec.stats.records - before.records, total);
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let kind = Kind::ALL[usize::from(first) % Kind::ALL.len()];
    let payloads = pieces(rest);
    if kind == Kind::Snmptrap {
        let mut dec = snmp_decoder().lock().unwrap_or_else(|e| e.into_inner());
        return run(&mut dec, kind, &payloads);
    }
    let mut dec = Decoder::new(options(first & 0x40 != 0, Vec::new())).expect("no users");
    run(&mut dec, kind, &payloads);
});
