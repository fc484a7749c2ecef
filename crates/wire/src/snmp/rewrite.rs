//! Rewrites a relay makes when it cannot keep the sender's address (no spoofing): add snmpTrapAddress.0 to a
//! v2c notification, and translate a v1 Trap-PDU into an SNMPv2-Trap (RFC 3584 §3.1) with snmpTrapAddress.0,
//! snmpTrapCommunity.0 and snmpTrapEnterprise.0 where the v1 trap does not already carry them. Variable
//! bindings already in the message are copied as they are; only the new ones, the request-id and the
//! enclosing lengths are encoded.

use std::net::Ipv4Addr;

use super::ber::tag::{
    INFORM, INTEGER, IP_ADDRESS, OBJECT_ID, OCTET_STRING, SEQUENCE, TIMETICKS, TRAP_V1, TRAP_V2,
};
use super::ber::write::{self, varbind};
use super::ber::{self, Reader, Tlv};
use super::{parse, Oid, Usm, V1Trap, ENTERPRISE_SPECIFIC, MAX_VARBINDS, SNMP_TRAPS};

const SYS_UPTIME_0: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SNMP_TRAP_OID_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// RFC 3584: SNMP-COMMUNITY-MIB snmpTrapAddress.0, snmpTrapCommunity.0; SNMPv2-MIB snmpTrapEnterprise.0.
pub const SNMP_TRAP_ADDRESS_0: [u32; 10] = [1, 3, 6, 1, 6, 3, 18, 1, 3, 0];
pub const SNMP_TRAP_COMMUNITY_0: [u32; 10] = [1, 3, 6, 1, 6, 3, 18, 1, 4, 0];
pub const SNMP_TRAP_ENTERPRISE_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0];

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

/// A v2c trap or inform with snmpTrapAddress.0 = `exporter` appended; `None` when `p` is something else,
/// does not decode (it is then relayed as it came, not made into another malformed message), or already
/// names the address.
pub fn with_trap_address(p: &[u8], exporter: Ipv4Addr) -> Option<Vec<u8>> {
    let m = parts(p)?;
    if m.version != 1 || !matches!(m.pdu.tag, TRAP_V2 | INFORM) {
        return None;
    }
    parse(p, &mut Usm::default()).ok()?;
    let mut r = m.pdu.reader();
    let head: Vec<Tlv> = (0..3)
        .map(|_| r.integer("snmp: pdu field"))
        .collect::<Result<_, _>>()
        .ok()?;
    let list = r.expect(SEQUENCE, "snmp: varbinds").ok()?;
    let ([named], count) = names(list, [&SNMP_TRAP_ADDRESS_0[..]])?;
    if named || count >= MAX_VARBINDS {
        return None; // already there, or one more binding than a decoder takes
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

/// Whether the varbind list holds each of `oids`, and how many bindings it holds (`None` if it cannot be
/// read).
fn names<const N: usize>(list: Tlv<'_>, oids: [&[u32]; N]) -> Option<([bool; N], usize)> {
    let wanted = oids.map(|oid| {
        let mut contents = Vec::new();
        write::oid_contents(&mut contents, oid);
        contents
    });
    let mut found = [false; N];
    let mut count = 0;
    let mut r = list.reader();
    while !r.is_empty() {
        count += 1;
        let vb = r.expect(SEQUENCE, "snmp: varbind").ok()?;
        let name = vb.reader().expect(OBJECT_ID, "snmp: name").ok()?.value;
        for (hit, want) in found.iter_mut().zip(&wanted) {
            *hit |= name == want.as_slice();
        }
    }
    Some((found, count))
}

/// The largest UDP payload over IPv4: a translation that would not fit is relayed as it came.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Why a v1 trap was relayed as it came instead of translated (a counter per reason in forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untranslatable {
    /// The message is a v1 Trap-PDU but one of its fields or bindings cannot be read.
    Malformed,
    /// A generic-trap below 0 or above 2^32-2: snmpTraps.(generic-trap + 1) is no OID.
    GenericTrapOutOfRange,
    /// enterpriseSpecific with a specific-trap below 0 or above 2^32-1, which is no OID arc.
    SpecificTrapOutOfRange,
    /// enterprise.0.specific-trap would be longer than [`super::MAX_ARCS`] arcs.
    TrapOidTooLong,
    /// The translation would be larger than [`MAX_UDP_PAYLOAD`].
    TooLarge,
    /// The translation would hold more than [`MAX_VARBINDS`] bindings (which no decoder here takes).
    TooManyBindings,
}

impl Untranslatable {
    pub const ALL: [Untranslatable; 6] = [
        Untranslatable::Malformed,
        Untranslatable::GenericTrapOutOfRange,
        Untranslatable::SpecificTrapOutOfRange,
        Untranslatable::TrapOidTooLong,
        Untranslatable::TooLarge,
        Untranslatable::TooManyBindings,
    ];

    /// The name forward counts it under.
    pub fn name(self) -> &'static str {
        match self {
            Untranslatable::Malformed => "malformed",
            Untranslatable::GenericTrapOutOfRange => "generic_trap_out_of_range",
            Untranslatable::SpecificTrapOutOfRange => "specific_trap_out_of_range",
            Untranslatable::TrapOidTooLong => "trap_oid_too_long",
            Untranslatable::TooLarge => "too_large",
            Untranslatable::TooManyBindings => "too_many_bindings",
        }
    }
}

