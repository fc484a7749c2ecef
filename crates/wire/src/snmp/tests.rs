//! Datagrams captured from net-snmp's `snmptrap` (see tests/data/snmp/README), decoded field by field.

use std::net::Ipv4Addr;

use super::*;

const V1: &[u8] = include_bytes!("../../tests/data/snmp/v1.bin");
const V2: &[u8] = include_bytes!("../../tests/data/snmp/v2.bin");
const INFORM: &[u8] = include_bytes!("../../tests/data/snmp/inf.bin");
const V3_NOAUTH: &[u8] = include_bytes!("../../tests/data/snmp/v3na.bin");
const V3_DISCOVERY: &[u8] = include_bytes!("../../tests/data/snmp/v3inf.bin");
const V3_OTHER_AUTH: &[u8] = include_bytes!("../../tests/data/snmp/v3an.bin");
const V3_OTHER_PRIV: &[u8] = include_bytes!("../../tests/data/snmp/v3ap.bin");
const V3_SHA: &[u8] = include_bytes!("../../tests/data/snmp/an_sha.bin");
const V3_MD5: &[u8] = include_bytes!("../../tests/data/snmp/an_md5.bin");
const V3_SHA_AES: &[u8] = include_bytes!("../../tests/data/snmp/ap_sha_aes.bin");
const ALL: [&[u8]; 10] = [
    V1,
    V2,
    INFORM,
    V3_NOAUTH,
    V3_DISCOVERY,
    V3_OTHER_AUTH,
    V3_OTHER_PRIV,
    V3_SHA,
    V3_MD5,
    V3_SHA_AES,
];
/// `snmptrap -e`: the authoritative engine ID of the captures made with known passwords.
const ENGINE: [u8; 8] = [0x80, 0, 0, 0, 0x01, 0x02, 0x03, 0x04];
/// The engine ID net-snmp generated for this machine's snmptrap: the contextEngineID of every v3 capture.
const SNMPTRAP_ENGINE: [u8; 17] = [
    0x80, 0x00, 0x1f, 0x88, 0x80, 0xe7, 0x1a, 0xd8, 0x23, 0xd8, 0xf0, 0x07, 0x6b, 0, 0, 0, 0,
];

