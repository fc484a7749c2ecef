//! Decoder tests on datagrams from the generator and on hand-made ones.

use super::*;
use serde_json::{json, Value as Json};
use wire::classify::Refusal;

const T0: u64 = 1_764_000_000_000_000_000;

fn exporter_datagrams(kind: traffic::GenKind, n: u64) -> Vec<Vec<u8>> {
    let s = traffic::Settings::default();
    let mut ex = traffic::Exporter::new(kind, "192.0.2.9".parse().unwrap(), 0, &s);
    (0..n)
        .map(|i| {
            let mut o = Vec::new();
            ex.next(i, T0 + i * 1_000_000, &s, &mut o);
            o
        })
        .collect()
}

fn decode_all(
    dec: &mut Decoder,
    kind: Kind,
    payloads: &[Vec<u8>],
) -> (Vec<Json>, Vec<DecodeError>) {
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for p in payloads {
        let d = Datagram {
            kind,
            exporter: "192.0.2.9".parse().unwrap(),
            received_ns: T0,
            payload: p,
            mismatched: false,
        };
        let r = dec.decode(&d, &mut |r| out.push(serde_json::to_value(&r).unwrap()));
        errors.extend(r.err().unwrap_or_default());
    }
    (out, errors)
}

#[test]
fn syslog_message_fields() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let p =
        b"<189>42: *Mar  1 00:00:01.123: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
            .to_vec();
    let (out, errors) = decode_all(&mut dec, Kind::Syslog, &[p]);
    assert!(errors.is_empty());
    let r = &out[0];
    assert_eq!(r["kind"], "syslog");
    assert_eq!(r["record"], "message");
    assert_eq!(r["exporter"], "192.0.2.9");
    assert_eq!(r["received"], "2025-11-24T16:00:00.000000Z");
    assert_eq!(
        (
            r["format"].as_str(),
            r["facility"].as_u64(),
            r["severity"].as_u64()
        ),
        (Some("cisco-ios"), Some(23), Some(5))
    );
    assert_eq!(
        (r["sequence"].as_u64(), r["clock_flag"].as_str()),
        (Some(42), Some("*"))
    );
    assert!(r["message"].as_str().unwrap().starts_with("%LINK-3-UPDOWN"));
}

/// `\xNN` in a fixture stands for that byte (JSON text cannot hold invalid UTF-8).
fn fixture_bytes(raw: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        let hex = tail.strip_prefix(b"x").and_then(|h| h.get(..2));
        match hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()) {
            Some(byte) if c == b'\\' => {
                out.push(byte);
                rest = &tail[3..];
            }
            _ => {
                out.push(c);
                rest = tail;
            }
        }
    }
    out
}

