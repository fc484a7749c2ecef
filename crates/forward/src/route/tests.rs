//! Table-driven routing cases: a configuration, a datagram, the verdict.

use super::*;
use config::Config;

const CONFIG: &str = r#"
[forward]
rules_mode = "all"

[[forward.destination]]
name = "siem"
url = "udp://127.0.0.1:9001"

[[forward.destination]]
name = "noc"
url = "udp://127.0.0.1:9002"

[[forward.destination]]
name = "flows"
url = "udp://127.0.0.1:9003"
kinds = ["netflow", "ipfix"]

[[forward.destination]]
name = "f2"
url = "udp://127.0.0.1:9004"

[[forward.group]]
name = "collectors"
members = ["flows", "f2"]
mode = "hash"

[[forward.rule]]
match.exporters = ["198.51.100.0/24"]
drop = true

[[forward.rule]]
match.kinds = ["syslog"]
match.severities = ["emerg", "alert", "crit", "err"]
to = ["siem", "noc"]

[[forward.rule]]
match.kinds = ["syslog"]
match.apps = ["sshd"]
match.message = "Failed password"
to = ["siem"]

[[forward.rule]]
match.trap_oids = ["1.3.6.1.6.3.1.1.5"]
match.communities = ["public"]
to = ["noc"]

[[forward.rule]]
match.domains = [7]
to = ["collectors"]
"#;

fn router(mode: &str) -> Router {
    let text = CONFIG.replace(
        r#"rules_mode = "all""#,
        &format!(r#"rules_mode = "{mode}""#),
    );
    let cfg = Config::parse("t.toml", &text).unwrap();
    Router::new(&cfg.forward).unwrap()
}

fn v2c_link_down(community: &str) -> Vec<u8> {
    // SNMPv2-Trap: sysUpTime.0, snmpTrapOID.0 = linkDown (1.3.6.1.6.3.1.1.5.3)
    let c = community.as_bytes();
    let vbs: Vec<u8> = [
        &[
            0x30, 0x0d, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 3, 0, 0x43, 0x01, 0x05,
        ][..],
        &[
            0x30, 0x17, 0x06, 0x0a, 0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0, 0x06, 0x09, 0x2b, 6, 1, 6, 3,
            1, 1, 5, 3,
        ][..],
    ]
    .concat();
    let mut pdu = vec![
        0x02,
        0x01,
        0x01,
        0x02,
        0x01,
        0x00,
        0x02,
        0x01,
        0x00,
        0x30,
        vbs.len() as u8,
    ];
    pdu.extend_from_slice(&vbs);
    let mut msg = vec![0x02, 0x01, 0x01, 0x04, c.len() as u8];
    msg.extend_from_slice(c);
    msg.push(0xa7);
    msg.push(pdu.len() as u8);
    msg.extend_from_slice(&pdu);
    let mut out = vec![0x30, msg.len() as u8];
    out.extend_from_slice(&msg);
    out
}

fn ipfix(domain: u32) -> Vec<u8> {
    let mut p = vec![0, 10, 0, 16, 0, 0, 0, 1, 0, 0, 0, 2];
    p.extend_from_slice(&domain.to_be_bytes());
    p
}

/// What, kind, exporter, payload, the verdict with `rules_mode = "all"`, the verdict with `"first"`.
type Case<'a> = (&'a str, Option<Kind>, &'a str, Vec<u8>, Verdict, Verdict);

#[test]
fn table() {
    let dest = Target::Dest;
    let group = Target::Group;
    let link_down = v2c_link_down("public");
    let link_down_private = v2c_link_down("private");
    let cases: Vec<Case> = vec![
        (
            "blocked exporter",
            Some(Kind::Syslog),
            "198.51.100.9",
            b"<11>x: y".to_vec(),
            Verdict::Dropped(0),
            Verdict::Dropped(0),
        ),
        (
            "err to siem+noc",
            Some(Kind::Syslog),
            "192.0.2.1",
            b"<11>host app: disk".to_vec(),
            Verdict::To(vec![dest(0), dest(1)]),
            Verdict::To(vec![dest(0), dest(1)]),
        ),
        (
            "info: nothing",
            Some(Kind::Syslog),
            "192.0.2.1",
            b"<14>host app: hi".to_vec(),
            Verdict::Unrouted,
            Verdict::Unrouted,
        ),
        (
            "sshd failure",
            Some(Kind::Syslog),
            "192.0.2.1",
            b"<38>Nov 26 10:00:00 h sshd[7]: Failed password for root".to_vec(),
            Verdict::To(vec![dest(0)]),
            Verdict::To(vec![dest(0)]),
        ),
        (
            "sshd failure at err",
            Some(Kind::Syslog),
            "192.0.2.1",
            b"<35>Nov 26 10:00:00 h sshd[7]: Failed password for root".to_vec(),
            Verdict::To(vec![dest(0), dest(1)]),
            Verdict::To(vec![dest(0), dest(1)]),
        ),
        (
            "linkDown public",
            Some(Kind::Snmptrap),
            "192.0.2.1",
            link_down,
            Verdict::To(vec![dest(1)]),
            Verdict::To(vec![dest(1)]),
        ),
        (
            "linkDown private",
            Some(Kind::Snmptrap),
            "192.0.2.1",
            link_down_private,
            Verdict::Unrouted,
            Verdict::Unrouted,
        ),
        (
            "ipfix domain 7: group, then kinds rule",
            Some(Kind::Ipfix),
            "192.0.2.1",
            ipfix(7),
            Verdict::To(vec![group(0), dest(2)]),
            Verdict::To(vec![group(0)]),
        ),
        (
            "ipfix domain 8: kinds rule",
            Some(Kind::Ipfix),
            "192.0.2.1",
            ipfix(8),
            Verdict::To(vec![dest(2)]),
            Verdict::To(vec![dest(2)]),
        ),
        (
            "unknown kind",
            None,
            "192.0.2.1",
            vec![1, 2, 3],
            Verdict::Unrouted,
            Verdict::Unrouted,
        ),
    ];
    for (mode, pick) in [("all", 0), ("first", 1)] {
        let mut r = router(mode);
        for (what, kind, exporter, payload, all, first) in &cases {
            let want = if pick == 0 { all } else { first };
            let f = Facts::new(*kind, exporter.parse().unwrap(), payload);
            assert_eq!(&r.route(&f), want, "{what} ({mode})");
        }
    }
}

#[test]
fn counts_matches_per_rule() {
    let mut r = router("all");
    let p = b"<11>host app: disk";
    r.route(&Facts::new(
        Some(Kind::Syslog),
        "192.0.2.1".parse().unwrap(),
        p,
    ));
    r.route(&Facts::new(
        Some(Kind::Syslog),
        "198.51.100.1".parse().unwrap(),
        p,
    ));
    assert_eq!(r.matched[..2], [1, 1]);
    assert_eq!(r.count(), 6);
}