/// The USM reason a parse failed for, if that is how it failed.
fn failed(r: Result<Message, SnmpError>) -> Option<UsmReason> {
    r.err().and_then(|e| e.usm_reason())
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn user(name: &str, auth: (AuthProtocol, &str), privacy: Option<&str>) -> UsmUser {
    UsmUser {
        name: name.into(),
        engine_id: None,
        auth: Some((auth.0, auth.1.into())),
        privacy: privacy.map(|p| (PrivProtocol::Aes128Cfb, p.into())),
    }
}

/// The users the captures were made with.
fn users() -> Usm {
    Usm::new(vec![
        user("shauser", (AuthProtocol::HmacSha, "shapass123"), None),
        user("md5user", (AuthProtocol::HmacMd5, "md5pass123"), None),
        user(
            "privuser",
            (AuthProtocol::HmacSha, "authpass123"),
            Some("privpass123"),
        ),
    ])
    .unwrap()
}

fn bindings(m: &Message) -> Vec<(String, Value)> {
    let vbs = m.pdu.varbinds.iter();
    vbs.map(|vb| (vb.oid.to_string(), vb.value.clone()))
        .collect()
}

fn string(s: &str) -> Value {
    Value::OctetString(s.into())
}

#[test]
fn v1_trap() {
    let m = parse(V1, &mut Usm::default()).unwrap();
    assert_eq!(
        (m.version, m.community.as_deref()),
        (Version::V1, Some(&b"public"[..]))
    );
    assert_eq!(
        (m.pdu.kind, m.pdu.request_id, m.v3.as_ref()),
        (PduKind::TrapV1, None, None)
    );
    let t = m.pdu.v1.as_ref().unwrap();
    assert_eq!(t.enterprise, oid("1.3.6.1.4.1.8072.2.3"));
    assert_eq!(t.agent_addr, Ipv4Addr::new(10, 1, 2, 3));
    assert_eq!(
        (t.generic_trap, t.specific_trap, t.timestamp),
        (6, 17, 12345)
    );
    assert_eq!(
        bindings(&m),
        [
            ("1.3.6.1.2.1.1.5.0".into(), string("hostA")),
            (
                "1.3.6.1.2.1.2.2.1.10.1".into(),
                Value::Counter32(4_000_000_000)
            ),
        ]
    );
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.4.1.8072.2.3.0.17")));
    assert_eq!(m.uptime(), Some(12345));
}

#[test]
fn v1_generic_traps_map_to_snmp_traps() {
    let at = V1
        .windows(6)
        .position(|w| w == [2, 1, 6, 2, 1, 17])
        .unwrap()
        + 2;
    let with_generic = |g: u8| {
        let mut p = V1.to_vec();
        p[at] = g;
        parse(&p, &mut Usm::default()).unwrap().trap_oid()
    };
    assert_eq!(
        with_generic(0),
        Some(oid("1.3.6.1.6.3.1.1.5.1")),
        "coldStart"
    );
    assert_eq!(
        with_generic(2),
        Some(oid("1.3.6.1.6.3.1.1.5.3")),
        "linkDown"
    );
    assert_eq!(
        with_generic(5),
        Some(oid("1.3.6.1.6.3.1.1.5.6")),
        "egpNeighborLoss"
    );
    // past the RFC's 0..=5, the same arithmetic as forward's v1-to-v2c translation (Net-SNMP's too)
    assert_eq!(with_generic(7), Some(oid("1.3.6.1.6.3.1.1.5.8")));
    assert_eq!(with_generic(0x7f), Some(oid("1.3.6.1.6.3.1.1.5.128")));
}

#[test]
fn v2c_trap_with_every_common_type() {
    let m = parse(V2, &mut Usm::default()).unwrap();
    assert_eq!(
        (m.version, m.community.as_deref()),
        (Version::V2c, Some(&b"public"[..]))
    );
    let p = &m.pdu;
    assert_eq!(
        (p.kind, p.request_id, p.error_status, p.error_index),
        (PduKind::TrapV2, Some(1815877392), 0, 0)
    );
    assert_eq!(
        bindings(&m),
        [
            ("1.3.6.1.2.1.1.3.0".into(), Value::TimeTicks(4242)),
            (
                "1.3.6.1.6.3.1.1.4.1.0".into(),
                Value::ObjectId(oid("1.3.6.1.6.3.1.1.5.3"))
            ),
            ("1.3.6.1.2.1.2.2.1.1.2".into(), Value::Integer(2)),
            (
                "1.3.6.1.2.1.31.1.1.1.6.2".into(),
                Value::Counter64(u64::MAX)
            ),
            (
                "1.3.6.1.2.1.4.20.1.1.1".into(),
                Value::IpAddress([192, 0, 2, 1])
            ),
            ("1.3.6.1.2.1.1.3.0".into(), Value::TimeTicks(99)),
            (
                "1.3.6.1.2.1.2.2.1.5.2".into(),
                Value::Gauge32(1_000_000_000)
            ),
            (
                "1.3.6.1.2.1.1.2.0".into(),
                Value::ObjectId(oid("1.3.6.1.4.1.9"))
            ),
        ]
    );
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.6.3.1.1.5.3")));
    assert_eq!(m.uptime(), Some(4242), "the first sysUpTime.0");
}

#[test]
fn v2c_inform() {
    let m = parse(INFORM, &mut Usm::default()).unwrap();
    assert_eq!(
        (m.pdu.kind, m.pdu.request_id),
        (PduKind::Inform, Some(630877829))
    );
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.6.3.1.1.5.4")));
    assert_eq!(m.uptime(), Some(4242));
    assert_eq!(
        m.value_of(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 2]),
        Some(&Value::Integer(2))
    );
}

