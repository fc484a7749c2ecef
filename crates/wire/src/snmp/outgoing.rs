//! Writing SNMPv3 messages with USM (RFC 3412 6, RFC 3414 2.4): what an authoritative engine answers (Reports,
//! Responses) and what an inform sender sends (discovery probes, informs).
//!
//! The message is written with msgAuthenticationParameters zeroed, then signed in place (RFC 3414 6.3.1 /
//! 7.3.1); the field is found by reading the message back, so writer and reader agree on where it is.

use super::ber::{self, tag, Reader};
use super::usm::{Iv, LocalKeys, SALT_LEN};
use super::v3::{self, SecurityLevel, FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE, USM};

/// msgMaxSize this side states: the largest UDP payload over IPv4.
pub const MAX_SIZE: u32 = 65_507;

/// A v3 message's header and security parameters, as this side writes them.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub msg_id: u32,
    pub reportable: bool,
    /// msgAuthoritativeEngineID: the receiver's for informs and probes, this side's for Reports and Responses.
    pub engine_id: &'a [u8],
    pub boots: u32,
    pub time: u32,
    pub user: &'a [u8],
    pub level: SecurityLevel,
}

/// The message `o` with `scoped` (a ScopedPDU, see [`scoped_pdu`]) authenticated and encrypted as `o.level`
/// asks with `keys`; `salt` must differ between messages encrypted with one key (a counter will do). `None`
/// when the keys do not allow the level.
pub fn encode(o: &Outgoing, keys: Option<&LocalKeys>, salt: u64, scoped: &[u8]) -> Option<Vec<u8>> {
    let keys = match o.level {
        SecurityLevel::NoAuthNoPriv => None,
        level => Some(keys.filter(|k| k.level() >= level)?),
    };
    let (data, salt) = match (o.level, keys) {
        (SecurityLevel::AuthPriv, Some(k)) => {
            let salt = salt_bytes(k, o.boots, salt);
            let iv = Iv {
                boots: o.boots,
                time: o.time,
            };
            let mut data = Vec::new();
            ber::write::tlv(&mut data, tag::OCTET_STRING, &k.encrypt(iv, salt, scoped)?);
            (data, salt.to_vec())
        }
        _ => (scoped.to_vec(), Vec::new()),
    };
    let mac_len = keys.map_or(0, LocalKeys::mac_len);
    let mut out = Vec::with_capacity(data.len() + 128);
    ber::write::nested(&mut out, tag::SEQUENCE, |m| {
        ber::write::integer(m, tag::INTEGER, 3);
        ber::write::nested(m, tag::SEQUENCE, |g| {
            ber::write::integer(g, tag::INTEGER, o.msg_id.into());
            ber::write::integer(g, tag::INTEGER, MAX_SIZE.into());
            ber::write::tlv(g, tag::OCTET_STRING, &[flags(o.level, o.reportable)]);
            ber::write::integer(g, tag::INTEGER, USM.into());
        });
        ber::write::nested(m, tag::OCTET_STRING, |s| {
            ber::write::nested(s, tag::SEQUENCE, |u| {
                ber::write::tlv(u, tag::OCTET_STRING, o.engine_id);
                ber::write::integer(u, tag::INTEGER, o.boots.into());
                ber::write::integer(u, tag::INTEGER, o.time.into());
                ber::write::tlv(u, tag::OCTET_STRING, o.user);
                ber::write::tlv(u, tag::OCTET_STRING, &vec![0; mac_len]);
                ber::write::tlv(u, tag::OCTET_STRING, &salt);
            });
        });
        m.extend_from_slice(&data);
    });
    if let Some(k) = keys {
        let mac = v3::mac_range(&out)?;
        k.sign(&mut out, mac);
    }
    Some(out)
}

fn flags(level: SecurityLevel, reportable: bool) -> u8 {
    let level = match level {
        SecurityLevel::NoAuthNoPriv => 0,
        SecurityLevel::AuthNoPriv => FLAG_AUTH,
        SecurityLevel::AuthPriv => FLAG_AUTH | FLAG_PRIV,
    };
    level | if reportable { FLAG_REPORTABLE } else { 0 }
}

