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
    let msg = ber::peek(p, 0)?;
    if msg.tag != tag::SEQUENCE || msg.start.checked_add(msg.len)? > p.len() {
        return None;
    }
    let version = ber::peek(p, msg.start)?;
    if version.tag != tag::INTEGER || p.get(version.start..version.start + version.len)? != [1] {
        return None;
    }
    let community = ber::peek(p, version.start + version.len)?;
    if community.tag != tag::OCTET_STRING {
        return None;
    }
    let pdu_at = community.start.checked_add(community.len)?;
    let pdu = ber::peek(p, pdu_at)?;
    if pdu.tag != tag::INFORM {
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
    response[pdu_at] = tag::RESPONSE;
    Some(Inform {
        response,
        request_id,
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