#[test]
fn v3_no_auth_is_decoded_without_users() {
    let m = parse(V3_NOAUTH, &mut Usm::default()).unwrap();
    assert_eq!((m.version, m.community.as_ref()), (Version::V3, None));
    let h = m.v3.as_ref().unwrap();
    assert_eq!(
        (h.msg_id, h.max_size, h.flags, h.security_model),
        (712039680, 65507, 0, 3)
    );
    assert_eq!(
        (h.level, h.reportable),
        (SecurityLevel::NoAuthNoPriv, false)
    );
    assert_eq!(
        h.engine_id,
        [0x80, 0x00, 0x1f, 0x88, 0x80, 0xaa, 0xbb, 0xcc, 0xdd]
    );
    assert_eq!(
        (h.engine_boots, h.engine_time, &h.user[..]),
        (1, 833061, &b"nouser"[..])
    );
    assert_eq!(
        (&h.context_engine_id[..], &h.context_name[..]),
        (&SNMPTRAP_ENGINE[..], &b""[..])
    );
    assert_eq!(
        (m.pdu.kind, m.pdu.request_id),
        (PduKind::TrapV2, Some(266093058))
    );
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.6.3.1.1.5.1")));
    assert_eq!(m.uptime(), Some(777));
}

#[test]
fn v3_discovery_probe() {
    let m = parse(V3_DISCOVERY, &mut Usm::default()).unwrap();
    let h = m.v3.as_ref().unwrap();
    assert_eq!(
        (h.level, h.reportable, h.flags),
        (SecurityLevel::NoAuthNoPriv, true, 4)
    );
    assert!(h.engine_id.is_empty() && h.user.is_empty());
    assert_eq!((h.engine_boots, h.engine_time), (0, 0));
    assert_eq!((m.pdu.kind, m.pdu.varbinds.len()), (PduKind::Get, 0));
    assert_eq!((m.trap_oid(), m.uptime()), (None, None));
}

fn check_hello_trap(m: &Message, user: &str, level: SecurityLevel) {
    let h = m.v3.as_ref().unwrap();
    assert_eq!(
        (&h.engine_id[..], &h.user[..], h.level),
        (&ENGINE[..], user.as_bytes(), level)
    );
    assert_eq!(
        h.context_engine_id, SNMPTRAP_ENGINE,
        "snmptrap's own engine, not -e"
    );
    assert_eq!(m.pdu.kind, PduKind::TrapV2);
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.4.1.8072.2.3.0.1")));
    assert!(m.uptime().is_some());
    let sys_name = m.value_of(&[1, 3, 6, 1, 2, 1, 1, 5, 0]);
    assert_eq!(sys_name, Some(&string("hello")));
}

#[test]
fn v3_auth_sha() {
    let m = parse(V3_SHA, &mut users()).unwrap();
    check_hello_trap(&m, "shauser", SecurityLevel::AuthNoPriv);
    assert_eq!(m.v3.as_ref().unwrap().flags, 1);
    assert_eq!(bindings(&m).len(), 3);
}

#[test]
fn v3_auth_md5() {
    let m = parse(V3_MD5, &mut users()).unwrap();
    let h = m.v3.as_ref().unwrap();
    assert_eq!(
        (&h.user[..], h.level),
        (&b"md5user"[..], SecurityLevel::AuthNoPriv)
    );
    assert_eq!(m.trap_oid(), Some(oid("1.3.6.1.6.3.1.1.5.3")));
    assert_eq!(m.uptime(), Some(42));
    assert_eq!(
        m.value_of(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 2]),
        Some(&Value::Integer(2))
    );
}

#[test]
fn v3_auth_priv_sha_aes() {
    let m = parse(V3_SHA_AES, &mut users()).unwrap();
    check_hello_trap(&m, "privuser", SecurityLevel::AuthPriv);
    let counter = m.value_of(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 1]);
    assert_eq!(counter, Some(&Value::Counter32(4_000_000_000)));
}

/// The offset of the 12-byte msgAuthenticationParameters: after `04 0c`, following the user name.
fn mac_at(p: &[u8], user: &[u8]) -> usize {
    let u = p.windows(user.len()).position(|w| w == user).unwrap();
    assert_eq!(p[u + user.len()..u + user.len() + 2], [0x04, 0x0c]);
    u + user.len() + 2
}

