//! Writes seed inputs for the fuzz targets into `CORPUS/TARGET/seed-*` (default CORPUS: fuzz/corpus): datagrams
//! from the generator, a few hand-made v9/IPFIX ones with options templates, enterprise and variable-length
//! fields and withdrawals, the captured test vectors, and the encapsulation pcaps' frames (capture_frame). Run
//! by `fuzz/run`; seeds are rewritten each time.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use traffic::{Exporter, GenKind, Settings};

/// Must match the targets' datagram separator.
const MARK: &[u8] = b"\xffNXT";
const T0: u64 = 1_764_000_000_000_000_000;
/// `Kind::ALL` indexes, the records target's first byte.
const SYSLOG: u8 = 0;
const NETFLOW_V5: u8 = 1;
const NETFLOW_V9: u8 = 2;
const IPFIX: u8 = 3;
const SFLOW: u8 = 4;
const SNMPTRAP: u8 = 5;

fn generated(kind: GenKind, n: u64, s: &Settings) -> Vec<Vec<u8>> {
    let mut ex = Exporter::new(kind, Ipv4Addr::new(192, 0, 2, 9), 0, s);
    (0..n)
        .map(|i| {
            let mut o = Vec::new();
            ex.next(i, T0 + i * 1_000_000_000, s, &mut o);
            o
        })
        .collect()
}

fn small() -> Settings {
    Settings {
        target_bytes: 300,
        template_every: 2,
        domains: 1,
        ..Settings::default()
    }
}

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    [&be16(id)[..], &be16(body.len() as u16 + 4), body].concat()
}

fn words(w: &[u16]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn ipfix(sets: &[Vec<u8>]) -> Vec<u8> {
    let mut o = [
        &words(&[10, 0])[..],
        &1_764_000_000u32.to_be_bytes(),
        &[0, 0, 0, 1],
        &[0, 0, 0, 7],
    ]
    .concat();
    sets.iter().for_each(|s| o.extend_from_slice(s));
    let len = o.len() as u16;
    o[2..4].copy_from_slice(&len.to_be_bytes());
    o
}

fn v9(sets: &[Vec<u8>]) -> Vec<u8> {
    let head = [
        &words(&[9, sets.len() as u16])[..],
        &[0, 1, 0, 0],
        &1_764_000_000u32.to_be_bytes(),
        &[0; 4],
        &[0, 0, 0, 3],
    ];
    let mut o = head.concat();
    sets.iter().for_each(|s| o.extend_from_slice(s));
    o
}

/// IPFIX: an options template (scope observationDomainId, samplingInterval), its record, a flow template
/// with an enterprise and a variable-length field, two flows, then a withdrawal.
fn ipfix_rich() -> Vec<Vec<u8>> {
    let opt_t = set(3, &words(&[257, 2, 1, 149, 4, 34, 4]));
    let opt_d = set(257, &[0, 0, 0, 7, 0, 0, 0, 100]);
    let flow_t = set(2, &words(&[258, 3, 8, 4, 0x8001, 0xffff, 0, 2879, 2, 4]));
    let flows = set(
        258,
        &[
            10, 0, 0, 1, 3, b'a', b'b', b'c', 0, 0, 0, 9, 10, 0, 0, 2, 255, 0, 1, b'z', 0, 0, 0, 1,
        ],
    );
    let withdraw = set(2, &words(&[258, 0]));
    vec![
        ipfix(&[opt_t, opt_d, flow_t]),
        ipfix(std::slice::from_ref(&flows)),
        ipfix(&[withdraw, flows]),
    ]
}

/// v9: an options template (scope system, samplingInterval and samplingAlgorithm) and its record, then
/// flows that inherit the sampling rate.
fn v9_rich() -> Vec<Vec<u8>> {
    let opt_t = set(1, &words(&[257, 4, 8, 1, 4, 34, 4, 35, 1, 0]));
    let opt_d = set(257, &[0, 0, 0, 1, 0, 0, 0, 64, 2, 0, 0, 0]);
    let flow_t = set(0, &words(&[256, 3, 8, 4, 12, 4, 2, 4]));
    let flows = set(256, &[10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 5]);
    vec![v9(&[opt_t, opt_d, flow_t]), v9(&[flows])]
}

/// The netflow target's input: limits byte, then (clock/exporter byte, datagram) pieces.
fn netflow_input(limits: u8, datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut o = vec![limits];
    for (i, d) in datagrams.iter().enumerate() {
        if i > 0 {
            o.extend_from_slice(MARK);
        }
        o.push(1);
        o.extend_from_slice(d);
    }
    o
}

/// The records target's input: kind byte, then datagrams.
fn records_input(kind: u8, datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut o = vec![kind];
    for (i, d) in datagrams.iter().enumerate() {
        if i > 0 {
            o.extend_from_slice(MARK);
        }
        o.extend_from_slice(d);
    }
    o
}

fn vectors(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    v.sort();
    v
}

struct Out(PathBuf);

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.0.join(target);
        fs::create_dir_all(&dir).expect("corpus directory");
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed file");
    }
}

