//! PDUs (RFC 3416 and, for the v1 Trap-PDU, RFC 1157) and the values their variable bindings carry.

use std::net::Ipv4Addr;

use super::ber::{self, tag, Reader, Tlv};
use super::oid::Oid;
use crate::error::WireError;

/// More variable bindings than any notification carries; a datagram claiming more is rejected.
pub const MAX_VARBINDS: usize = 1024;

/// The PDU type, from its context-specific tag. Unknown tags are kept and decoded with the common PDU shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PduKind {
    Get,
    GetNext,
    Response,
    Set,
    /// The SNMPv1 Trap-PDU, the one PDU with its own shape.
    TrapV1,
    /// GetBulkRequest: `error_status` holds non-repeaters and `error_index` max-repetitions.
    GetBulk,
    Inform,
    TrapV2,
    Report,
    Other(u8),
}

impl PduKind {
    pub fn from_tag(tag: u8) -> Self {
        match tag {
            tag::GET => Self::Get,
            tag::GET_NEXT => Self::GetNext,
            tag::RESPONSE => Self::Response,
            tag::SET => Self::Set,
            tag::TRAP_V1 => Self::TrapV1,
            tag::GET_BULK => Self::GetBulk,
            tag::INFORM => Self::Inform,
            tag::TRAP_V2 => Self::TrapV2,
            tag::REPORT => Self::Report,
            other => Self::Other(other),
        }
    }

    /// A notification: what a trap receiver is for.
    pub fn is_notification(self) -> bool {
        matches!(self, Self::TrapV1 | Self::TrapV2 | Self::Inform)
    }
}

/// The fields only the v1 Trap-PDU has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Trap {
    pub enterprise: Oid,
    pub agent_addr: Ipv4Addr,
    /// coldStart(0) .. enterpriseSpecific(6); other values are kept as sent.
    pub generic_trap: i64,
    pub specific_trap: i64,
    /// sysUpTime of the agent, in hundredths of a second.
    pub timestamp: u32,
}

/// A decoded PDU. `request_id` is `None` for the v1 Trap-PDU, whose `error_status` and `error_index` are 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub kind: PduKind,
    pub request_id: Option<i32>,
    pub error_status: i32,
    pub error_index: i32,
    pub v1: Option<V1Trap>,
    pub varbinds: Vec<VarBind>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarBind {
    pub oid: Oid,
    pub value: Value,
}

/// A variable binding's value. Unsigned types are checked against their width; a tag this decoder does not
/// know (NsapAddress, UInteger32, a constructed value...) is kept with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Integer32: values outside the 32-bit range are rejected.
    Integer(i64),
    OctetString(Vec<u8>),
    Null,
    ObjectId(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    /// Gauge32, alias Unsigned32.
    Gauge32(u32),
    /// Hundredths of a second.
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    Unknown {
        tag: u8,
        bytes: Vec<u8>,
    },
}

impl Value {
    fn decode(t: &Tlv) -> Result<Self, WireError> {
        let u32_of = |t: &Tlv| ber::unsigned(t, u32::MAX.into()).map(|v| v as u32);
        Ok(match t.tag {
            tag::INTEGER => Self::Integer(ber::int32(t)?.into()),
            tag::OCTET_STRING => Self::OctetString(t.value.to_vec()),
            tag::NULL => empty(t, Self::Null)?,
            tag::OBJECT_ID => Self::ObjectId(Oid::decode(t)?),
            tag::IP_ADDRESS => Self::IpAddress(ipv4(t)?),
            tag::COUNTER32 => Self::Counter32(u32_of(t)?),
            tag::GAUGE32 => Self::Gauge32(u32_of(t)?),
            tag::TIMETICKS => Self::TimeTicks(u32_of(t)?),
            tag::OPAQUE => Self::Opaque(t.value.to_vec()),
            tag::COUNTER64 => Self::Counter64(ber::unsigned(t, u64::MAX)?),
            tag::NO_SUCH_OBJECT => empty(t, Self::NoSuchObject)?,
            tag::NO_SUCH_INSTANCE => empty(t, Self::NoSuchInstance)?,
            tag::END_OF_MIB_VIEW => empty(t, Self::EndOfMibView)?,
            tag => Self::Unknown {
                tag,
                bytes: t.value.to_vec(),
            },
        })
    }
}

/// NULL and the three exceptions have no contents.
fn empty(t: &Tlv, v: Value) -> Result<Value, WireError> {
    match t.value.is_empty() {
        true => Ok(v),
        false => Err(t.err("snmp: NULL or exception value with contents")),
    }
}