/// The snmpTrapOID.0 of a translated v1 trap (RFC 3584 3.1 (2)): enterprise.0.specific-trap for
/// enterpriseSpecific(6); snmpTraps.(generic-trap + 1) otherwise. The RFC names only 0..=5 (coldStart ..
/// egpNeighborLoss); generic-trap values from 7 up follow the same arithmetic, as Net-SNMP's converter does
/// (7 gives snmpTraps.8), so a receiver still sees which value was sent.
pub(crate) fn translated_trap_oid(t: &V1Trap) -> Result<Oid, Untranslatable> {
    if t.generic_trap == ENTERPRISE_SPECIFIC {
        let specific =
            u32::try_from(t.specific_trap).map_err(|_| Untranslatable::SpecificTrapOutOfRange)?;
        return t
            .enterprise
            .extended(&[0, specific])
            .ok_or(Untranslatable::TrapOidTooLong);
    }
    let arc = u32::try_from(t.generic_trap)
        .ok()
        .and_then(|g| g.checked_add(1))
        .ok_or(Untranslatable::GenericTrapOutOfRange)?;
    Oid::new([&SNMP_TRAPS[..], &[arc]].concat()).ok_or(Untranslatable::TrapOidTooLong)
}

/// A v1 Trap-PDU as an SNMPv2-Trap (RFC 3584 §3.1): sysUpTime.0 and snmpTrapOID.0 first, the v1 bindings as
/// they are, then snmpTrapAddress.0 (agent-addr), snmpTrapCommunity.0 (the community) and snmpTrapEnterprise.0
/// (enterprise), each only when the v1 bindings do not already hold it (a trap that crossed a proxy keeps
/// the values it carries). A v1 trap has no request-id: the translation takes `request_id()`, called only
/// when the translation succeeds. `None` when `p` is not a v1 Trap-PDU; `Some(Err)` for one that cannot be
/// translated (it is then relayed as it came).
pub fn v1_to_v2c(
    p: &[u8],
    request_id: impl FnOnce() -> i32,
) -> Option<Result<Vec<u8>, Untranslatable>> {
    let m = parts(p)?;
    if m.version != 0 || m.pdu.tag != TRAP_V1 {
        return None;
    }
    Some(translate(p, &m, request_id))
}