fn netflow_seeds(out: &Out, s: &Settings) {
    let v9g = generated(GenKind::NetflowV9, 3, s);
    let ipfixg = generated(GenKind::Ipfix, 3, s);
    out.put(
        "netflow",
        "v5",
        &netflow_input(0x0b, &generated(GenKind::NetflowV5, 1, s)),
    );
    out.put("netflow", "v9-gen", &netflow_input(0x0b, &v9g));
    out.put("netflow", "ipfix-gen", &netflow_input(0x0b, &ipfixg));
    out.put("netflow", "v9-options", &netflow_input(0x11, &v9_rich()));
    out.put("netflow", "ipfix-rich", &netflow_input(0x11, &ipfix_rich()));
    out.put("records", "v9-gen", &records_input(NETFLOW_V9, &v9g));
    out.put(
        "records",
        "ipfix-gen",
        &records_input(IPFIX | 0x40, &ipfixg),
    );
    out.put(
        "records",
        "v9-options",
        &records_input(NETFLOW_V9, &v9_rich()),
    );
    out.put(
        "records",
        "ipfix-rich",
        &records_input(IPFIX | 0x40, &ipfix_rich()),
    );
    out.put(
        "records",
        "v5",
        &records_input(NETFLOW_V5, &generated(GenKind::NetflowV5, 1, s)),
    );
}

fn syslog_seeds(out: &Out) {
    use traffic::syslog::Format;
    for (name, f) in [
        ("rfc3164", Format::Rfc3164),
        ("rfc5424", Format::Rfc5424),
        ("cisco", Format::Cisco),
    ] {
        let s = Settings {
            syslog_format: f,
            size: Some(120),
            ..Settings::default()
        };
        let msgs = generated(GenKind::Syslog, 2, &s);
        out.put("syslog", name, &msgs[0]);
        out.put(
            "records",
            &format!("syslog-{name}"),
            &records_input(SYSLOG, &msgs),
        );
    }
}

/// The v9/IPFIX fixtures of crates/wire/tests/data/ipfix (elements of the whole registry, v9 scope types).
fn netflow_fixture_seeds(out: &Out, data: &Path) {
    for (name, bytes) in vectors(&data.join("ipfix")) {
        let kind = match bytes.get(1) {
            Some(9) => NETFLOW_V9,
            _ => IPFIX | 0x40,
        };
        out.put("netflow", &name, &netflow_input(0x11, &[bytes.clone()]));
        out.put(
            "records",
            &format!("netflow-{name}"),
            &records_input(kind, &[bytes]),
        );
    }
}

/// `\xNN` in a fixture stands for that byte.
fn fixture_bytes(raw: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        let hex = tail.strip_prefix(b"x").and_then(|h| h.get(..2));
        let byte = hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        if let (Some(b), b'\\') = (byte, c) {
            out.push(b);
            rest = &tail[3..];
        } else {
            out.push(c);
            rest = tail;
        }
    }
    out
}

/// Every syslog header variant of crates/wire/tests/data/syslog/headers.jsonl, for the syslog, records,
/// rewrite (origin tagging) and route targets.
fn syslog_header_seeds(out: &Out, data: &Path) {
    let text = fs::read_to_string(data.join("syslog/headers.jsonl")).expect("syslog fixtures");
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: serde_json::Value = serde_json::from_str(line).expect("fixture line");
        let (Some(name), Some(raw)) = (f["name"].as_str(), f["raw"].as_str()) else {
            continue;
        };
        let p = fixture_bytes(raw);
        out.put("syslog", name, &p);
        out.put("rewrite", &format!("syslog-{name}"), &p);
        out.put(
            "records",
            &format!("syslog-{name}"),
            &records_input(SYSLOG, &[p.clone()]),
        );
        out.put(
            "route",
            &format!("syslog-{name}"),
            &route_input(SYSLOG, [198, 51, 100, 7], &p),
        );
    }
}