fn ipv4(t: &Tlv) -> Result<[u8; 4], WireError> {
    t.value
        .try_into()
        .map_err(|_| t.err("snmp: IpAddress not 4 bytes"))
}

impl Pdu {
    /// Decodes the PDU element `t` (its tag names the kind).
    pub(crate) fn decode(t: &Tlv) -> Result<Self, WireError> {
        if t.tag & tag::CLASS_MASK != tag::PDU_CLASS {
            return Err(t.err("snmp: PDU is not a context-specific constructed element"));
        }
        let kind = PduKind::from_tag(t.tag);
        let mut r = t.reader();
        let pdu = match kind {
            PduKind::TrapV1 => trap_v1(&mut r)?,
            _ => common(kind, &mut r)?,
        };
        r.finish("snmp: bytes after the variable bindings")?;
        Ok(pdu)
    }
}

/// request-id, error-status, error-index, variable-bindings.
fn common(kind: PduKind, r: &mut Reader) -> Result<Pdu, WireError> {
    let request_id = ber::int32(&r.expect(tag::INTEGER, "snmp: request-id not an INTEGER")?)?;
    let error_status = ber::int32(&r.expect(tag::INTEGER, "snmp: error-status not an INTEGER")?)?;
    let error_index = ber::int32(&r.expect(tag::INTEGER, "snmp: error-index not an INTEGER")?)?;
    Ok(Pdu {
        kind,
        request_id: Some(request_id),
        error_status,
        error_index,
        v1: None,
        varbinds: varbinds(r)?,
    })
}

/// enterprise, agent-addr, generic-trap, specific-trap, time-stamp, variable-bindings.
fn trap_v1(r: &mut Reader) -> Result<Pdu, WireError> {
    let enterprise = Oid::decode(&r.expect(tag::OBJECT_ID, "snmp: enterprise not an OID")?)?;
    let agent_addr = ipv4(&r.expect(tag::IP_ADDRESS, "snmp: agent-addr not an IpAddress")?)?.into();
    let generic_trap = ber::signed(&r.expect(tag::INTEGER, "snmp: generic-trap not an INTEGER")?)?;
    let specific_trap =
        ber::signed(&r.expect(tag::INTEGER, "snmp: specific-trap not an INTEGER")?)?;
    let ticks = r.expect(tag::TIMETICKS, "snmp: time-stamp not TimeTicks")?;
    let timestamp = ber::unsigned(&ticks, u32::MAX.into())? as u32;
    let v1 = V1Trap {
        enterprise,
        agent_addr,
        generic_trap,
        specific_trap,
        timestamp,
    };
    Ok(Pdu {
        kind: PduKind::TrapV1,
        request_id: None,
        error_status: 0,
        error_index: 0,
        v1: Some(v1),
        varbinds: varbinds(r)?,
    })
}

/// The VarBindList: at most [`MAX_VARBINDS`] `SEQUENCE { name, value }`.
fn varbinds(r: &mut Reader) -> Result<Vec<VarBind>, WireError> {
    let list = r.expect(tag::SEQUENCE, "snmp: variable-bindings not a SEQUENCE")?;
    let mut items = list.reader();
    let mut out = Vec::new();
    while !items.is_empty() {
        if out.len() == MAX_VARBINDS {
            return Err(WireError::new(
                "snmp: over 1024 variable bindings",
                items.offset(),
            ));
        }
        out.push(varbind(&items.expect(
            tag::SEQUENCE,
            "snmp: variable binding not a SEQUENCE",
        )?)?);
    }
    Ok(out)
}