#[test]
fn v3_tampering_is_auth_failed() {
    let mut usm = users();
    for (p, name) in [
        (V3_SHA, &b"shauser"[..]),
        (V3_MD5, b"md5user"),
        (V3_SHA_AES, b"privuser"),
    ] {
        let at = mac_at(p, name);
        let mut bad_mac = p.to_vec();
        bad_mac[at + 11] ^= 0x01;
        assert_eq!(
            failed(parse(&bad_mac, &mut usm)),
            Some(UsmReason::WrongDigest)
        );
        let mut bad_body = p.to_vec();
        *bad_body.last_mut().unwrap() ^= 0x01;
        assert_eq!(
            failed(parse(&bad_body, &mut usm)),
            Some(UsmReason::WrongDigest)
        );
        assert!(parse(p, &mut usm).is_ok(), "the cache is unharmed");
    }
}

#[test]
fn v3_wrong_or_missing_keys() {
    let wrong = |u: UsmUser, p: &[u8]| parse(p, &mut Usm::new(vec![u]).unwrap());
    let sha = (AuthProtocol::HmacSha, "shapass124");
    assert_eq!(
        failed(wrong(user("shauser", sha, None), V3_SHA)),
        Some(UsmReason::WrongDigest)
    );
    let as_md5 = (AuthProtocol::HmacMd5, "shapass123");
    assert_eq!(
        failed(wrong(user("shauser", as_md5, None), V3_SHA)),
        Some(UsmReason::WrongDigest)
    );
    let auth = (AuthProtocol::HmacSha, "authpass123");
    let bad_priv = wrong(user("privuser", auth, Some("privpass124")), V3_SHA_AES);
    assert_eq!(failed(bad_priv), Some(UsmReason::DecryptionFailed));
    assert_eq!(
        failed(wrong(user("privuser", auth, None), V3_SHA_AES)),
        Some(UsmReason::NoKey)
    );
    let keyless = UsmUser {
        name: "shauser".into(),
        engine_id: None,
        auth: None,
        privacy: None,
    };
    assert_eq!(failed(wrong(keyless, V3_SHA)), Some(UsmReason::NoKey));
    for p in [V3_SHA, V3_SHA_AES, V3_OTHER_AUTH, V3_OTHER_PRIV] {
        assert_eq!(
            failed(parse(p, &mut Usm::default())),
            Some(UsmReason::UnknownUser)
        );
    }
}

/// v3an.bin and v3ap.bin: engine 80001f8880aabbccdd; authuser's password is authpass123 (found by trying),
/// privuser's privacy password is not known.
#[test]
fn v3_captures_from_another_engine() {
    let sha = (AuthProtocol::HmacSha, "authpass123");
    let mut usm = Usm::new(vec![
        user("authuser", sha, None),
        user("privuser", sha, Some("privpass123")),
    ])
    .unwrap();
    let m = parse(V3_OTHER_AUTH, &mut usm).unwrap();
    let h = m.v3.as_ref().unwrap();
    let engine = [0x80, 0x00, 0x1f, 0x88, 0x80, 0xaa, 0xbb, 0xcc, 0xdd];
    assert_eq!(
        (&h.engine_id[..], &h.user[..]),
        (&engine[..], &b"authuser"[..])
    );
    assert_eq!(
        (h.level, h.engine_boots, h.engine_time),
        (SecurityLevel::AuthNoPriv, 1, 833083)
    );
    assert_eq!(
        (m.pdu.kind, m.pdu.request_id),
        (PduKind::TrapV2, Some(570590405))
    );
    assert_eq!(
        (m.trap_oid(), m.uptime()),
        (Some(oid("1.3.6.1.6.3.1.1.5.1")), Some(777))
    );
    assert_eq!(m.value_of(&[1, 3, 6, 1, 2, 1, 1, 5, 0]), Some(&string("x")));
    // The MAC verifies with the authentication password; the privacy password is wrong.
    assert_eq!(
        failed(parse(V3_OTHER_PRIV, &mut usm)),
        Some(UsmReason::DecryptionFailed)
    );
    let mut other = Usm::new(vec![user(
        "authuser",
        (AuthProtocol::HmacSha, "authpass124"),
        None,
    )])
    .unwrap();
    assert_eq!(
        failed(parse(V3_OTHER_AUTH, &mut other)),
        Some(UsmReason::WrongDigest)
    );
    assert_eq!(
        failed(parse(V3_OTHER_AUTH, &mut users())),
        Some(UsmReason::UnknownUser)
    );
}

