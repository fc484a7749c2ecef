//! SNMP notifications: v1 Trap-PDU, v2c SNMPv2-Trap and InformRequest (linkDown/linkUp with ifIndex,
//! ifAdminStatus, ifOperStatus), each with a `seq=N` varbind; and reading the request-id of a Response, to
//! acknowledge informs.

use std::net::Ipv4Addr;

use wire::snmp::ber::tag::{
    INFORM, INTEGER, IP_ADDRESS, OCTET_STRING, RESPONSE, SEQUENCE, TIMETICKS, TRAP_V1, TRAP_V2,
};
use wire::snmp::ber::write::{self, varbind};
use wire::snmp::ber::{integer_value, peek};

use crate::Ctx;

const SYS_UPTIME_0: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SNMP_TRAP_OID_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
const LINK_DOWN: [u32; 10] = [1, 3, 6, 1, 6, 3, 1, 1, 5, 3];
const LINK_UP: [u32; 10] = [1, 3, 6, 1, 6, 3, 1, 1, 5, 4];
const IF_ENTRY: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
/// Net-SNMP's playpen (1.3.6.1.4.1.8072.9999), free for local experiments: the `seq=N` varbind.
const SEQ_OID: [u32; 10] = [1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 1];
const NET_SNMP_NOTIFICATIONS: [u32; 9] = [1, 3, 6, 1, 4, 1, 8072, 2, 3];

fn uptime_ticks(now_ns: u64) -> u32 {
    ((now_ns / 10_000_000) % u64::from(u32::MAX)) as u32
}

fn if_oid(column: u32, index: u32) -> Vec<u32> {
    let mut v = IF_ENTRY.to_vec();
    v.extend_from_slice(&[column, index]);
    v
}

/// The interface varbinds of a link trap, then the sequence varbind.
fn link_varbinds(o: &mut Vec<u8>, if_index: u32, up: bool, seq: u64) {
    varbind(o, &if_oid(1, if_index), |v| {
        write::integer(v, INTEGER, i64::from(if_index))
    });
    varbind(o, &if_oid(7, if_index), |v| write::integer(v, INTEGER, 1));
    varbind(o, &if_oid(8, if_index), |v| {
        write::integer(v, INTEGER, if up { 1 } else { 2 })
    });
    varbind(o, &SEQ_OID, |v| {
        write::tlv(v, OCTET_STRING, format!("seq={seq}").as_bytes())
    });
}

/// The request-id a notification carries for run-wide sequence `seq` (31 bits, never 0).
pub fn request_id(seq: u64) -> i32 {
    ((seq % 0x7fff_fffe) + 1) as i32
}

/// The interface and state of a link trap: random, or interface 1 going down and up in turn.
fn link(s: &crate::Settings, seq: u64, rng: &mut crate::Rng) -> (u32, bool) {
    match s.pattern {
        crate::Pattern::LinkFlap => (1, seq % 2 == 1),
        _ => (rng.range(1, 48) as u32, rng.chance(50)),
    }
}

pub fn trap_v1(agent: Ipv4Addr, seq: u64, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s, rng) = (cx.now_ns, cx.settings, &mut *cx.rng);
    let (if_index, up) = link(s, seq, rng);
    write::nested(o, SEQUENCE, |m| {
        write::integer(m, INTEGER, 0);
        write::tlv(m, OCTET_STRING, s.community.as_bytes());
        write::nested(m, TRAP_V1, |p| {
            write::oid(p, &NET_SNMP_NOTIFICATIONS);
            write::tlv(p, IP_ADDRESS, &agent.octets());
            write::integer(p, INTEGER, if up { 3 } else { 2 }); // linkUp / linkDown
            write::integer(p, INTEGER, 0);
            write::unsigned(p, TIMETICKS, uptime_ticks(now_ns).into());
            write::nested(p, SEQUENCE, |vbs| link_varbinds(vbs, if_index, up, seq));
        });
    });
}

pub fn trap_v2c(inform: bool, seq: u64, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s, rng) = (cx.now_ns, cx.settings, &mut *cx.rng);
    let (if_index, up) = link(s, seq, rng);
    write::nested(o, SEQUENCE, |m| {
        write::integer(m, INTEGER, 1);
        write::tlv(m, OCTET_STRING, s.community.as_bytes());
        write::nested(m, if inform { INFORM } else { TRAP_V2 }, |p| {
            write::integer(p, INTEGER, i64::from(request_id(seq)));
            write::integer(p, INTEGER, 0);
            write::integer(p, INTEGER, 0);
            write::nested(p, SEQUENCE, |vbs| {
                varbind(vbs, &SYS_UPTIME_0, |v| {
                    write::unsigned(v, TIMETICKS, uptime_ticks(now_ns).into())
                });
                varbind(vbs, &SNMP_TRAP_OID_0, |v| {
                    write::oid(v, if up { &LINK_UP } else { &LINK_DOWN })
                });
                link_varbinds(vbs, if_index, up, seq);
            });
        });
    });
}

/// The request-id of an SNMP v2c Response-PDU (the acknowledgement of an inform), if `b` is one.
/// Only the headers on the way are read: a quick check of what a receiver sent back, not a full decode.
pub fn response_request_id(b: &[u8]) -> Option<i32> {
    let msg = peek(b, 0)?;
    let version = peek(b, msg.start)?;
    // Claimed lengths are not checked against `b` here: a sum past its end just finds nothing.
    let community = peek(b, version.start.saturating_add(version.len))?;
    let pdu = peek(b, community.start.saturating_add(community.len))?;
    let id = peek(b, pdu.start)?;
    let ok = msg.tag == SEQUENCE
        && version.tag == INTEGER
        && community.tag == OCTET_STRING
        && pdu.tag == RESPONSE
        && id.tag == INTEGER;
    if !ok || id.len > 4 {
        return None;
    }
    let v = integer_value(b.get(id.start..id.start.saturating_add(id.len))?)?;
    i32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rng, Settings};

    #[test]
    fn inform_round_trip_through_a_response() {
        let s = Settings::default();
        let mut rng = Rng::new(9);
        let mut inform = Vec::new();
        trap_v2c(
            true,
            1234,
            &mut Ctx {
                now_ns: 0,
                settings: &s,
                rng: &mut rng,
            },
            &mut inform,
        );
        // turn the inform into the response a receiver sends: same message, PDU tag 0xa2
        let pdu_at = inform.iter().position(|&b| b == INFORM).unwrap();
        let mut response = inform.clone();
        response[pdu_at] = RESPONSE;
        assert_eq!(response_request_id(&response), Some(request_id(1234)));
        assert_eq!(
            response_request_id(&inform),
            None,
            "an inform is not a response"
        );
        assert_eq!(response_request_id(&[0x30, 0x03, 0x02]), None);
    }

    #[test]
    fn request_ids_are_positive_and_distinct() {
        assert_eq!(request_id(0), 1);
        assert!(request_id(u64::MAX) > 0);
        assert_ne!(request_id(1), request_id(2));
    }
}