fn varbind(t: &Tlv) -> Result<VarBind, WireError> {
    let mut r = t.reader();
    let oid = Oid::decode(&r.expect(tag::OBJECT_ID, "snmp: variable binding name not an OID")?)?;
    let value = Value::decode(&r.next()?)?;
    r.finish("snmp: bytes after a variable binding's value")?;
    Ok(VarBind { oid, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(b: &[u8]) -> Result<Value, WireError> {
        Value::decode(&Reader::new(b, 0).next()?)
    }

    #[test]
    fn every_value_type() {
        assert_eq!(value(&[0x02, 0x01, 0xfe]), Ok(Value::Integer(-2)));
        assert_eq!(
            value(&[0x04, 0x02, b'h', b'i']),
            Ok(Value::OctetString(b"hi".to_vec()))
        );
        assert_eq!(value(&[0x05, 0x00]), Ok(Value::Null));
        assert_eq!(
            value(&[0x06, 0x02, 0x2b, 0x06]),
            Ok(Value::ObjectId("1.3.6".parse().unwrap()))
        );
        assert_eq!(
            value(&[0x40, 0x04, 10, 0, 0, 1]),
            Ok(Value::IpAddress([10, 0, 0, 1]))
        );
        assert_eq!(
            value(&[0x41, 0x05, 0, 0xff, 0xff, 0xff, 0xff]),
            Ok(Value::Counter32(u32::MAX))
        );
        assert_eq!(value(&[0x42, 0x01, 0x07]), Ok(Value::Gauge32(7)));
        assert_eq!(
            value(&[0x43, 0x02, 0x30, 0x39]),
            Ok(Value::TimeTicks(12345))
        );
        assert_eq!(value(&[0x44, 0x01, 0x9f]), Ok(Value::Opaque(vec![0x9f])));
        assert_eq!(
            value(&[0x46, 0x09, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Ok(Value::Counter64(u64::MAX))
        );
        assert_eq!(value(&[0x80, 0x00]), Ok(Value::NoSuchObject));
        assert_eq!(value(&[0x81, 0x00]), Ok(Value::NoSuchInstance));
        assert_eq!(value(&[0x82, 0x00]), Ok(Value::EndOfMibView));
        assert_eq!(
            value(&[0x47, 0x01, 0x05]),
            Ok(Value::Unknown {
                tag: 0x47,
                bytes: vec![5]
            })
        );
        assert_eq!(
            value(&[0x30, 0x02, 0x05, 0x00]),
            Ok(Value::Unknown {
                tag: 0x30,
                bytes: vec![5, 0]
            })
        );
    }

    #[test]
    fn values_out_of_range_are_errors() {
        let what = |b: &[u8]| value(b).unwrap_err().what;
        assert_eq!(
            what(&[0x41, 0x05, 1, 0, 0, 0, 0]),
            "snmp: unsigned value out of range"
        );
        assert_eq!(
            what(&[0x43, 0x04, 0xff, 0xff, 0xff, 0xff]),
            "snmp: negative unsigned value"
        );
        assert_eq!(
            what(&[0x02, 0x05, 0, 0x80, 0, 0, 0]),
            "snmp: integer out of 32-bit range"
        );
        assert_eq!(what(&[0x40, 0x03, 1, 2, 3]), "snmp: IpAddress not 4 bytes");
        assert_eq!(
            what(&[0x05, 0x01, 0]),
            "snmp: NULL or exception value with contents"
        );
        assert_eq!(what(&[0x46, 0x00]), "snmp: empty integer");
    }

    #[test]
    fn pdu_kinds_and_shape() {
        // GetBulk, request-id 1, non-repeaters 0, max-repetitions 10, one binding of NULL
        let bulk = [
            0xa5, 0x13, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x0a, 0x30, 0x08, 0x30,
            0x06, 0x06, 0x02, 0x2b, 0x06, 0x05, 0x00,
        ];
        let t = Reader::new(&bulk, 0).next().unwrap();
        let p = Pdu::decode(&t).unwrap();
        assert_eq!(
            (p.kind, p.request_id, p.error_status, p.error_index),
            (PduKind::GetBulk, Some(1), 0, 10)
        );
        assert_eq!(p.varbinds[0].value, Value::Null);
        let mut other = bulk;
        other[0] = 0xa9;
        let p = Pdu::decode(&Reader::new(&other, 0).next().unwrap()).unwrap();
        assert_eq!(p.kind, PduKind::Other(0xa9));
        other[0] = 0x30;
        assert!(Pdu::decode(&Reader::new(&other, 0).next().unwrap()).is_err());
        let tags = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8].map(PduKind::from_tag);
        assert!(tags.iter().all(|k| !matches!(k, PduKind::Other(_))));
        assert_eq!(tags.iter().filter(|k| k.is_notification()).count(), 3);
    }

    #[test]
    fn varbind_count_is_capped() {
        let one = [0x30, 0x06, 0x06, 0x02, 0x2b, 0x06, 0x05, 0x00];
        let list = |n: usize| {
            let body: Vec<u8> = one.iter().copied().cycle().take(8 * n).collect();
            let mut l = vec![0x30, 0x83];
            l.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            l.extend(body);
            l
        };
        assert_eq!(
            varbinds(&mut Reader::new(&list(1024), 0)).unwrap().len(),
            1024
        );
        assert_eq!(
            varbinds(&mut Reader::new(&list(1025), 0)),
            Err(WireError::new(
                "snmp: over 1024 variable bindings",
                5 + 8 * 1024
            ))
        );
    }
}