#[test]
fn v3_header_errors() {
    let mut usm = Usm::default();
    let flags_at = 21; // 30 81 89 | 02 01 03 | 30 11 | 02 04 <id> | 02 03 <max> | 04 01 <flags>
    assert_eq!(V3_NOAUTH[flags_at - 2..flags_at], [0x04, 0x01]);
    let mut p = V3_NOAUTH.to_vec();
    p[flags_at] = 0x02;
    let err = parse(&p, &mut usm).unwrap_err();
    let want = WireError::new("snmp: msgFlags privacy without authentication", flags_at);
    assert_eq!(err, SnmpError::Malformed(want));
    p[flags_at] = 0x00;
    p[flags_at + 3] = 0x02; // msgSecurityModel: SNMPv2c
    assert_eq!(
        parse(&p, &mut usm),
        Err(SnmpError::UnsupportedSecurityModel(2))
    );
    let mut p = V3_NOAUTH.to_vec();
    p[5] = 2; // msgVersion
    assert_eq!(parse(&p, &mut usm), Err(SnmpError::UnsupportedVersion(2)));
}

#[test]
fn framing_errors_say_where() {
    let mut usm = Usm::default();
    let mut trailing = V2.to_vec();
    trailing.push(0);
    assert_eq!(
        parse(&trailing, &mut usm),
        Err(SnmpError::Malformed(WireError::new(
            "snmp: bytes after the message",
            V2.len()
        )))
    );
    assert_eq!(
        parse(&[0x04, 0x00], &mut usm),
        Err(SnmpError::Malformed(WireError::new(
            "snmp: message not a SEQUENCE",
            0
        )))
    );
    let mut long = V1.to_vec();
    long[1] += 1;
    let err = parse(&long, &mut usm).unwrap_err();
    assert_eq!(
        err,
        SnmpError::Malformed(WireError::new("snmp: element longer than its parent", 2))
    );
    assert_eq!(
        err.to_string(),
        "snmp: element longer than its parent at offset 2"
    );
}

#[test]
fn truncated_input_is_an_error_at_every_length() {
    let mut usm = users();
    for p in ALL {
        for n in 0..p.len() {
            assert!(parse(&p[..n], &mut usm).is_err(), "{n} of {}", p.len());
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let mut usm = users();
    for p in ALL {
        for i in 0..p.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut q = p.to_vec();
                q[i] ^= x;
                let _ = parse(&q, &mut usm);
            }
        }
    }
}

#[test]
fn v3_engine_boots_without_the_leading_zero_are_read_as_unsigned() {
    // Net-SNMP writes engine boots 221 as `02 01 dd` (strictly -35): read 221, and say it was odd.
    let engine = [0x80, 0x00, 0x1f, 0x88, 0x80, 0xaa, 0xbb, 0xcc, 0xdd];
    let at = V3_NOAUTH
        .windows(engine.len())
        .position(|w| w == engine)
        .unwrap()
        + engine.len();
    assert_eq!(V3_NOAUTH[at..at + 3], [0x02, 0x01, 0x01], "engine boots 1");
    let mut p = V3_NOAUTH.to_vec();
    p[at + 2] = 0xdd;
    let m = parse(&p, &mut Usm::default()).unwrap();
    let h = m.v3.as_ref().unwrap();
    assert_eq!(
        (h.engine_boots, h.engine_time, h.lenient_integers),
        (221, 833061, true)
    );
    let strict = parse(V3_NOAUTH, &mut Usm::default()).unwrap();
    assert!(!strict.v3.unwrap().lenient_integers);
}