/// msgPrivacyParameters: for DES the engine boots and the low half of the counter (RFC 3414 8.1.1.1), for AES
/// the 64-bit counter (RFC 3826 3.1.2.1).
fn salt_bytes(keys: &LocalKeys, boots: u32, counter: u64) -> [u8; SALT_LEN] {
    if !keys.is_des() {
        return counter.to_be_bytes();
    }
    let mut salt = [0u8; SALT_LEN];
    salt[..4].copy_from_slice(&boots.to_be_bytes());
    salt[4..].copy_from_slice(&(counter as u32).to_be_bytes());
    salt
}

/// A ScopedPDU: contextEngineID, contextName and the PDU (a whole element, tag and length included).
pub fn scoped_pdu(context_engine_id: &[u8], context_name: &[u8], pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pdu.len() + context_engine_id.len() + context_name.len() + 8);
    ber::write::nested(&mut out, tag::SEQUENCE, |s| {
        ber::write::tlv(s, tag::OCTET_STRING, context_engine_id);
        ber::write::tlv(s, tag::OCTET_STRING, context_name);
        s.extend_from_slice(pdu);
    });
    out
}

/// A Report PDU naming one usmStats counter and its value (RFC 3414 3.2, RFC 3412 7.1 step 3).
pub fn report_pdu(request_id: i32, counter: &[u32], value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write::nested(&mut out, tag::REPORT, |p| {
        header_fields(p, request_id);
        ber::write::nested(p, tag::SEQUENCE, |l| {
            ber::write::varbind(l, counter, |v| {
                ber::write::unsigned(v, tag::COUNTER32, value.into())
            });
        });
    });
    out
}

/// A discovery probe (RFC 3414 4): a noAuthNoPriv, reportable GetRequest without bindings, with an empty
/// engine ID and user, which an engine answers with a Report of its ID, boots and time. Its request-id is the
/// msgID.
pub fn discovery_probe(msg_id: u32) -> Vec<u8> {
    let o = Outgoing {
        msg_id,
        reportable: true,
        engine_id: b"",
        boots: 0,
        time: 0,
        user: b"",
        level: SecurityLevel::NoAuthNoPriv,
    };
    let scoped = scoped_pdu(b"", b"", &probe_pdu(msg_id as i32));
    // nothing to sign or encrypt: encoding cannot fail
    encode(&o, None, 0, &scoped).unwrap_or_default()
}

/// A GetRequest without variable bindings.
fn probe_pdu(request_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    ber::write::nested(&mut out, tag::GET, |p| {
        header_fields(p, request_id);
        ber::write::tlv(p, tag::SEQUENCE, &[]);
    });
    out
}

fn header_fields(p: &mut Vec<u8>, request_id: i32) {
    ber::write::integer(p, tag::INTEGER, request_id.into());
    ber::write::integer(p, tag::INTEGER, 0);
    ber::write::integer(p, tag::INTEGER, 0);
}

/// The PDU element `pdu` (an InformRequest, or any PDU of the request-id, error-status, error-index,
/// bindings shape) with tag `to` and request-id `request_id`; the rest is kept byte for byte.
pub fn retag_pdu(pdu: &[u8], to: u8, request_id: i32) -> Option<Vec<u8>> {
    let t = Reader::new(pdu, 0).next().ok()?;
    if t.tag & tag::CLASS_MASK != tag::PDU_CLASS || t.tag == tag::TRAP_V1 {
        return None;
    }
    let mut r = t.reader();
    r.integer("snmp: request-id not an INTEGER").ok()?;
    let rest = &t.value[r.offset() - t.at..];
    let mut out = Vec::with_capacity(pdu.len() + 4);
    ber::write::nested(&mut out, to, |p| {
        ber::write::integer(p, tag::INTEGER, request_id.into());
        p.extend_from_slice(rest);
    });
    Some(out)
}
