//! Rewrites a relay makes when it cannot keep the sender's address (no spoofing): add snmpTrapAddress.0 to a
//! v2c notification, and translate a v1 Trap-PDU into an SNMPv2-Trap (RFC 3584 §3.1) with snmpTrapAddress.0,
//! snmpTrapCommunity.0 and snmpTrapEnterprise.0. Variable bindings already in the message are copied as
//! they are; only the new ones and the enclosing lengths are encoded.

use std::net::Ipv4Addr;

use super::ber::{self, Reader, Tlv};
use super::{parse, Usm, Version};

const TRAP_V1: u8 = 0xa4;
const INFORM: u8 = 0xa6;
const TRAP_V2: u8 = 0xa7;
const IP_ADDRESS: u8 = 0x40;
const TIMETICKS: u8 = 0x43;

const SYS_UPTIME_0: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SNMP_TRAP_OID_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// RFC 3584: SNMP-COMMUNITY-MIB snmpTrapAddress.0, snmpTrapCommunity.0; SNMPv2-MIB snmpTrapEnterprise.0.
pub const SNMP_TRAP_ADDRESS_0: [u32; 10] = [1, 3, 6, 1, 6, 3, 18, 1, 3, 0];
const SNMP_TRAP_COMMUNITY_0: [u32; 10] = [1, 3, 6, 1, 6, 3, 18, 1, 4, 0];
const SNMP_TRAP_ENTERPRISE_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0];

/// The pieces of a community-based message, as bytes of the original.
struct Parts<'a> {
    version: i64,
    community: &'a [u8],
    pdu: Tlv<'a>,
}

fn parts(p: &[u8]) -> Option<Parts<'_>> {
    let mut top = Reader::new(p, 0);
    let msg = top.expect(ber::SEQUENCE, "snmp: message").ok()?;
    let mut r = msg.reader();
    let version = ber::signed(&r.integer("snmp: version").ok()?).ok()?;
    let community = r.octets("snmp: community").ok()?.value;
    let pdu = r.next().ok()?;
    Some(Parts {
        version,
        community,
        pdu,
    })
}

/// A v2c trap or inform with snmpTrapAddress.0 = `exporter` appended; `None` when `p` is something else, or
/// already names the address.
pub fn with_trap_address(p: &[u8], exporter: Ipv4Addr) -> Option<Vec<u8>> {
    let m = parts(p)?;
    if m.version != 1 || !matches!(m.pdu.tag, TRAP_V2 | INFORM) {
        return None;
    }
    let mut r = m.pdu.reader();
    let head: Vec<Tlv> = (0..3)
        .map(|_| r.integer("snmp: pdu field"))
        .collect::<Result<_, _>>()
        .ok()?;
    let list = r.expect(ber::SEQUENCE, "snmp: varbinds").ok()?;
    if names(list, &SNMP_TRAP_ADDRESS_0)? {
        return None;
    }
    let mut vbs = list.value.to_vec();
    vbs.extend(varbind(
        &SNMP_TRAP_ADDRESS_0,
        IP_ADDRESS,
        &exporter.octets(),
    ));
    let fields: Vec<u8> = head
        .iter()
        .flat_map(|t| tlv(ber::INTEGER, t.value))
        .collect();
    Some(message(1, m.community, m.pdu.tag, &fields, &vbs))
}

/// Whether the varbind list holds `oid` (`None` if it cannot be read).
fn names(list: Tlv<'_>, oid: &[u32]) -> Option<bool> {
    let want = encode_oid(oid);
    let mut r = list.reader();
    while !r.is_empty() {
        let vb = r.expect(ber::SEQUENCE, "snmp: varbind").ok()?;
        if vb.reader().expect(ber::OBJECT_ID, "snmp: name").ok()?.value == want.as_slice() {
            return Some(true);
        }
    }
    Some(false)
}

/// A v1 Trap-PDU as an SNMPv2-Trap (RFC 3584 §3.1), with snmpTrapAddress.0, snmpTrapCommunity.0 and
/// snmpTrapEnterprise.0 appended; `None` when `p` is not a v1 trap.
pub fn v1_to_v2c(p: &[u8]) -> Option<Vec<u8>> {
    let decoded = parse(p, &mut Usm::default()).ok()?;
    let (Version::V1, Some(v1), Some(trap_oid)) =
        (decoded.version, &decoded.pdu.v1, decoded.trap_oid())
    else {
        return None;
    };
    let m = parts(p)?;
    if m.pdu.tag != TRAP_V1 {
        return None;
    }
    let mut r = m.pdu.reader();
    (0..5).try_for_each(|_| r.next().map(drop)).ok()?; // enterprise, agent-addr, generic, specific, time-stamp
    let original = r.expect(ber::SEQUENCE, "snmp: varbinds").ok()?;
    let mut vbs = varbind(&SYS_UPTIME_0, TIMETICKS, &unsigned(u64::from(v1.timestamp)));
    vbs.extend(varbind(
        &SNMP_TRAP_OID_0,
        ber::OBJECT_ID,
        &encode_oid(trap_oid.arcs()),
    ));
    vbs.extend_from_slice(original.value);
    vbs.extend(varbind(
        &SNMP_TRAP_ADDRESS_0,
        IP_ADDRESS,
        &v1.agent_addr.octets(),
    ));
    vbs.extend(varbind(
        &SNMP_TRAP_COMMUNITY_0,
        ber::OCTET_STRING,
        m.community,
    ));
    vbs.extend(varbind(
        &SNMP_TRAP_ENTERPRISE_0,
        ber::OBJECT_ID,
        &encode_oid(v1.enterprise.arcs()),
    ));
    let zero = tlv(ber::INTEGER, &[0]);
    let fields = [zero.clone(), zero.clone(), zero].concat();
    Some(message(1, m.community, TRAP_V2, &fields, &vbs))
}