fn sflow_snmp_seeds(out: &Out, s: &Settings, data: &Path) {
    let sflow = generated(
        GenKind::Sflow,
        2,
        &Settings {
            target_bytes: 600,
            ..s.clone()
        },
    );
    out.put("sflow", "gen", &sflow[0]);
    out.put("records", "sflow-gen", &records_input(SFLOW, &sflow));
    for (name, bytes) in vectors(&data.join("sflow")) {
        out.put("sflow", &name, &bytes);
        out.put(
            "records",
            &format!("sflow-{name}"),
            &records_input(SFLOW, &[bytes]),
        );
    }
    for k in [
        GenKind::SnmptrapV1,
        GenKind::SnmptrapV2c,
        GenKind::Snmpinform,
    ] {
        let p = generated(k, 1, s).remove(0);
        out.put("snmp", k.name(), &p);
        out.put("records", k.name(), &records_input(SNMPTRAP, &[p]));
    }
    for (name, bytes) in engine_seeds(s) {
        out.put("snmp_engine", &name, &bytes);
    }
    for (name, bytes) in vectors(&data.join("snmp")) {
        out.put("snmp", &name, &bytes);
        // the relay's SNMP rewrites (snmpTrapAddress.0, v1-to-v2c with or without the RFC 3584 bindings)
        out.put("rewrite", &format!("snmp-{name}"), &bytes);
        out.put(
            "records",
            &format!("snmp-{name}"),
            &records_input(SNMPTRAP, &[bytes]),
        );
    }
}

/// `route` input: the kind's index in `Kind::ALL`, the IPv4 exporter, the payload.
fn route_input(kind: u8, exporter: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(&exporter);
    v.extend_from_slice(payload);
    v
}

/// A datagram of every kind, from an exporter the drop rule takes and from one it does not, and syslog
/// messages the severity, host, app and text rules match.
fn route_seeds(out: &Out, s: &Settings) {
    let kinds = [
        (SYSLOG, GenKind::Syslog),
        (NETFLOW_V5, GenKind::NetflowV5),
        (NETFLOW_V9, GenKind::NetflowV9),
        (IPFIX, GenKind::Ipfix),
        (SFLOW, GenKind::Sflow),
        (SNMPTRAP, GenKind::SnmptrapV1),
        (SNMPTRAP, GenKind::SnmptrapV2c),
    ];
    for (code, k) in kinds {
        let p = generated(k, 1, s).remove(0);
        out.put("route", k.name(), &route_input(code, [198, 51, 100, 7], &p));
        let dropped = format!("{}-dropped", k.name());
        out.put("route", &dropped, &route_input(code, [192, 0, 2, 7], &p));
    }
    let texts: [&[u8]; 2] = [
        b"<155>Dec  7 10:00:00 edge1 sshd[42]: Interface ge-0/0/1 link is down",
        b"<155>1 2026-12-07T10:00:00Z edge1 sshd 42 - - LINK DOWN",
    ];
    for (i, t) in texts.iter().enumerate() {
        out.put(
            "route",
            &format!("syslog-rules-{i}"),
            &route_input(SYSLOG, [198, 51, 100, 7], t),
        );
    }
}

/// The frames of a classic pcap file (either byte order), in file order. Enough for our own fixtures.
fn pcap_frames(file: &[u8]) -> Vec<&[u8]> {
    let le = file.starts_with(&[0xd4, 0xc3, 0xb2, 0xa1]);
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = file.get(at..at + 4)?.try_into().ok()?;
        let v = if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        };
        Some(v as usize)
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while let Some(len) = u32_at(at + 8) {
        let Some(frame) = file.get(at + 16..at + 16 + len) else {
            break;
        };
        frames.push(frame);
        at += 16 + len;
    }
    frames
}

/// `capture_frame` input: the link type's index (0, Ethernet), then each frame behind a 2-byte LE length.
fn capture_frame_input(frames: &[&[u8]]) -> Vec<u8> {
    let mut o = vec![0];
    for f in frames {
        o.extend_from_slice(&(f.len() as u16).to_le_bytes());
        o.extend_from_slice(f);
    }
    o
}