/// Captures of `snmptrap -v3 -e 0x8000000001020304 -Z 7,1234 -u NAME -a AUTH -A authpass123 [-x PRIV -X
/// privpass123]` with every algorithm net-snmp 5.9.3 offers (tests/data/snmp/README): the user is named
/// after them. Net-SNMP is the oracle: the digest verifies and the plaintext decodes only with the keys it
/// derived, so these are known-answer tests of key localisation and extension (RFC 7860 has no vectors).
const ALGORITHMS: [(&str, AuthProtocol, Option<PrivProtocol>, &[u8]); 17] = {
    use AuthProtocol as A;
    use PrivProtocol as P;
    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/data/snmp/usm_", $name, ".bin"))
        };
    }
    [
        ("sha224", A::HmacSha224, None, fixture!("sha224")),
        ("sha256", A::HmacSha256, None, fixture!("sha256")),
        ("sha384", A::HmacSha384, None, fixture!("sha384")),
        ("sha512", A::HmacSha512, None, fixture!("sha512")),
        ("md5_des", A::HmacMd5, Some(P::Des), fixture!("md5_des")),
        ("sha_des", A::HmacSha, Some(P::Des), fixture!("sha_des")),
        (
            "sha512_des",
            A::HmacSha512,
            Some(P::Des),
            fixture!("sha512_des"),
        ),
        (
            "sha256_aes128",
            A::HmacSha256,
            Some(P::Aes128Cfb),
            fixture!("sha256_aes128"),
        ),
        (
            "sha_aes192",
            A::HmacSha,
            Some(P::Aes192Cfb),
            fixture!("sha_aes192"),
        ),
        (
            "sha_aes256",
            A::HmacSha,
            Some(P::Aes256Cfb),
            fixture!("sha_aes256"),
        ),
        (
            "sha_aes192c",
            A::HmacSha,
            Some(P::Aes192CfbCisco),
            fixture!("sha_aes192c"),
        ),
        (
            "sha_aes256c",
            A::HmacSha,
            Some(P::Aes256CfbCisco),
            fixture!("sha_aes256c"),
        ),
        (
            "md5_aes256",
            A::HmacMd5,
            Some(P::Aes256Cfb),
            fixture!("md5_aes256"),
        ),
        (
            "md5_aes256c",
            A::HmacMd5,
            Some(P::Aes256CfbCisco),
            fixture!("md5_aes256c"),
        ),
        (
            "sha224_aes256",
            A::HmacSha224,
            Some(P::Aes256Cfb),
            fixture!("sha224_aes256"),
        ),
        (
            "sha224_aes256c",
            A::HmacSha224,
            Some(P::Aes256CfbCisco),
            fixture!("sha224_aes256c"),
        ),
        (
            "sha512_aes256",
            A::HmacSha512,
            Some(P::Aes256Cfb),
            fixture!("sha512_aes256"),
        ),
    ]
};

fn algorithm_user(name: &str, auth: AuthProtocol, privacy: Option<PrivProtocol>) -> UsmUser {
    UsmUser {
        name: name.into(),
        engine_id: None,
        auth: Some((auth, b"authpass123".to_vec())),
        privacy: privacy.map(|p| (p, b"privpass123".to_vec())),
    }
}

fn check_algorithm_trap(m: &Message, name: &str, privacy: bool) {
    let h = m.v3.as_ref().unwrap();
    let level = match privacy {
        true => SecurityLevel::AuthPriv,
        false => SecurityLevel::AuthNoPriv,
    };
    assert_eq!(
        (&h.engine_id[..], &h.user[..]),
        (&ENGINE[..], name.as_bytes())
    );
    assert_eq!(
        (h.level, h.engine_boots, h.engine_time),
        (level, 7, 1234),
        "{name}"
    );
    assert_eq!(
        m.trap_oid(),
        Some(oid("1.3.6.1.4.1.8072.2.3.0.1")),
        "{name}"
    );
    assert_eq!(
        bindings(m)[2..],
        [
            ("1.3.6.1.2.1.1.5.0".into(), string("hello")),
            (
                "1.3.6.1.2.1.2.2.1.10.1".into(),
                Value::Counter32(4_000_000_000)
            ),
        ],
        "{name}"
    );
}

