//! Acknowledging an SNMPv2c InformRequest where sekiwake is the address it was sent to.
//!
//! RFC 3416 §4.2.7: the receiver of an InformRequest answers with a Response carrying the same request-id and
//! variable-bindings, error-status and error-index 0. A v2c message is community, then the PDU; so the
//! Response is the inform's own bytes with its PDU tag changed, when its error fields are 0 (as a sender
//! writes them). The lengths do not change, so nothing is re-encoded.

use super::ber::{self, integer_value, tag};

/// A v2c InformRequest: what acknowledges it and what tells a sender's retry from a new inform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inform {
    /// The Response to send back to the inform's source.
    pub response: Vec<u8>,
    pub request_id: i64,
}

/// The [`Inform`] of a v2c InformRequest; `None` for anything else (another version or PDU, a header that does
/// not read, an error field that is not 0).
pub fn v2c_inform(p: &[u8]) -> Option<Inform> {
    let (version, at_pdu, pdu) = pdu_at(p)?;
    if version != V2C || pdu.tag != tag::INFORM {
        return None;
    }
    let mut at = pdu.start;
    let mut integer = || {
        let h = ber::peek(p, at)?;
        let bytes = p.get(h.start..h.start.checked_add(h.len)?)?;
        at = h.start + h.len;
        (h.tag == tag::INTEGER)
            .then(|| integer_value(bytes))
            .flatten()
    };
    let request_id = integer()?;
    let (error_status, error_index) = (integer()?, integer()?);
    if (error_status, error_index) != (0, 0) {
        return None;
    }
    let mut response = p.to_vec();
    response[at_pdu] = tag::RESPONSE;
    Some(Inform {
        response,
        request_id,
    })
}

/// The version field of a v2c message.
const V2C: u8 = 1;

/// A v1/v2c message's version, where its PDU starts, and the PDU's header (tag, where its contents start).
fn pdu_at(p: &[u8]) -> Option<(u8, usize, ber::Header)> {
    let msg = ber::peek(p, 0)?;
    if msg.tag != tag::SEQUENCE || msg.start.checked_add(msg.len)? > p.len() {
        return None;
    }
    let version = ber::peek(p, msg.start)?;
    let v = match p.get(version.start..version.start + version.len)? {
        [v @ (0 | 1)] if version.tag == tag::INTEGER => *v,
        _ => return None,
    };
    let community = ber::peek(p, version.start + version.len)?;
    if community.tag != tag::OCTET_STRING {
        return None;
    }
    let at = community.start.checked_add(community.len)?;
    Some((v, at, ber::peek(p, at)?))
}

/// The request-id of a v1/v2c Response (what a receiver acknowledging an inform sends back).
pub fn response_id(p: &[u8]) -> Option<i64> {
    let (_, _, pdu) = pdu_at(p)?;
    let id = ber::peek(p, pdu.start)?;
    let bytes = p.get(id.start..id.start.checked_add(id.len)?)?;
    (pdu.tag == tag::RESPONSE && id.tag == tag::INTEGER)
        .then(|| integer_value(bytes))
        .flatten()
}

/// A v2c InformRequest with its request-id replaced: a relay delivers an inform as its own request, so that
/// the receiver's Response names exactly one inform in flight. The rest of the message is kept byte for
/// byte; only the lengths around the request-id are encoded again.
pub fn with_request_id(p: &[u8], request_id: i32) -> Option<Vec<u8>> {
    let (version, at, pdu) = pdu_at(p)?;
    if version != V2C || pdu.tag != tag::INFORM {
        return None;
    }
    let id = ber::peek(p, pdu.start)?;
    let after_id = id.start.checked_add(id.len)?;
    let pdu_end = pdu.start.checked_add(pdu.len)?;
    if id.tag != tag::INTEGER || after_id > pdu_end || pdu_end > p.len() {
        return None;
    }
    let mut out = Vec::with_capacity(p.len() + 8);
    ber::write::nested(&mut out, tag::SEQUENCE, |out| {
        out.extend_from_slice(&p[ber::peek(p, 0).map_or(0, |m| m.start)..at]);
        ber::write::nested(out, tag::INFORM, |out| {
            ber::write::integer(out, tag::INTEGER, i64::from(request_id));
            out.extend_from_slice(&p[after_id..pdu_end]);
        });
    });
    Some(out)
}

/// An inform as a relay sends it on as its own: the contextEngineID and contextName (empty for v2c) and the
/// InformRequest PDU element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub context_engine_id: Vec<u8>,
    pub context_name: Vec<u8>,
    pub pdu: Vec<u8>,
}

