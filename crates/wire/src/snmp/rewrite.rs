//! Rewrites a relay makes when it cannot keep the sender's address (no spoofing): add snmpTrapAddress.0 to a
//! v2c notification, and translate a v1 Trap-PDU into an SNMPv2-Trap (RFC 3584 §3.1) with snmpTrapAddress.0,
//! snmpTrapCommunity.0 and snmpTrapEnterprise.0. Variable bindings already in the message are copied as
//! they are; only the new ones and the enclosing lengths are encoded.

use std::net::Ipv4Addr;

use super::ber::tag::{
    INFORM, INTEGER, IP_ADDRESS, OBJECT_ID, OCTET_STRING, SEQUENCE, TIMETICKS, TRAP_V1, TRAP_V2,
};
use super::ber::write::{self, varbind};
use super::ber::{self, Reader, Tlv};
use super::{parse, Usm, Version};

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
    let msg = top.expect(SEQUENCE, "snmp: message").ok()?;
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
    let list = r.expect(SEQUENCE, "snmp: varbinds").ok()?;
    if names(list, &SNMP_TRAP_ADDRESS_0)? {
        return None;
    }
    let fields = |o: &mut Vec<u8>| head.iter().for_each(|t| write::tlv(o, INTEGER, t.value));
    let varbinds = |o: &mut Vec<u8>| {
        o.extend_from_slice(list.value);
        varbind(o, &SNMP_TRAP_ADDRESS_0, |v| {
            write::tlv(v, IP_ADDRESS, &exporter.octets())
        });
    };
    Some(message(m.community, m.pdu.tag, fields, varbinds))
}

/// Whether the varbind list holds `oid` (`None` if it cannot be read).
fn names(list: Tlv<'_>, oid: &[u32]) -> Option<bool> {
    let mut want = Vec::new();
    write::oid_contents(&mut want, oid);
    let mut r = list.reader();
    while !r.is_empty() {
        let vb = r.expect(SEQUENCE, "snmp: varbind").ok()?;
        if vb.reader().expect(OBJECT_ID, "snmp: name").ok()?.value == want.as_slice() {
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
    let original = r.expect(SEQUENCE, "snmp: varbinds").ok()?;
    // request-id, error-status and error-index: a translated trap has none to keep (RFC 3584 3.1).
    let fields = |o: &mut Vec<u8>| (0..3).for_each(|_| write::integer(o, INTEGER, 0));
    let varbinds = |o: &mut Vec<u8>| {
        varbind(o, &SYS_UPTIME_0, |v| {
            write::unsigned(v, TIMETICKS, u64::from(v1.timestamp))
        });
        varbind(o, &SNMP_TRAP_OID_0, |v| write::oid(v, trap_oid.arcs()));
        o.extend_from_slice(original.value);
        varbind(o, &SNMP_TRAP_ADDRESS_0, |v| {
            write::tlv(v, IP_ADDRESS, &v1.agent_addr.octets())
        });
        varbind(o, &SNMP_TRAP_COMMUNITY_0, |v| {
            write::tlv(v, OCTET_STRING, m.community)
        });
        varbind(o, &SNMP_TRAP_ENTERPRISE_0, |v| {
            write::oid(v, v1.enterprise.arcs())
        });
    };
    Some(message(m.community, TRAP_V2, fields, varbinds))
}

/// A v2c message: `fields` writes the PDU's fields before the variable bindings, `varbinds` their contents.
fn message(
    community: &[u8],
    pdu_tag: u8,
    fields: impl FnOnce(&mut Vec<u8>),
    varbinds: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::new();
    write::nested(&mut out, SEQUENCE, |m| {
        write::integer(m, INTEGER, 1); // version-2c(1)
        write::tlv(m, OCTET_STRING, community);
        write::nested(m, pdu_tag, |p| {
            fields(p);
            write::nested(p, SEQUENCE, varbinds);
        });
    });
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
    fn hostile_input() {
        for n in 0..V2.len() {
            let _ = with_trap_address(&V2[..n], Ipv4Addr::LOCALHOST);
            let _ = v1_to_v2c(&V1[..n.min(V1.len())]);
        }
    }
}