/// One seed per encapsulation fixture (PPPoE, MPLS, IP-in-IP, GRE, ERSPAN, VXLAN, fragmented GRE).
fn capture_frame_seeds(out: &Out, dir: &Path) {
    let mut pcaps: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    for path in pcaps {
        let Ok(file) = fs::read(&path) else {
            continue;
        };
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        let input = capture_frame_input(&pcap_frames(&file));
        out.put("capture_frame", &name, &input);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::env::args_os()
        .nth(1)
        .map_or_else(|| root.join("corpus"), PathBuf::from);
    let out = Out(corpus);
    let s = small();
    netflow_seeds(&out, &s);
    syslog_seeds(&out);
    let data = root.join("../crates/wire/tests/data");
    netflow_fixture_seeds(&out, &data);
    syslog_header_seeds(&out, &data);
    sflow_snmp_seeds(&out, &s, &data);
    route_seeds(&out, &s);
    detect_seeds(&out, &s);
    capture_frame_seeds(&out, &root.join("../crates/capture/tests/data/encap"));
}

/// For the detect target: the events it looks for, as generated (kind byte as in `records_input`; bit 7
/// spaces the datagrams 3 s apart).
fn detect_seeds(out: &Out, s: &Settings) {
    use traffic::Pattern;
    let with = |pattern| Settings {
        pattern,
        ..s.clone()
    };
    let cases = [
        ("syslog-flap", SYSLOG, GenKind::Syslog, Pattern::LinkFlap),
        ("traps-flap", SNMPTRAP, GenKind::SnmptrapV2c, Pattern::LinkFlap),
        ("v9-scan", NETFLOW_V9, GenKind::NetflowV9, Pattern::PortScan),
        ("ipfix-syn-flood", IPFIX, GenKind::Ipfix, Pattern::SynFlood),
        ("sflow-udp-flood", SFLOW, GenKind::Sflow, Pattern::UdpFlood),
        ("v5-host-scan", NETFLOW_V5, GenKind::NetflowV5, Pattern::HostScan),
    ];
    for (name, kind, gen, pattern) in cases {
        out.put("detect", name, &records_input(kind, &generated(gen, 6, &with(pattern))));
    }
    let background = generated(GenKind::Syslog, 4, s);
    out.put("detect", "syslog-spaced", &records_input(SYSLOG | 0x80, &background));
}

/// For the snmp_engine target: a discovery probe, and an inform from each of its users to its engine (the
/// engine ID, boots, time and users of fuzz_targets/snmp_engine.rs).
fn engine_seeds(s: &Settings) -> Vec<(String, Vec<u8>)> {
    use wire::snmp::outgoing::{self, Outgoing};
    use wire::snmp::{AuthProtocol as A, PrivProtocol as P, UserKeys, UsmUser};
    const ENGINE_ID: &[u8] = b"\x80\x00\x1f\x88\x04fuzz";
    let inform = generated(GenKind::Snmpinform, 1, s).remove(0);
    let pdu = wire::snmp::inform::notification(&inform)
        .expect("a v2c inform")
        .pdu;
    let mut seeds = Vec::new();
    seeds.push(("probe".to_owned(), outgoing::discovery_probe(1)));
    for (name, auth, privacy) in [
        ("sha_aes", A::HmacSha, Some(P::Aes128Cfb)),
        ("md5", A::HmacMd5, None),
        ("sha256_des", A::HmacSha256, Some(P::Des)),
    ] {
        let user = UsmUser {
            name: name.as_bytes().to_vec(),
            engine_id: None,
            auth: Some((auth, b"authpass123".to_vec())),
            privacy: privacy.map(|p| (p, b"privpass123".to_vec())),
        };
        let keys = UserKeys::new(&user).expect("valid user");
        let o = Outgoing {
            msg_id: 2,
            reportable: true,
            engine_id: ENGINE_ID,
            boots: 5,
            time: 1000,
            user: &user.name,
            level: keys.level(),
        };
        let scoped = outgoing::scoped_pdu(ENGINE_ID, b"", &pdu);
        let local = keys.localise(ENGINE_ID);
        seeds.extend(
            outgoing::encode(&o, Some(&local), 7, &scoped).map(|m| (format!("inform-{name}"), m)),
        );
    }
    seeds
}