#[test]
fn v3_every_netsnmp_algorithm() {
    let users = ALGORITHMS
        .iter()
        .map(|(n, a, p, _)| algorithm_user(n, *a, *p));
    let mut usm = Usm::new(users.collect()).unwrap();
    for (name, auth, privacy, p) in ALGORITHMS {
        let m = parse(p, &mut usm).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_algorithm_trap(&m, name, privacy.is_some());
        assert_eq!(auth.mac_len(), sent_mac_len(p, name), "{name}");
    }
}

/// The length of msgAuthenticationParameters: the OCTET STRING after the user name.
fn sent_mac_len(p: &[u8], user: &str) -> usize {
    let u = p
        .windows(user.len())
        .position(|w| w == user.as_bytes())
        .unwrap();
    assert_eq!(p[u + user.len()], 0x04);
    usize::from(p[u + user.len() + 1])
}

#[test]
fn v3_the_other_key_extension_or_cipher_does_not_decrypt() {
    use PrivProtocol as P;
    for (name, auth, privacy, p) in ALGORITHMS {
        let Some(privacy) = privacy else { continue };
        let others = [
            P::Des,
            P::Aes128Cfb,
            P::Aes192Cfb,
            P::Aes256Cfb,
            P::Aes192CfbCisco,
            P::Aes256CfbCisco,
        ];
        // With a hash as long as the key the extensions add nothing: SHA-512's AES-256 and AES-256-C agree.
        let same_key = |o: P| o.key_len() == privacy.key_len() && o != P::Des && privacy != P::Des;
        let hash_len = auth.password_to_key(b"anything").len();
        let differs = |o: &P| *o != privacy && !(same_key(*o) && hash_len >= o.key_len());
        for other in others.into_iter().filter(differs) {
            let mut usm = Usm::new(vec![algorithm_user(name, auth, Some(other))]).unwrap();
            assert_eq!(
                failed(parse(p, &mut usm)),
                Some(UsmReason::DecryptionFailed),
                "{name} read as {other:?}"
            );
        }
    }
}

#[test]
fn v3_another_authentication_protocol_is_named() {
    use AuthProtocol as A;
    let all = [
        A::HmacMd5,
        A::HmacSha,
        A::HmacSha224,
        A::HmacSha256,
        A::HmacSha384,
        A::HmacSha512,
    ];
    for (name, auth, privacy, p) in ALGORITHMS {
        for other in all.into_iter().filter(|o| *o != auth) {
            let mut usm = Usm::new(vec![algorithm_user(name, other, privacy)]).unwrap();
            let want = match other.mac_len() == auth.mac_len() {
                true => UsmReason::WrongDigest,
                false => UsmReason::WrongAuthProtocol,
            };
            assert_eq!(
                failed(parse(p, &mut usm)),
                Some(want),
                "{name} read as {other:?}"
            );
        }
    }
}

#[test]
fn v3_failures_name_user_engine_and_reason() {
    let (name, auth, _, p) = ALGORITHMS[0];
    let mut usm = Usm::new(vec![algorithm_user(name, auth, None)]).unwrap();
    let err = parse(V3_SHA, &mut usm).unwrap_err();
    assert_eq!(
        err.to_string(),
        "snmp: unknown USM user (user \"shauser\", engine 0x8000000001020304)"
    );
    let mut wrong = Usm::new(vec![UsmUser {
        auth: Some((auth, b"authpass124".to_vec())),
        ..algorithm_user(name, auth, None)
    }])
    .unwrap();
    let err = parse(p, &mut wrong).unwrap_err();
    assert_eq!(
        err,
        SnmpError::Usm(UsmFailure {
            reason: UsmReason::WrongDigest,
            user: b"sha224".to_vec(),
            engine_id: ENGINE.to_vec(),
        })
    );
    assert_eq!(
        err.to_string(),
        "snmp: authentication failed (wrong password or algorithm) (user \"sha224\", engine 0x8000000001020304)"
    );
    let odd = UsmFailure {
        reason: UsmReason::UnknownUser,
        user: vec![0xff, b'a', 0x01],
        engine_id: vec![1, 2, 3, 4, 5],
    };
    assert_eq!(
        odd.to_string(),
        "snmp: unknown USM user (user 0xff6101, engine 0x0102030405)",
        "a name that is not printable UTF-8 in hex"
    );
}