fn translate(
    p: &[u8],
    m: &Parts<'_>,
    request_id: impl FnOnce() -> i32,
) -> Result<Vec<u8>, Untranslatable> {
    let decoded = parse(p, &mut Usm::default()).map_err(|_| Untranslatable::Malformed)?;
    let v1 = decoded.pdu.v1.as_ref().ok_or(Untranslatable::Malformed)?;
    let trap_oid = translated_trap_oid(v1)?;
    let mut r = m.pdu.reader();
    (0..5)
        .try_for_each(|_| r.next().map(drop)) // enterprise, agent-addr, generic, specific, time-stamp
        .map_err(|_| Untranslatable::Malformed)?;
    let original = r
        .expect(SEQUENCE, "snmp: varbinds")
        .map_err(|_| Untranslatable::Malformed)?;
    let ([has_address, has_community, has_enterprise], count) = names(
        original,
        [
            &SNMP_TRAP_ADDRESS_0[..],
            &SNMP_TRAP_COMMUNITY_0,
            &SNMP_TRAP_ENTERPRISE_0,
        ],
    )
    .ok_or(Untranslatable::Malformed)?;
    let added = [has_address, has_community, has_enterprise]
        .iter()
        .filter(|&&has| !has)
        .count();
    if count + 2 + added > MAX_VARBINDS {
        return Err(Untranslatable::TooManyBindings);
    }
    let id = request_id();
    // error-status and error-index: a notification has none (0).
    let fields = |o: &mut Vec<u8>| {
        write::integer(o, INTEGER, i64::from(id));
        (0..2).for_each(|_| write::integer(o, INTEGER, 0));
    };
    let varbinds = |o: &mut Vec<u8>| {
        varbind(o, &SYS_UPTIME_0, |v| {
            write::unsigned(v, TIMETICKS, u64::from(v1.timestamp))
        });
        varbind(o, &SNMP_TRAP_OID_0, |v| write::oid(v, trap_oid.arcs()));
        o.extend_from_slice(original.value);
        if !has_address {
            varbind(o, &SNMP_TRAP_ADDRESS_0, |v| {
                write::tlv(v, IP_ADDRESS, &v1.agent_addr.octets())
            });
        }
        if !has_community {
            varbind(o, &SNMP_TRAP_COMMUNITY_0, |v| {
                write::tlv(v, OCTET_STRING, m.community)
            });
        }
        if !has_enterprise {
            varbind(o, &SNMP_TRAP_ENTERPRISE_0, |v| {
                write::oid(v, v1.enterprise.arcs())
            });
        }
    };
    let out = message(m.community, TRAP_V2, fields, varbinds);
    match out.len() <= MAX_UDP_PAYLOAD {
        true => Ok(out),
        false => Err(Untranslatable::TooLarge),
    }
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
    use crate::snmp::ber::tag::NULL;
    use crate::snmp::{PduKind, Value, Version};

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

    const V1_RFC3584: &[u8] = include_bytes!("../../tests/data/snmp/v1_rfc3584.bin");
    const V1_ADDRESS: &[u8] = include_bytes!("../../tests/data/snmp/v1_rfc3584_address.bin");
    const V1_GENERIC7: &[u8] = include_bytes!("../../tests/data/snmp/v1_generic7.bin");
    const V1_NEGATIVE: &[u8] = include_bytes!("../../tests/data/snmp/v1_negative_specific.bin");

    fn translated(p: &[u8], id: i32) -> crate::snmp::Message {
        decode(&v1_to_v2c(p, || id).unwrap().unwrap())
    }

    /// (name, value) of the bindings after sysUpTime.0 and snmpTrapOID.0.
    fn bindings(m: &crate::snmp::Message) -> Vec<(Vec<u32>, Value)> {
        m.pdu.varbinds[2..]
            .iter()
            .map(|v| (v.oid.arcs().to_vec(), v.value.clone()))
            .collect()
    }

    fn enterprise_8072() -> Value {
        Value::ObjectId(Oid::new(vec![1, 3, 6, 1, 4, 1, 8072, 2, 3]).unwrap())
    }

    #[test]
    fn v1_becomes_v2c_per_rfc3584() {
        let v1 = decode(V1);
        let v2 = translated(V1, 4242);
        assert_eq!((v2.version, v2.pdu.kind), (Version::V2c, PduKind::TrapV2));
        assert_eq!(v2.pdu.request_id, Some(4242));
        assert_eq!((v2.pdu.error_status, v2.pdu.error_index), (0, 0));
        assert_eq!(v2.community, v1.community);
        assert_eq!(v2.trap_oid(), v1.trap_oid());
        assert_eq!(v2.uptime(), v1.uptime());
        let t = v1.pdu.v1.as_ref().unwrap();
        let n = v1.pdu.varbinds.len();
        assert_eq!(v2.pdu.varbinds[2..2 + n], v1.pdu.varbinds[..]);
        assert_eq!(
            bindings(&v2)[n..],
            [
                (
                    SNMP_TRAP_ADDRESS_0.to_vec(),
                    Value::IpAddress(t.agent_addr.octets())
                ),
                (
                    SNMP_TRAP_COMMUNITY_0.to_vec(),
                    Value::OctetString(v1.community.clone().unwrap())
                ),
                (
                    SNMP_TRAP_ENTERPRISE_0.to_vec(),
                    Value::ObjectId(t.enterprise.clone())
                ),
            ]
        );
        assert_eq!(v1_to_v2c(V2, || 1), None);
        assert_eq!(v1_to_v2c(INFORM_V2, || 1), None);
    }

    #[test]
    fn rfc3584_bindings_already_there_are_kept_not_added_again() {
        let v1 = decode(V1_RFC3584);
        let v2 = translated(V1_RFC3584, 1);
        // the original bindings as they came (their values, not the v1 header's), and nothing after them
        assert_eq!(v2.pdu.varbinds[2..], v1.pdu.varbinds[..]);
        let tail = bindings(&v2);
        assert_eq!(
            tail[1..],
            [
                (
                    SNMP_TRAP_ADDRESS_0.to_vec(),
                    Value::IpAddress([192, 0, 2, 9])
                ),
                (
                    SNMP_TRAP_COMMUNITY_0.to_vec(),
                    Value::OctetString(b"upstream".to_vec())
                ),
                (
                    SNMP_TRAP_ENTERPRISE_0.to_vec(),
                    Value::ObjectId(Oid::new(vec![1, 3, 6, 1, 4, 1, 99999, 1]).unwrap())
                ),
            ]
        );
        assert_eq!(
            v2.trap_oid().unwrap().arcs(),
            [1, 3, 6, 1, 4, 1, 8072, 2, 3, 0, 17]
        );
    }

    #[test]
    fn only_the_missing_rfc3584_bindings_are_added() {
        let v2 = translated(V1_ADDRESS, 1);
        assert_eq!(
            v2.trap_oid().unwrap().arcs(),
            [1, 3, 6, 1, 6, 3, 1, 1, 5, 3]
        ); // linkDown
        let names: Vec<Vec<u32>> = bindings(&v2).into_iter().map(|(o, _)| o).collect();
        assert_eq!(
            names,
            [
                SNMP_TRAP_ADDRESS_0.to_vec(),
                vec![1, 3, 6, 1, 4, 1, 99999, 8, 1],
                SNMP_TRAP_COMMUNITY_0.to_vec(),
                SNMP_TRAP_ENTERPRISE_0.to_vec(),
            ]
        );
        assert_eq!(
            v2.value_of(&SNMP_TRAP_ADDRESS_0),
            Some(&Value::IpAddress([192, 0, 2, 9])),
            "the carried address, not the v1 agent-addr 127.0.0.9"
        );
        assert_eq!(
            v2.value_of(&SNMP_TRAP_COMMUNITY_0),
            Some(&Value::OctetString(b"public".to_vec()))
        );
        assert_eq!(
            v2.value_of(&SNMP_TRAP_ENTERPRISE_0),
            Some(&enterprise_8072())
        );
    }

    #[test]
    fn generic_trap_7_becomes_snmp_traps_8() {
        let v2 = translated(V1_GENERIC7, 1);
        assert_eq!(v2.pdu.kind, PduKind::TrapV2);
        assert_eq!(
            v2.value_of(&SNMP_TRAP_OID_0),
            Some(&Value::ObjectId(
                Oid::new(vec![1, 3, 6, 1, 6, 3, 1, 1, 5, 8]).unwrap()
            ))
        );
        assert_eq!(
            v2.value_of(&SNMP_TRAP_ENTERPRISE_0),
            Some(&enterprise_8072())
        );
        assert_eq!(v2.uptime(), Some(1234));
    }

    /// A v1 trap with the fields given, enterprise 1.3.6.1.4.1.8072.2.3, agent-addr 127.0.0.9, one binding.
    fn v1_trap(generic: i64, specific: i64, enterprise: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        write::nested(&mut out, SEQUENCE, |m| {
            write::integer(m, INTEGER, 0);
            write::tlv(m, OCTET_STRING, b"public");
            write::nested(m, TRAP_V1, |p| {
                write::oid(p, enterprise);
                write::tlv(p, IP_ADDRESS, &[127, 0, 0, 9]);
                write::integer(p, INTEGER, generic);
                write::integer(p, INTEGER, specific);
                write::unsigned(p, TIMETICKS, 1234);
                write::nested(p, SEQUENCE, |l| {
                    varbind(l, &[1, 3, 6, 1, 2, 1, 1, 5, 0], |v| {
                        write::tlv(v, OCTET_STRING, b"hi")
                    })
                });
            });
        });
        out
    }

    #[test]
    fn untranslatable_v1_traps_say_why() {
        let ent = [1, 3, 6, 1, 4, 1, 8072, 2, 3];
        let mut called = false;
        assert_eq!(
            v1_to_v2c(V1_NEGATIVE, || {
                called = true;
                1
            }),
            Some(Err(Untranslatable::SpecificTrapOutOfRange))
        );
        assert!(!called, "no request-id is taken for a trap left as it is");
        let cases = [
            (
                v1_trap(6, 1 << 32, &ent),
                Untranslatable::SpecificTrapOutOfRange,
            ),
            (v1_trap(-1, 0, &ent), Untranslatable::GenericTrapOutOfRange),
            (
                v1_trap(1 << 32, 0, &ent),
                Untranslatable::GenericTrapOutOfRange,
            ),
            (
                v1_trap(6, 1, &[1; crate::snmp::MAX_ARCS]),
                Untranslatable::TrapOidTooLong,
            ),
        ];
        for (p, why) in cases {
            assert_eq!(v1_to_v2c(&p, || 1), Some(Err(why)), "{why:?}");
        }
        // the largest generic-trap that still gives an arc, and the largest specific-trap
        for (g, s, last) in [
            (i64::from(u32::MAX) - 1, 0, u32::MAX),
            (6, i64::from(u32::MAX), u32::MAX),
        ] {
            let v2 = translated(&v1_trap(g, s, &ent), 1);
            assert_eq!(v2.trap_oid().unwrap().arcs().last(), Some(&last));
        }
        // a v1 trap whose bindings cannot be read
        let mut broken = v1_trap(6, 1, &ent);
        let n = broken.len();
        broken[n - 3] = 0x30; // the value of the one binding becomes a truncated SEQUENCE
        assert_eq!(
            v1_to_v2c(&broken, || 1),
            Some(Err(Untranslatable::Malformed))
        );
    }

    /// An enterpriseSpecific v1 trap (community public) whose binding list `bindings` writes.
    fn v1_trap_with(bindings: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        write::nested(&mut out, SEQUENCE, |m| {
            write::integer(m, INTEGER, 0);
            write::tlv(m, OCTET_STRING, b"public");
            write::nested(m, TRAP_V1, |p| {
                write::oid(p, &[1, 3, 6, 1, 4, 1, 8072]);
                write::tlv(p, IP_ADDRESS, &[127, 0, 0, 9]);
                write::integer(p, INTEGER, 6);
                write::integer(p, INTEGER, 1);
                write::unsigned(p, TIMETICKS, 1);
                write::nested(p, SEQUENCE, bindings);
            });
        });
        out
    }

    /// A v1 trap whose one binding holds `filler` bytes.
    fn big_v1_trap(filler: usize) -> Vec<u8> {
        v1_trap_with(|l| {
            varbind(l, &[1, 3, 6, 1, 2, 1, 1, 5, 0], |v| {
                write::tlv(v, OCTET_STRING, &vec![b'x'; filler])
            })
        })
    }

    #[test]
    fn a_translation_over_the_udp_limit_is_refused() {
        // the translation adds about 75 bytes: 100 bytes below the limit it no longer fits, 200 below it does
        let near = big_v1_trap(MAX_UDP_PAYLOAD - 100);
        assert!(near.len() <= MAX_UDP_PAYLOAD);
        assert_eq!(v1_to_v2c(&near, || 1), Some(Err(Untranslatable::TooLarge)));
        let fits = v1_to_v2c(&big_v1_trap(MAX_UDP_PAYLOAD - 200), || 1);
        assert!(fits.unwrap().unwrap().len() <= MAX_UDP_PAYLOAD);
    }

    /// A v1 trap with `n` bindings; the first `carried` of them are the RFC 3584 ones.
    fn v1_trap_with_bindings(n: usize, carried: usize) -> Vec<u8> {
        let rfc3584 = [
            &SNMP_TRAP_ADDRESS_0[..],
            &SNMP_TRAP_COMMUNITY_0,
            &SNMP_TRAP_ENTERPRISE_0,
        ];
        v1_trap_with(|l| {
            for i in 0..n {
                let name: &[u32] = match rfc3584.get(i).filter(|_| i < carried) {
                    Some(oid) => oid,
                    None => &[1, 3, 6, 1, 2, 1, 1, 5, 0],
                };
                varbind(l, name, |v| write::tlv(v, NULL, &[]));
            }
        })
    }

    #[test]
    fn a_translation_stays_within_the_bindings_a_decoder_takes() {
        // 2 + 1019 + 3 = 1024 bindings: translated; one more and it would not decode
        let v2 = translated(&v1_trap_with_bindings(MAX_VARBINDS - 5, 0), 1);
        assert_eq!(v2.pdu.varbinds.len(), MAX_VARBINDS);
        let over = v1_trap_with_bindings(MAX_VARBINDS - 4, 0);
        assert_eq!(
            v1_to_v2c(&over, || 1),
            Some(Err(Untranslatable::TooManyBindings))
        );
        // carrying the three RFC 3584 bindings leaves room for three others
        let carried = translated(&v1_trap_with_bindings(MAX_VARBINDS - 2, 3), 1);
        assert_eq!(carried.pdu.varbinds.len(), MAX_VARBINDS);
        // snmpTrapAddress.0 for a v2c trap holding as many bindings as a decoder takes: left as it is
        let full = with_trap_address(V2, Ipv4Addr::LOCALHOST).unwrap();
        assert!(decode(&full).pdu.varbinds.len() < MAX_VARBINDS);
        let v2_full = {
            let mut out = Vec::new();
            write::nested(&mut out, SEQUENCE, |m| {
                write::integer(m, INTEGER, 1);
                write::tlv(m, OCTET_STRING, b"public");
                write::nested(m, TRAP_V2, |p| {
                    (0..3).for_each(|_| write::integer(p, INTEGER, 0));
                    write::nested(p, SEQUENCE, |l| {
                        for _ in 0..MAX_VARBINDS {
                            varbind(l, &[1, 3, 6, 1, 2, 1, 1, 5, 0], |v| {
                                write::tlv(v, NULL, &[])
                            });
                        }
                    });
                });
            });
            out
        };
        assert_eq!(decode(&v2_full).pdu.varbinds.len(), MAX_VARBINDS);
        assert_eq!(with_trap_address(&v2_full, Ipv4Addr::LOCALHOST), None);
    }

    #[test]
    fn hostile_input() {
        for p in [V1, V1_RFC3584, V1_ADDRESS, V1_GENERIC7, V1_NEGATIVE] {
            for n in 0..p.len() {
                let _ = v1_to_v2c(&p[..n], || 1);
            }
        }
        for n in 0..V2.len() {
            let _ = with_trap_address(&V2[..n], Ipv4Addr::LOCALHOST);
        }
    }

    #[test]
    fn a_v2c_trap_that_does_not_decode_gets_no_trap_address() {
        // bytes after a binding's value (as a fuzzer found): relayed as it came, not made longer
        let mut p = Vec::new();
        write::nested(&mut p, SEQUENCE, |m| {
            write::integer(m, INTEGER, 1);
            write::tlv(m, OCTET_STRING, b"public");
            write::nested(m, TRAP_V2, |pdu| {
                (0..3).for_each(|_| write::integer(pdu, INTEGER, 0));
                write::nested(pdu, SEQUENCE, |l| {
                    varbind(l, &SYS_UPTIME_0, |v| {
                        write::unsigned(v, TIMETICKS, 1);
                        write::integer(v, INTEGER, 0);
                    });
                });
            });
        });
        assert!(parse(&p, &mut Usm::default()).is_err());
        assert_eq!(with_trap_address(&p, Ipv4Addr::LOCALHOST), None);
    }
}