/// The [`Notification`] of a v2c InformRequest, or of a v3 one in clear (as capture publishes the informs its
/// engine took); `None` for anything else.
pub fn notification(p: &[u8]) -> Option<Notification> {
    if let Some((version, at, pdu)) = pdu_at(p) {
        let end = pdu.start.checked_add(pdu.len)?;
        let element = p
            .get(at..end)
            .filter(|_| version == V2C && pdu.tag == tag::INFORM)?;
        return Some(Notification {
            context_engine_id: Vec::new(),
            context_name: Vec::new(),
            pdu: element.to_vec(),
        });
    }
    let msg = super::v3::open(p)?;
    if msg.global.level != super::SecurityLevel::NoAuthNoPriv {
        return None;
    }
    let scoped = super::v3::raw_scoped(&msg.data).ok()?;
    (scoped.pdu.kind == super::PduKind::Inform).then(|| Notification {
        context_engine_id: scoped.context_engine_id.to_vec(),
        context_name: scoped.context_name.to_vec(),
        pdu: scoped.pdu_bytes(),
    })
}

/// An inform (v2c, or v3 in clear) as a v2c Trap with `community`, `request_id` and the inform's bindings:
/// what an RFC 3584 §4.2 proxy makes of a v3 notification for a v2c receiver.
pub fn as_v2c_trap(p: &[u8], community: &[u8], request_id: i32) -> Option<Vec<u8>> {
    let n = notification(p)?;
    let pdu = super::outgoing::retag_pdu(&n.pdu, tag::TRAP_V2, request_id)?;
    let mut out = Vec::with_capacity(pdu.len() + community.len() + 8);
    ber::write::nested(&mut out, tag::SEQUENCE, |m| {
        ber::write::integer(m, tag::INTEGER, V2C.into());
        ber::write::tlv(m, tag::OCTET_STRING, community);
        m.extend_from_slice(&pdu);
    });
    Some(out)
}

/// A v2c InformRequest as a v2c Trap (same request-id and varbinds), for a destination that takes traps.
pub fn as_trap(p: &[u8]) -> Option<Vec<u8>> {
    let (version, at, pdu) = pdu_at(p)?;
    (version == V2C && pdu.tag == tag::INFORM).then(|| {
        let mut out = p.to_vec();
        out[at] = tag::TRAP_V2;
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v2c InformRequest, community "public", request-id 0x1234, one varbind sysUpTime.0 = TimeTicks 5.
    const INFORM: [u8; 37] = [
        0x30, 0x23, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa6, 0x16,
        0x02, 0x02, 0x12, 0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0a, 0x30, 0x08, 0x06,
        0x03, 0x2b, 0x06, 0x01, 0x43, 0x01, 0x05,
    ];

    #[test]
    fn the_response_is_the_inform_with_its_pdu_type_changed() {
        let i = v2c_inform(&INFORM).unwrap();
        assert_eq!(i.request_id, 0x1234);
        let mut want = INFORM;
        want[13] = tag::RESPONSE;
        assert_eq!(i.response, want);
        let parsed = crate::snmp::parse(&i.response, &mut crate::snmp::Usm::default()).unwrap();
        assert_eq!(parsed.pdu.kind, crate::snmp::PduKind::Response);
        assert_eq!(parsed.pdu.request_id, Some(0x1234));
    }

    #[test]
    fn a_relayed_inform_gets_its_own_request_id() {
        for id in [0, 1, 0x7f, 0x80, 0x1234_5678, i32::MAX, -5] {
            let out = with_request_id(&INFORM, id).unwrap();
            let m = crate::snmp::parse(&out, &mut crate::snmp::Usm::default()).unwrap();
            let orig = crate::snmp::parse(&INFORM, &mut crate::snmp::Usm::default()).unwrap();
            assert_eq!(m.pdu.kind, crate::snmp::PduKind::Inform);
            assert_eq!(m.pdu.request_id, Some(id), "{id}");
            assert_eq!(
                (m.community.clone(), m.pdu.varbinds.clone()),
                (orig.community, orig.pdu.varbinds)
            );
            let response = v2c_inform(&out).unwrap().response;
            assert_eq!(response_id(&response), Some(i64::from(id)));
        }
        assert_eq!(
            with_request_id(&INFORM, 0x1234).unwrap(),
            INFORM,
            "same id, same bytes"
        );
        assert_eq!(response_id(&INFORM), None, "an inform is not a response");
        let trap = as_trap(&INFORM).unwrap();
        assert_eq!(trap[13], tag::TRAP_V2);
        assert_eq!(as_trap(&trap), None);
        for cut in 0..INFORM.len() {
            assert_eq!(with_request_id(&INFORM[..cut], 1), None, "cut at {cut}");
        }
    }

    #[test]
    fn anything_else_gets_no_response() {
        let mut trap = INFORM;
        trap[13] = tag::TRAP_V2;
        assert_eq!(v2c_inform(&trap), None);
        let mut v1 = INFORM;
        v1[4] = 0;
        assert_eq!(v2c_inform(&v1), None);
        let mut erred = INFORM;
        erred[21] = 5;
        assert_eq!(v2c_inform(&erred), None, "error-status not 0");
        for cut in 0..INFORM.len() - 12 {
            assert_eq!(v2c_inform(&INFORM[..cut]), None, "cut at {cut}");
        }
    }
}