/// Every header variant of the fixture file (shared with the rsyslog comparison in tests/e2e) decodes to
/// the fields it lists; a field listed as null must be absent.
#[test]
fn syslog_header_fixtures() {
    let fixtures = include_str!("../../wire/tests/data/syslog/headers.jsonl");
    let mut dec = Decoder::new(Options::default()).unwrap();
    let mut checked = 0;
    for line in fixtures.lines().filter(|l| !l.is_empty()) {
        let f: Json = serde_json::from_str(line).unwrap();
        let name = f["name"].as_str().unwrap();
        let raw = fixture_bytes(f["raw"].as_str().unwrap());
        let (out, errors) = decode_all(&mut dec, Kind::Syslog, &[raw]);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(out.len(), 1, "{name}");
        for (field, want) in f["record"].as_object().unwrap() {
            let got = out[0].get(field).unwrap_or(&Json::Null);
            assert_eq!(got, want, "{name}: {field} in {}", out[0]);
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn v5_flows_match_the_header_count() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let dgrams = exporter_datagrams(traffic::GenKind::NetflowV5, 3);
    let (out, errors) = decode_all(&mut dec, Kind::NetflowV5, &dgrams);
    assert!(errors.is_empty());
    let per_datagram: usize = dgrams
        .iter()
        .map(|d| usize::from(u16::from_be_bytes([d[2], d[3]])))
        .sum();
    assert_eq!(out.len(), per_datagram);
    let r = &out[0];
    assert_eq!(
        (
            r["kind"].as_str(),
            r["record"].as_str(),
            r["version"].as_u64()
        ),
        (Some("netflow-v5"), Some("flow"), Some(5))
    );
    for key in [
        "src_addr", "dst_addr", "src_port", "dst_port", "protocol", "packets", "bytes",
    ] {
        assert!(!r[key].is_null(), "{key} missing in {r}");
    }
    assert_eq!(dec.stats.records, out.len() as u64);
}

#[test]
fn v9_and_ipfix_flows_with_names_and_templates_on_request() {
    for (gk, kind, name, version) in [
        (
            traffic::GenKind::NetflowV9,
            Kind::NetflowV9,
            "netflow-v9",
            9,
        ),
        (traffic::GenKind::Ipfix, Kind::Ipfix, "ipfix", 10),
    ] {
        let mut dec = Decoder::new(Options {
            templates: true,
            ..Options::default()
        })
        .unwrap();
        let (out, errors) = decode_all(&mut dec, kind, &exporter_datagrams(gk, 4));
        assert!(errors.is_empty(), "{errors:?}");
        let templates: Vec<_> = out.iter().filter(|r| r["record"] == "template").collect();
        assert_eq!(templates.len(), 2, "one per observation domain");
        assert_eq!(templates[0]["fields"][0]["name"], "sourceIPv4Address");
        let flows: Vec<_> = out.iter().filter(|r| r["record"] == "flow").collect();
        assert!(flows.len() > 40);
        let f = flows[0];
        assert_eq!(
            (f["kind"].as_str(), f["version"].as_u64()),
            (Some(name), Some(version))
        );
        assert_eq!(f["src_addr"], f["fields"]["sourceIPv4Address"]);
        assert_eq!(f["bytes"], f["fields"]["octetDeltaCount"]);
        assert!(f["fields"]["destinationTransportPort"].is_u64());
        assert!(f["domain"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn data_before_its_template_is_an_error_and_counted() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let dgrams = exporter_datagrams(traffic::GenKind::NetflowV9, 4);
    // Datagrams 2 and 3 (the second round of both domains) carry no template.
    let (out, errors) = decode_all(&mut dec, Kind::NetflowV9, &dgrams[2..]);
    assert!(out.is_empty());
    assert_eq!(errors.len(), 2);
    assert!(matches!(errors[0], DecodeError::NoTemplate(256)));
    assert_eq!(dec.stats.sets_without_template, 2);
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    for kind in [Kind::NetflowV5, Kind::NetflowV9, Kind::Ipfix] {
        let (out, errors) = decode_all(&mut dec, kind, &[vec![0xff; 40], vec![]]);
        assert!(out.is_empty());
        assert_eq!(errors.len(), 2);
    }
    assert_eq!(dec.stats.malformed, 6);
    // Syslog text without PRI is a message (user.notice, as RFC 3164 §4.3.3 and rsyslog read it), its bytes
    // replaced where they are not UTF-8; only an empty datagram is malformed.
    let (out, errors) = decode_all(&mut dec, Kind::Syslog, &[vec![0xff; 40], vec![]]);
    assert_eq!(errors.len(), 1);
    assert_eq!(dec.stats.malformed, 7);
    assert_eq!(
        (out[0]["no_pri"].as_bool(), out[0]["facility"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(out[0]["message"], "\u{fffd}".repeat(40));
}

#[test]
fn json_line_is_one_object() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let mut buf = Vec::new();
    let d = Datagram {
        kind: Kind::Syslog,
        exporter: "2001:db8::1".parse().unwrap(),
        received_ns: 0,
        payload: b"<13>Nov 26 10:00:00 host app[1]: hi",
        mismatched: false,
    };
    dec.decode(&d, &mut |r| write_json(&mut buf, &r).unwrap())
        .unwrap();
    let line = String::from_utf8(buf).unwrap();
    assert_eq!(
        line,
        "{\"kind\":\"syslog\",\"record\":\"message\",\"exporter\":\"2001:db8::1\",\"received\":\"1970-01-01T00:00:00.000000Z\",\
         \"format\":\"rfc3164\",\"facility\":1,\"severity\":5,\"timestamp\":\"Nov 26 10:00:00\",\"hostname\":\"host\",\
         \"app\":\"app\",\"procid\":\"1\",\"message\":\"hi\"}\n"
    );
}

#[test]
fn sflow_flow_and_counter_records() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(
        &mut dec,
        Kind::Sflow,
        &exporter_datagrams(traffic::GenKind::Sflow, 4),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let flows: Vec<_> = out.iter().filter(|r| r["record"] == "flow").collect();
    let counters: Vec<_> = out.iter().filter(|r| r["record"] == "counters").collect();
    assert!(!flows.is_empty() && !counters.is_empty());
    let f = flows[0];
    assert_eq!(
        (f["kind"].as_str(), f["agent"].as_str()),
        (Some("sflow"), Some("192.0.2.9"))
    );
    for key in [
        "sampling_rate",
        "sample_pool",
        "header_protocol",
        "frame_length",
        "src_addr",
        "dst_addr",
        "protocol",
    ] {
        assert!(!f[key].is_null(), "{key} missing in {f}");
    }
    let c = counters[0];
    assert!(c["if_index"].is_u64() && c["in_octets"].is_u64(), "{c}");
}

#[test]
fn snmp_traps_with_trap_oid_and_varbinds() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    for (gk, version, pdu) in [
        (traffic::GenKind::SnmptrapV1, "1", "trap-v1"),
        (traffic::GenKind::SnmptrapV2c, "2c", "trap"),
        (traffic::GenKind::Snmpinform, "2c", "inform"),
    ] {
        let (out, errors) = decode_all(&mut dec, Kind::Snmptrap, &exporter_datagrams(gk, 2));
        assert!(errors.is_empty(), "{errors:?}");
        let r = &out[0];
        assert_eq!(
            (
                r["record"].as_str(),
                r["version"].as_str(),
                r["pdu"].as_str()
            ),
            (Some("trap"), Some(version), Some(pdu))
        );
        assert_eq!(r["community"], "public");
        let oid = r["trap_oid"].as_str().unwrap();
        // linkDown / linkUp: generic trap 2/3 in v1 maps to the same OIDs as v2c's snmpTrapOID.0 (RFC 3584)
        assert!(
            oid == "1.3.6.1.6.3.1.1.5.3" || oid == "1.3.6.1.6.3.1.1.5.4",
            "{r}"
        );
        let vbs = r["varbinds"].as_array().unwrap();
        assert!(vbs.iter().any(|v| v["oid"]
            .as_str()
            .unwrap()
            .starts_with("1.3.6.1.2.1.2.2.1.1.")
            && v["type"] == "integer"));
    }
}

/// A v3 authPriv trap from net-snmp's snmptrap (user privuser, SHA authpass123, AES privpass123).
const V3_AUTH_PRIV: &[u8] = include_bytes!("../../wire/tests/data/snmp/ap_sha_aes.bin");

#[test]
fn snmp_v3_auth_priv_decodes_with_the_user_and_is_an_error_without() {
    use wire::snmp::{AuthProtocol, PrivProtocol, UsmReason, UsmUser};
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(&mut dec, Kind::Snmptrap, &[V3_AUTH_PRIV.to_vec()]);
    assert!(out.is_empty());
    assert!(
        matches!(&errors[0], DecodeError::Snmp(e) if e.usm_reason() == Some(UsmReason::UnknownUser)),
        "{errors:?}"
    );
    assert_eq!(dec.stats.malformed, 1);

    assert_eq!(
        errors[0].to_string(),
        "snmp: unknown USM user (user \"privuser\", engine 0x8000000001020304)"
    );
    assert_eq!(dec.stats.snmp_usm_errors.unknown_user, 1);
    let user = UsmUser {
        name: b"privuser".to_vec(),
        engine_id: None,
        auth: Some((AuthProtocol::HmacSha, b"authpass123".to_vec())),
        privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
    };
    let mut dec = Decoder::new(Options {
        snmp_users: vec![user],
        ..Options::default()
    })
    .unwrap();
    let (out, errors) = decode_all(&mut dec, Kind::Snmptrap, &[V3_AUTH_PRIV.to_vec()]);
    assert!(errors.is_empty(), "{errors:?}");
    let r = &out[0];
    assert_eq!(
        (
            r["version"].as_str(),
            r["security_level"].as_str(),
            r["user"].as_str()
        ),
        (Some("3"), Some("authPriv"), Some("privuser"))
    );
    assert_eq!(r["engine_id"], "8000000001020304");
    assert_eq!(r["trap_oid"], "1.3.6.1.4.1.8072.2.3.0.1");
    let vbs = r["varbinds"].as_array().unwrap();
    assert!(vbs.iter().any(|v| v["oid"] == "1.3.6.1.2.1.1.5.0"
        && v["value"] == "hello"
        && v["type"] == "octet-string"));
    assert!(vbs.iter().any(|v| v["oid"] == "1.3.6.1.2.1.2.2.1.10.1"
        && v["value"] == 4_000_000_000u64
        && v["type"] == "counter32"));
}

/// An IPFIX message: header, then the given sets (id, body).
fn ipfix_message(sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body: Vec<u8> = sets
        .iter()
        .flat_map(|(id, b)| {
            let mut s = id.to_be_bytes().to_vec();
            s.extend_from_slice(&((b.len() + 4) as u16).to_be_bytes());
            s.extend_from_slice(b);
            s
        })
        .collect();
    let mut m = vec![0, 10];
    m.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
    m.extend_from_slice(&[0x69, 0x2d, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 0]);
    m.extend(body);
    m
}

/// A template set defining template 256 with the given (element, length) fields.
fn template_set(fields: &[(u16, u16)]) -> (u16, Vec<u8>) {
    let mut b = vec![1, 0];
    b.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for (id, len) in fields {
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&len.to_be_bytes());
    }
    (2, b)
}

fn summary(template: &[(u16, u16)], records: &[Vec<u8>]) -> Vec<Json> {
    let data: Vec<u8> = records.concat();
    let msg = ipfix_message(&[template_set(template), (256, data)]);
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(&mut dec, Kind::Ipfix, &[msg]);
    assert!(errors.is_empty(), "{errors:?}");
    out
}

fn v4(a: [u8; 4]) -> Vec<u8> {
    a.to_vec()
}

fn v6(last: u8) -> Vec<u8> {
    let mut a = vec![0x20, 0x01, 0x0d, 0xb8];
    a.extend_from_slice(&[0; 11]);
    a.push(last);
    a
}

#[test]
fn summary_fields_do_not_depend_on_template_order() {
    // A dual-stack template that lists IPv6 before IPv4 and totals before deltas, as Cisco's do.
    let t = [
        (27, 16),
        (28, 16),
        (8, 4),
        (12, 4),
        (182, 2),
        (183, 2),
        (4, 1),
        (85, 8),
        (1, 8),
        (86, 8),
        (2, 8),
    ];
    let record = |src6: Vec<u8>, dst6: Vec<u8>, src4: Vec<u8>, dst4: Vec<u8>| {
        let mut r = [src6, dst6, src4, dst4].concat();
        r.extend_from_slice(&[0x9c, 0x40, 0x01, 0xbb, 6]); // tcp ports 40000 -> 443, TCP
        for n in [90_000u64, 1500, 60, 1] {
            r.extend_from_slice(&n.to_be_bytes());
        }
        r
    };
    let out = summary(
        &t,
        &[
            record(
                vec![0; 16],
                vec![0; 16],
                v4([192, 0, 2, 1]),
                v4([198, 51, 100, 2]),
            ),
            record(v6(1), v6(2), v4([0; 4]), v4([0; 4])),
        ],
    );
    let flows: Vec<_> = out.iter().filter(|r| r["record"] == "flow").collect();
    assert_eq!(flows.len(), 2);
    let keys = |f: &Json| {
        (
            f["src_addr"].as_str().unwrap().to_owned(),
            f["dst_addr"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        keys(flows[0]),
        ("192.0.2.1".into(), "198.51.100.2".into()),
        "IPv4 flow"
    );
    assert_eq!(
        keys(flows[1]),
        ("2001:db8::1".into(), "2001:db8::2".into()),
        "IPv6 flow"
    );
    for f in flows {
        assert_eq!(
            (f["bytes"].as_u64(), f["packets"].as_u64()),
            (Some(1500), Some(1)),
            "deltas win"
        );
        assert_eq!(
            (f["src_port"].as_u64(), f["dst_port"].as_u64()),
            (Some(40000), Some(443))
        );
    }
}

#[test]
fn ip_version_names_the_address_family() {
    // Both families specified: ipVersion (60) decides; without it, IPv4 comes first.
    let t = [(60, 1), (27, 16), (28, 16), (8, 4), (12, 4)];
    let rec = |version: u8| {
        [
            vec![version],
            v6(1),
            v6(2),
            v4([192, 0, 2, 1]),
            v4([192, 0, 2, 2]),
        ]
        .concat()
    };
    let out = summary(&t, &[rec(6), rec(4)]);
    assert_eq!(out[0]["src_addr"], "2001:db8::1");
    assert_eq!(out[1]["src_addr"], "192.0.2.1");
    let without = summary(&t[1..], &[rec(6)[1..].to_vec()]);
    assert_eq!(without[0]["dst_addr"], "192.0.2.2");
    // UDP ports from the UDP elements when the protocol says UDP, even after TCP ones in the template.
    let t = [(4, 1), (182, 2), (180, 2)];
    let out = summary(&t, &[vec![17, 0, 1, 0x30, 0x39]]);
    assert_eq!(out[0]["src_port"], 12345);
}

/// An SNMPv3 noAuthNoPriv trap whose engine boots are `boots` as given (raw INTEGER contents).
fn v3_trap(boots: &[u8]) -> Vec<u8> {
    v3_trap_named(boots, b"nouser", b"")
}

/// A v3 noAuthNoPriv trap of `user` in context `context`.
fn v3_trap_named(boots: &[u8], user: &[u8], context: &[u8]) -> Vec<u8> {
    use wire::snmp::ber::{tag, write};
    let mut m = Vec::new();
    write::nested(&mut m, tag::SEQUENCE, |o| {
        write::integer(o, tag::INTEGER, 3);
        write::nested(o, tag::SEQUENCE, |g| {
            write::integer(g, tag::INTEGER, 7);
            write::integer(g, tag::INTEGER, 65507);
            write::tlv(g, tag::OCTET_STRING, &[0]);
            write::integer(g, tag::INTEGER, 3);
        });
        let mut usm = Vec::new();
        write::nested(&mut usm, tag::SEQUENCE, |u| {
            write::tlv(
                u,
                tag::OCTET_STRING,
                &[0x80, 0, 0x1f, 0x88, 0x80, 1, 2, 3, 4],
            );
            write::tlv(u, tag::INTEGER, boots);
            write::integer(u, tag::INTEGER, 1000);
            write::tlv(u, tag::OCTET_STRING, user);
            write::tlv(u, tag::OCTET_STRING, b"");
            write::tlv(u, tag::OCTET_STRING, b"");
        });
        write::tlv(o, tag::OCTET_STRING, &usm);
        write::nested(o, tag::SEQUENCE, |s| {
            write::tlv(
                s,
                tag::OCTET_STRING,
                &[0x80, 0, 0x1f, 0x88, 0x80, 1, 2, 3, 4],
            );
            write::tlv(s, tag::OCTET_STRING, context);
            write::nested(s, tag::TRAP_V2, |p| {
                write::integer(p, tag::INTEGER, 1);
                write::integer(p, tag::INTEGER, 0);
                write::integer(p, tag::INTEGER, 0);
                write::nested(p, tag::SEQUENCE, |_| {});
            });
        });
    });
    m
}

#[test]
fn snmp_v3_engine_boots_without_the_leading_zero_decode_and_are_counted() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(
        &mut dec,
        Kind::Snmptrap,
        &[v3_trap(&[0xdd]), v3_trap(&[0, 0xdd])],
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out.len(), 2);
    for r in &out {
        assert_eq!(r["engine_boots"], 221);
        assert_eq!(r["security_level"], "noAuthNoPriv");
    }
    assert_eq!(out[0]["lenient_integers"], true);
    assert!(
        out[1].get("lenient_integers").is_none(),
        "only said when it happened"
    );
    assert_eq!(dec.stats.snmp_lenient_integers, 1);
}

/// A v1/v2c message: version, community, then a PDU of type `pdu` with no bindings.
fn community_message(version: i64, community: &[u8], pdu: u8) -> Vec<u8> {
    use wire::snmp::ber::{tag, write};
    let mut m = Vec::new();
    write::nested(&mut m, tag::SEQUENCE, |o| {
        write::integer(o, tag::INTEGER, version);
        write::tlv(o, tag::OCTET_STRING, community);
        write::nested(o, pdu, |p| {
            write::integer(p, tag::INTEGER, 42);
            write::integer(p, tag::INTEGER, 0);
            write::integer(p, tag::INTEGER, 0);
            write::nested(p, tag::SEQUENCE, |_| {});
        });
    });
    m
}

#[test]
fn snmp_names_that_are_not_printable_utf8_are_hex() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(
        &mut dec,
        Kind::Snmptrap,
        &[
            v3_trap_named(&[1], b"\xffus\xe9r", b"ctx\x01"),
            v3_trap_named(&[1], "us\u{e9}r".as_bytes(), b"ctx"),
            community_message(1, b"pub\xfflic", 0xa7),
            community_message(0, b"public", 0xa0),
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        (&out[0]["user"], &out[0]["user_hex"]),
        (&json!("ff7573e972"), &json!(true))
    );
    assert_eq!(
        (&out[0]["context_name"], &out[0]["context_name_hex"]),
        (&json!("63747801"), &json!(true))
    );
    assert_eq!(
        (&out[1]["user"], &out[1]["context_name"]),
        (&json!("us\u{e9}r"), &json!("ctx"))
    );
    assert!(out[1].get("user_hex").is_none() && out[1].get("context_name_hex").is_none());
    assert_eq!(
        (&out[2]["community"], &out[2]["community_hex"]),
        (&json!("707562ff6c6963"), &json!(true))
    );
    assert_eq!(out[3]["community"], "public");
    assert!(out[3].get("community_hex").is_none());
    assert_eq!(
        (&out[3]["record"], &out[3]["pdu"]),
        (&json!("pdu"), &json!("get"))
    );
}

#[test]
fn an_unknown_sflow_sample_is_an_other_record_and_counted() {
    // A generated datagram (IPv4 agent: 28-byte header, sample count at 24) with one more sample appended:
    // the discarded-packet sample (enterprise 0, format 5) that switch agents send.
    let mut p = exporter_datagrams(traffic::GenKind::Sflow, 1).remove(0);
    let count = u32::from_be_bytes(p[24..28].try_into().unwrap());
    p[24..28].copy_from_slice(&(count + 1).to_be_bytes());
    p.extend_from_slice(&5u32.to_be_bytes());
    p.extend_from_slice(&8u32.to_be_bytes());
    p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(&mut dec, Kind::Sflow, &[p]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out.len() as u32, count + 1, "every sample is a record");
    let other = out.last().unwrap();
    assert_eq!(other["record"], "other");
    assert_eq!(
        (
            &other["enterprise"],
            &other["format"],
            &other["length"],
            &other["agent"]
        ),
        (
            &Json::from(0),
            &Json::from(5),
            &Json::from(8),
            &Json::from("192.0.2.9")
        )
    );
    assert_eq!(dec.stats.sflow_samples_unknown, 1);
}

#[test]
fn bytes_after_an_ipfix_message_are_counted_and_the_message_decodes() {
    let t = [(8, 4), (12, 4)];
    let mut msg = ipfix_message(&[
        template_set(&t),
        (256, [v4([192, 0, 2, 1]), v4([192, 0, 2, 2])].concat()),
    ]);
    msg.extend_from_slice(&[0xde, 0xad]);
    let mut dec = Decoder::new(Options::default()).unwrap();
    let (out, errors) = decode_all(&mut dec, Kind::Ipfix, &[msg]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["dst_addr"], "192.0.2.2");
    assert_eq!(dec.stats.ipfix_trailing_bytes, 2);
}

#[test]
fn mismatched_datagrams_are_counted_by_reason_and_decoded_as_far_as_they_go() {
    let mut dec = Decoder::new(Options::default()).unwrap();
    let mut out = Vec::new();
    let mut decode = |kind, payload: &[u8], mismatched| {
        let d = Datagram {
            kind,
            exporter: "192.0.2.9".parse().unwrap(),
            received_ns: T0,
            payload,
            mismatched,
        };
        let _ = dec.decode(&d, &mut |r| out.push(r.record));
    };
    decode(Kind::Syslog, b"<999>x", true);
    decode(Kind::Syslog, b"hello", true);
    decode(Kind::NetflowV5, &[0, 5, 0, 2, 0, 0], true);
    decode(Kind::Syslog, b"<13>fine", false);
    let s = dec.stats;
    assert_eq!((s.datagrams, s.mismatched), (4, 3));
    assert_eq!(s.refused.get(Kind::Syslog, Refusal::BadPri), 1);
    assert_eq!(s.refused.get(Kind::Syslog, Refusal::NoPri), 1);
    assert_eq!(s.refused.get(Kind::NetflowV5, Refusal::ShortHeader), 1);
    assert_eq!(
        serde_json::to_value(s.refused).unwrap(),
        serde_json::json!({"syslog": {"bad_pri": 1, "no_pri": 1}, "netflow-v5": {"short_header": 1}})
    );
    assert!(out.contains(&"message"), "the well-formed one decodes");
}

#[test]
fn stamp_is_rfc3339_with_microseconds_like_the_calendar_formatter() {
    for ns in [
        0,
        T0,
        1_764_000_000_123_456_789,
        951_782_400_000_001_000,
        u64::MAX,
    ] {
        assert_eq!(Stamp::new(ns).as_str(), wire::timefmt::rfc5424(ns), "{ns}");
    }
    assert_eq!(Stamp::new(0).as_str(), "1970-01-01T00:00:00.000000Z");
    let base = Stamp::new(T0);
    for ns in [T0 + 999_999_999, T0 + 1, T0 + 1_000_000_000, T0 - 1, 0] {
        assert_eq!(
            Stamp::within(&base, T0 / 1_000_000_000, ns).as_str(),
            wire::timefmt::rfc5424(ns),
            "{ns}"
        );
    }
}

const REGISTRY_IPFIX: &[u8] = include_bytes!("../../wire/tests/data/ipfix/registry-elements.bin");
const REGISTRY_V9: &[u8] = include_bytes!("../../wire/tests/data/ipfix/v9-registry-elements.bin");

fn decode_with_templates(kind: Kind, payload: &[u8]) -> Vec<Json> {
    let mut dec = Decoder::new(Options {
        templates: true,
        ..Options::default()
    })
    .unwrap();
    let (out, errors) = decode_all(&mut dec, kind, &[payload.to_vec()]);
    assert!(errors.is_empty(), "{errors:?}");
    out
}

fn one<'a>(out: &'a [Json], record: &str) -> &'a Json {
    let found: Vec<_> = out.iter().filter(|r| r["record"] == record).collect();
    assert_eq!(found.len(), 1, "{record} records in {out:?}");
    found[0]
}

#[test]
fn elements_outside_the_old_table_are_named_and_typed() {
    // crates/wire/tests/data/ipfix/README.md says what the fixture holds; e2e compares it with tshark
    let out = decode_with_templates(Kind::Ipfix, REGISTRY_IPFIX);
    let f = &one(&out, "flow")["fields"];
    let want = serde_json::json!({
        "VRFname": "customer-a",
        "wlanSSID": "corp-wifi",
        "staMacAddress": "02:00:5e:10:20:30",
        "dot1qCustomerVlanId": 300,
        "mplsLabelStackSection2": "0186a1",
        "ingressPhysicalInterface": 7,
        "egressPhysicalInterface": 9,
        "initiatorOctets": 5000,
        "responderOctets": 7000,
        "natEvent": 1,
        "octetDeltaSumOfSquares": 152300,
        "observationTimeSeconds": "2026-12-07T08:15:02Z",
        "flowStartSeconds": "2026-12-07T08:14:52Z",
        "flowStartMilliseconds": "2026-12-07T08:14:52.250Z",
        "flowEndMilliseconds": "2026-12-07T08:15:01.750Z",
        "flowStartMicroseconds": "2026-12-07T08:14:52.250123Z",
        "flowEndMicroseconds": "2026-12-07T08:15:01.750456Z",
        "flowStartNanoseconds": "2026-12-07T08:14:52.250123456Z",
        "flowEndNanoseconds": "2026-12-07T08:15:01.750456789Z",
        "dataRecordsReliability": true,
        "mibObjectValueInteger": -5,
        "absoluteError": 0.25,
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&f[k], v, "{k}");
    }
    assert!(
        !f.as_object().unwrap().keys().any(|k| k.starts_with("ie")),
        "no element left unnamed: {f}"
    );
    let o = one(&out, "options");
    assert_eq!(o["scope"]["selectorId"], 3);
    assert_eq!(o["fields"]["selectorName"], "sampler-256");
    assert_eq!(o["fields"]["samplingPopulation"], 256);
}

#[test]
fn v9_scope_fields_are_named_by_scope_type_in_templates_and_options() {
    let out = decode_with_templates(Kind::NetflowV9, REGISTRY_V9);
    let t: Vec<_> = out
        .iter()
        .filter(|r| r["record"] == "template" && r["options"] == true)
        .collect();
    assert_eq!(t.len(), 1);
    let names: Vec<_> = t[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f["name"].as_str().unwrap()))
        .collect();
    // scope type 1 is System, not octetDeltaCount; the option fields after it are elements
    assert_eq!(
        names,
        [(1, "scopeSystem"), (234, "ingressVRFID"), (236, "VRFname")]
    );
    let o = one(&out, "options");
    assert_eq!(o["scope"]["scopeSystem"], 0x0a00_0001);
    assert_eq!(o["fields"]["VRFname"], "blue");
    let f = &one(&out, "flow")["fields"];
    assert_eq!(f["staMacAddress"], "02:00:5e:aa:bb:cc");
    assert_eq!(f["staIPv4Address"], "192.0.2.30");
    assert_eq!(f["wlanSSID"], "guest");
    assert_eq!(f["ingressPhysicalInterface"], 13);
}

#[test]
fn snmp_usm_failures_are_counted_by_reason() {
    use wire::snmp::{AuthProtocol, PrivProtocol, UsmUser};
    let user = |auth: &[u8], privacy: &[u8], engine: Option<Vec<u8>>| UsmUser {
        name: b"privuser".to_vec(),
        engine_id: engine,
        auth: Some((AuthProtocol::HmacSha, auth.to_vec())),
        privacy: Some((PrivProtocol::Aes128Cfb, privacy.to_vec())),
    };
    let cases = [
        (user(b"authpass124", b"privpass123", None), "wrong_digest"),
        (
            user(b"authpass123", b"privpass124", None),
            "decryption_failed",
        ),
        (
            user(b"authpass123", b"privpass123", Some(vec![1; 8])),
            "unknown_engine",
        ),
    ];
    for (u, reason) in cases {
        let mut dec = Decoder::new(Options {
            snmp_users: vec![u],
            ..Options::default()
        })
        .unwrap();
        let (out, errors) = decode_all(&mut dec, Kind::Snmptrap, &[V3_AUTH_PRIV.to_vec()]);
        assert!(out.is_empty() && errors.len() == 1, "{reason}");
        let stats = serde_json::to_value(dec.stats).unwrap();
        assert_eq!(stats["snmp_usm_failed"], 1, "{reason}");
        assert_eq!(stats["malformed"], 1, "{reason}");
        let by_reason = stats["snmp_usm_errors"].as_object().unwrap();
        assert_eq!(by_reason.len(), 7);
        for (k, v) in by_reason {
            assert_eq!(v, &json!(u64::from(k == reason)), "{reason}: {k}");
        }
        let log = errors[0].to_string();
        assert!(
            log.contains("user \"privuser\", engine 0x8000000001020304"),
            "{log}"
        );
    }
}
