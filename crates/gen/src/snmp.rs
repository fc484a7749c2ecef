//! SNMP notifications: v1 Trap-PDU, v2c SNMPv2-Trap and InformRequest (linkDown/linkUp with ifIndex,
//! ifAdminStatus, ifOperStatus), each with a `seq=N` varbind; and reading the request-id of a Response, to
//! acknowledge informs.

use std::net::Ipv4Addr;

use crate::ber::{int, octets, oid, tlv, uint};
use crate::Ctx;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const IP_ADDRESS: u8 = 0x40;
const TIME_TICKS: u8 = 0x43;
const PDU_TRAP_V1: u8 = 0xa4;
const PDU_INFORM: u8 = 0xa6;
const PDU_TRAP_V2: u8 = 0xa7;
const PDU_RESPONSE: u8 = 0xa2;

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

fn varbind(o: &mut Vec<u8>, name: &[u32], value: impl FnOnce(&mut Vec<u8>)) {
    tlv(o, SEQUENCE, |vb| {
        oid(vb, name);
        value(vb);
    });
}

/// The interface varbinds of a link trap, then the sequence varbind.
fn link_varbinds(o: &mut Vec<u8>, if_index: u32, up: bool, seq: u64) {
    varbind(o, &if_oid(1, if_index), |v| {
        int(v, INTEGER, i64::from(if_index))
    });
    varbind(o, &if_oid(7, if_index), |v| int(v, INTEGER, 1));
    varbind(o, &if_oid(8, if_index), |v| {
        int(v, INTEGER, if up { 1 } else { 2 })
    });
    varbind(o, &SEQ_OID, |v| {
        octets(v, OCTET_STRING, format!("seq={seq}").as_bytes())
    });
}

/// The request-id a notification carries for run-wide sequence `seq` (31 bits, never 0).
pub fn request_id(seq: u64) -> i32 {
    ((seq % 0x7fff_fffe) + 1) as i32
}

pub fn trap_v1(agent: Ipv4Addr, seq: u64, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s, rng) = (cx.now_ns, cx.settings, &mut *cx.rng);
    let if_index = rng.range(1, 48) as u32;
    let up = rng.chance(50);
    tlv(o, SEQUENCE, |m| {
        int(m, INTEGER, 0);
        octets(m, OCTET_STRING, s.community.as_bytes());
        tlv(m, PDU_TRAP_V1, |p| {
            oid(p, &NET_SNMP_NOTIFICATIONS);
            octets(p, IP_ADDRESS, &agent.octets());
            int(p, INTEGER, if up { 3 } else { 2 }); // linkUp / linkDown
            int(p, INTEGER, 0);
            uint(p, TIME_TICKS, uptime_ticks(now_ns));
            tlv(p, SEQUENCE, |vbs| link_varbinds(vbs, if_index, up, seq));
        });
    });
}

pub fn trap_v2c(inform: bool, seq: u64, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s, rng) = (cx.now_ns, cx.settings, &mut *cx.rng);
    let if_index = rng.range(1, 48) as u32;
    let up = rng.chance(50);
    tlv(o, SEQUENCE, |m| {
        int(m, INTEGER, 1);
        octets(m, OCTET_STRING, s.community.as_bytes());
        tlv(m, if inform { PDU_INFORM } else { PDU_TRAP_V2 }, |p| {
            int(p, INTEGER, i64::from(request_id(seq)));
            int(p, INTEGER, 0);
            int(p, INTEGER, 0);
            tlv(p, SEQUENCE, |vbs| {
                varbind(vbs, &SYS_UPTIME_0, |v| {
                    uint(v, TIME_TICKS, uptime_ticks(now_ns))
                });
                varbind(vbs, &SNMP_TRAP_OID_0, |v| {
                    oid(v, if up { &LINK_UP } else { &LINK_DOWN })
                });
                link_varbinds(vbs, if_index, up, seq);
            });
        });
    });
}

/// Reads a BER header at `at`: (tag, content start, content length).
fn header(b: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *b.get(at)?;
    let first = *b.get(at + 1)?;
    if first < 0x80 {
        return Some((tag, at + 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = b
        .get(at + 2..at + 2 + n)?
        .iter()
        .fold(0usize, |a, x| (a << 8) | usize::from(*x));
    Some((tag, at + 2 + n, len))
}

/// The request-id of an SNMP v2c Response-PDU (the acknowledgement of an inform), if `b` is one.
pub fn response_request_id(b: &[u8]) -> Option<i32> {
    let (tag, body, _) = header(b, 0)?;
    let (vtag, vstart, vlen) = header(b, body)?;
    let (ctag, cstart, clen) = header(b, vstart + vlen)?;
    let (ptag, pstart, _) = header(b, cstart + clen)?;
    let (itag, istart, ilen) = header(b, pstart)?;
    let ok = tag == SEQUENCE
        && vtag == INTEGER
        && ctag == OCTET_STRING
        && ptag == PDU_RESPONSE
        && itag == INTEGER;
    if !ok || ilen == 0 || ilen > 4 {
        return None;
    }
    let bytes = b.get(istart..istart + ilen)?;
    let v = bytes
        .iter()
        .fold(if bytes[0] & 0x80 != 0 { -1i64 } else { 0 }, |a, x| {
            (a << 8) | i64::from(*x)
        });
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
        let pdu_at = inform.iter().position(|&b| b == PDU_INFORM).unwrap();
        let mut response = inform.clone();
        response[pdu_at] = PDU_RESPONSE;
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