fn message(version: u8, community: &[u8], pdu_tag: u8, fields: &[u8], varbinds: &[u8]) -> Vec<u8> {
    let pdu = [fields, &tlv(ber::SEQUENCE, varbinds)].concat();
    let body = [
        tlv(ber::INTEGER, &[version]),
        tlv(ber::OCTET_STRING, community),
        tlv(pdu_tag, &pdu),
    ]
    .concat();
    tlv(ber::SEQUENCE, &body)
}

fn varbind(oid: &[u32], tag: u8, value: &[u8]) -> Vec<u8> {
    tlv(
        ber::SEQUENCE,
        &[tlv(ber::OBJECT_ID, &encode_oid(oid)), tlv(tag, value)].concat(),
    )
}

/// Tag, definite length (short or long form), contents.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        n if n < 0x80 => out.push(n as u8),
        n => {
            let bytes = (n as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    out.extend_from_slice(value);
    out
}

/// The contents of an unsigned INTEGER-like value: big-endian, minimal, with a leading zero when the top bit
/// is set.
fn unsigned(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut out = bytes[skip..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}

/// The contents of an OBJECT IDENTIFIER (at least two arcs, as [`super::Oid`] guarantees).
fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (u64::from(*a) * 40 + u64::from(*b), rest),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for sub in std::iter::once(first).chain(rest.iter().map(|a| u64::from(*a))) {
        let mut digits = vec![(sub & 0x7f) as u8];
        let mut v = sub >> 7;
        while v > 0 {
            digits.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        out.extend(digits.iter().rev());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::{PduKind, Value};

    const V1: &[u8] = include_bytes!("../../tests/data/snmp/v1.bin");
    const V2: &[u8] = include_bytes!("../../tests/data/snmp/v2.bin");
    const INFORM_V2: &[u8] = include_bytes!("../../tests/data/snmp/inf.bin");

    fn decode(p: &[u8]) -> crate::snmp::Message {
        parse(p, &mut Usm::default()).unwrap()
    }

    #[test]
    fn v2c_gets_snmp_trap_address_once() {
        for p in [V2, INFORM_V2] {
            let before = decode(p);
            let out = with_trap_address(p, Ipv4Addr::new(192, 0, 2, 7)).unwrap();
            let after = decode(&out);
            assert_eq!(after.pdu.kind, before.pdu.kind);
            assert_eq!(after.pdu.request_id, before.pdu.request_id);
            assert_eq!(after.community, before.community);
            assert_eq!(
                after.pdu.varbinds[..before.pdu.varbinds.len()],
                before.pdu.varbinds[..]
            );
            let last = after.pdu.varbinds.last().unwrap();
            assert_eq!(last.oid.arcs(), SNMP_TRAP_ADDRESS_0);
            assert_eq!(last.value, Value::IpAddress([192, 0, 2, 7]));
            assert_eq!(
                with_trap_address(&out, Ipv4Addr::new(192, 0, 2, 8)),
                None,
                "already there"
            );
        }
        assert_eq!(with_trap_address(V1, Ipv4Addr::LOCALHOST), None);
    }

    #[test]
    fn v1_becomes_v2c_per_rfc3584() {
        let v1 = decode(V1);
        let out = v1_to_v2c(V1).unwrap();
        let v2 = decode(&out);
        assert_eq!((v2.version, v2.pdu.kind), (Version::V2c, PduKind::TrapV2));
        assert_eq!(v2.community, v1.community);
        assert_eq!(v2.trap_oid(), v1.trap_oid());
        assert_eq!(v2.uptime(), v1.uptime());
        let t = v1.pdu.v1.as_ref().unwrap();
        let n = v1.pdu.varbinds.len();
        assert_eq!(v2.pdu.varbinds[2..2 + n], v1.pdu.varbinds[..]);
        let tail: Vec<_> = v2.pdu.varbinds[2 + n..]
            .iter()
            .map(|v| (v.oid.arcs().to_vec(), v.value.clone()))
            .collect();
        assert_eq!(
            tail[0],
            (
                SNMP_TRAP_ADDRESS_0.to_vec(),
                Value::IpAddress(t.agent_addr.octets())
            )
        );
        assert_eq!(
            tail[1],
            (
                SNMP_TRAP_COMMUNITY_0.to_vec(),
                Value::OctetString(v1.community.clone().unwrap())
            )
        );
        assert_eq!(
            tail[2],
            (
                SNMP_TRAP_ENTERPRISE_0.to_vec(),
                Value::ObjectId(t.enterprise.clone())
            )
        );
        assert_eq!(v1_to_v2c(V2), None);
    }

    #[test]
    fn long_lengths_and_hostile_input() {
        let big = vec![b'x'; 300];
        let t = tlv(ber::OCTET_STRING, &big);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(unsigned(0x80), vec![0, 0x80]);
        assert_eq!(unsigned(0), vec![0]);
        assert_eq!(
            encode_oid(&[1, 3, 6, 1, 4, 1, 2636]),
            vec![0x2b, 6, 1, 4, 1, 0x94, 0x4c]
        );
        for n in 0..V2.len() {
            let _ = with_trap_address(&V2[..n], Ipv4Addr::LOCALHOST);
            let _ = v1_to_v2c(&V1[..n.min(V1.len())]);
        }
    }
}