#[test]
fn v3_users_bound_to_an_engine() {
    let (name, auth, _, p) = ALGORITHMS[1];
    let bound = |engine: &[u8], pass: &[u8]| UsmUser {
        engine_id: Some(engine.to_vec()),
        auth: Some((auth, pass.to_vec())),
        ..algorithm_user(name, auth, None)
    };
    let other_engine = [0x80, 0, 0, 0, 0x09, 0x09];
    let mut only_other = Usm::new(vec![bound(&other_engine, b"authpass123")]).unwrap();
    assert_eq!(
        failed(parse(p, &mut only_other)),
        Some(UsmReason::UnknownEngine)
    );

    // The entry bound to the message's engine wins over the one for every engine, whichever comes first.
    let any_wrong = UsmUser {
        auth: Some((auth, b"authpass999".to_vec())),
        ..algorithm_user(name, auth, None)
    };
    let mut usm = Usm::new(vec![any_wrong.clone(), bound(&ENGINE, b"authpass123")]).unwrap();
    assert!(parse(p, &mut usm).is_ok());
    let mut usm = Usm::new(vec![
        bound(&ENGINE, b"authpass999"),
        algorithm_user(name, auth, None),
    ])
    .unwrap();
    assert_eq!(failed(parse(p, &mut usm)), Some(UsmReason::WrongDigest));
    // Another engine's entry leaves the one for every engine in charge.
    let mut usm = Usm::new(vec![
        bound(&other_engine, b"authpass999"),
        algorithm_user(name, auth, None),
    ])
    .unwrap();
    assert!(parse(p, &mut usm).is_ok());

    assert_eq!(
        Usm::new(vec![
            bound(&ENGINE, b"authpass123"),
            bound(&ENGINE, b"authpass999")
        ])
        .unwrap_err(),
        UsmError::DuplicateUser(name.into())
    );
    assert_eq!(
        Usm::new(vec![bound(&[], b"authpass123")]).unwrap_err(),
        UsmError::BadEngineId(name.into())
    );
}

#[test]
fn v3_time_window() {
    // V3_MD5 (boots 1, time 853189), V3_SHA (1, 853084) and the algorithm captures (7, 1234) share an engine.
    let mut usm = users();
    usm.timely(&[0], 0, 0, None).unwrap(); // another engine: no effect on ENGINE
    assert!(parse_at(V3_MD5, &mut usm, 1000).is_ok());
    assert!(
        parse_at(V3_SHA, &mut usm, 1040).is_ok(),
        "105 s older, 145 s behind"
    );
    assert_eq!(
        failed(parse_at(V3_SHA, &mut usm, 1050)),
        Some(UsmReason::NotInTimeWindow),
        "155 s behind the engine's estimated time"
    );
    assert!(
        parse_at(V3_MD5, &mut usm, 90_000).is_ok(),
        "the latest again, however late: as snmptrapd"
    );
    let (name, auth, privacy, p) = ALGORITHMS[4];
    let mut usm = Usm::new(vec![
        algorithm_user(name, auth, privacy),
        user("shauser", (AuthProtocol::HmacSha, "shapass123"), None),
    ])
    .unwrap();
    assert!(parse(V3_SHA, &mut usm).is_ok());
    assert!(parse(p, &mut usm).is_ok(), "boots 1 -> 7");
    assert_eq!(
        failed(parse(V3_SHA, &mut usm)),
        Some(UsmReason::NotInTimeWindow),
        "boots 7 -> 1"
    );
    // A message that fails authentication leaves the clock alone.
    let mut wrong = Usm::new(vec![
        algorithm_user(name, auth, privacy),
        user("shauser", (AuthProtocol::HmacSha, "shapass124"), None),
    ])
    .unwrap();
    assert_eq!(
        failed(parse(V3_SHA, &mut wrong)),
        Some(UsmReason::WrongDigest)
    );
    assert!(parse(p, &mut wrong).is_ok());
}
