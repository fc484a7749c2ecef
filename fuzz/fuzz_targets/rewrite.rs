//! What forward rewrites from network input: the syslog origin tag, SNMP snmpTrapAddress.0 and v1-to-v2c,
//! and v9/IPFIX template extraction and replay. Each returns a well-formed result or `None`, never panics:
//! a tagged syslog message still parses with the same PRI, a rewritten SNMP message still decodes (a
//! translated v1 trap with the request-id it was given and each RFC 3584 binding once, or as often as the
//! v1 trap carried it), and the template-only and replay datagrams decode to exactly the templates they were
//! cut from.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use wire::netflow::split::{announcements, template_only, templates_datagram};
use wire::netflow::template::Announcement;
use wire::snmp::{inform, parse, rewrite, PduKind, Usm};

fuzz_target!(|data: &[u8]| {
    syslog(data);
    snmp(data);
    informs(data);
    netflow(data);
});

fn syslog(data: &[u8]) {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    if let Some(tagged) = wire::syslog::with_origin(data, ip) {
        assert!(tagged.len() > data.len());
        let (before, after) = (wire::syslog::parse(data), wire::syslog::parse(&tagged));
        let (Ok(b), Ok(a)) = (before, after) else {
            panic!("tagging broke a message")
        };
        assert_eq!(
            (b.facility, b.severity, b.format),
            (a.facility, a.severity, a.format)
        );
    }
}

fn snmp(data: &[u8]) {
    if let Some(out) = rewrite::with_trap_address(data, Ipv4Addr::new(192, 0, 2, 7)) {
        let m = parse(&out, &mut Usm::default()).expect("a rewritten message decodes");
        assert!(m.pdu.kind.is_notification());
    }
    if let Some(Ok(out)) = rewrite::v1_to_v2c(data, || 7) {
        let m = parse(&out, &mut Usm::default()).expect("a translated message decodes");
        assert!(m.pdu.kind.is_notification());
        assert_eq!(m.pdu.request_id, Some(7));
        let v1 = parse(data, &mut Usm::default()).expect("a translated v1 trap decodes");
        let count = |m: &wire::snmp::Message, oid: &[u32]| {
            m.pdu
                .varbinds
                .iter()
                .filter(|vb| vb.oid.arcs() == oid)
                .count()
        };
        for oid in [
            &rewrite::SNMP_TRAP_ADDRESS_0[..],
            &rewrite::SNMP_TRAP_COMMUNITY_0,
            &rewrite::SNMP_TRAP_ENTERPRISE_0,
        ] {
            assert_eq!(count(&m, oid), count(&v1, oid).max(1));
        }
    }
}

/// Informs as capture acknowledges them and forward relays them: the Response names the inform's request-id,
/// and an inform that decodes still decodes relayed under another request-id or as a trap, with its varbinds.
fn informs(data: &[u8]) {
    if let Some(i) = inform::v2c_inform(data) {
        let r = parse(&i.response, &mut Usm::default()).expect("a Response decodes");
        assert_eq!(r.pdu.kind, PduKind::Response);
        assert_eq!(inform::response_id(&i.response), Some(i.request_id));
    }
    let _ = inform::response_id(data);
    let relayed = inform::with_request_id(data, 0x1234_5678);
    let trap = inform::as_trap(data);
    let Ok(original) = parse(data, &mut Usm::default()) else {
        return;
    };
    if let Some(out) = relayed {
        let m = parse(&out, &mut Usm::default()).expect("a relayed inform decodes");
        assert_eq!(m.pdu.request_id, Some(0x1234_5678));
        assert_eq!(m.pdu.varbinds, original.pdu.varbinds);
    }
    if let Some(out) = trap {
        let m = parse(&out, &mut Usm::default()).expect("an inform sent as a trap decodes");
        assert_eq!(m.pdu.kind, PduKind::TrapV2);
        assert_eq!(m.pdu.varbinds, original.pdu.varbinds);
    }
}

fn netflow(data: &[u8]) {
    // Template sets are copied as they are: only when all of them read does the copy have to read back.
    let Ok((_, original)) = announcements(data) else {
        return;
    };
    let Some(t) = template_only(data) else {
        assert!(original.is_empty());
        return;
    };
    let (h, announced) = announcements(&t).expect("the template-only datagram reads back");
    assert_eq!(announced, original);
    let defined: Vec<_> = announced
        .iter()
        .filter_map(|a| match a {
            Announcement::Define(t) => Some(t),
            Announcement::Withdraw(_) => None,
        })
        .collect();
    let fields: usize = defined.iter().map(|t| t.fields.len()).sum();
    if defined.is_empty() || defined.len() > 16 || fields > 4000 {
        return; // a replay datagram holds at most 16 templates, and must stay below 64 KiB
    }
    let replay = templates_datagram(h.protocol, &t, &defined).expect("templates fit one datagram");
    let (_, again) = announcements(&replay).expect("the replay reads back");
    // the replay puts data templates first, then options templates, each in their original order
    let key = |t: &&wire::netflow::template::Template| {
        (t.id, t.options, t.scope_fields, t.fields.clone())
    };
    let mut want: Vec<_> = defined.iter().filter(|t| !t.options).map(key).collect();
    want.extend(defined.iter().filter(|t| t.options).map(key));
    let got: Vec<_> = again
        .iter()
        .filter_map(|a| match a {
            Announcement::Define(t) => Some((t.id, t.options, t.scope_fields, t.fields.clone())),
            Announcement::Withdraw(_) => None,
        })
        .collect();
    assert_eq!(got, want);
}
