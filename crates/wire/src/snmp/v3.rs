//! The SNMPv3 message (RFC 3412 6) with USM security parameters (RFC 3414 2.4): header, authentication,
//! decryption, scoped PDU.

use std::ops::Range;

use super::ber::{self, tag, Reader, Tlv};
use super::pdu::Pdu;
use super::usm::{Iv, LocalKeys, Usm, UsmFailure, UsmReason, MAX_ENGINE_ID_LEN, MAX_USER_NAME_LEN};
use super::SnmpError;
use crate::error::WireError;

/// msgSecurityModel of the User-based Security Model.
pub(crate) const USM: u32 = 3;
pub(crate) const FLAG_AUTH: u8 = 0x01;
pub(crate) const FLAG_PRIV: u8 = 0x02;
pub(crate) const FLAG_REPORTABLE: u8 = 0x04;

/// Ordered from the least to the most protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

/// The v3 header and USM parameters, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Header {
    pub msg_id: u32,
    pub max_size: u32,
    pub flags: u8,
    pub security_model: u32,
    pub level: SecurityLevel,
    pub reportable: bool,
    /// msgAuthoritativeEngineID: the sender's for traps, the receiver's for informs.
    pub engine_id: Vec<u8>,
    pub engine_boots: u32,
    pub engine_time: u32,
    /// Engine boots or time came as a negative INTEGER and were read as the unsigned number of their bytes:
    /// Net-SNMP writes 128..=255 without the leading zero byte (`02 01 dd` for 221), as tshark and agents read it.
    pub lenient_integers: bool,
    pub user: Vec<u8>,
    pub context_engine_id: Vec<u8>,
    pub context_name: Vec<u8>,
}

/// msgGlobalData.
pub(crate) struct Global {
    pub msg_id: u32,
    max_size: u32,
    flags: u8,
    pub level: SecurityLevel,
    model: u32,
}

impl Global {
    pub fn reportable(&self) -> bool {
        self.flags & FLAG_REPORTABLE != 0
    }
}

/// UsmSecurityParameters; `mac` and `salt` borrow the datagram.
pub(crate) struct Security<'a> {
    pub engine_id: &'a [u8],
    pub boots: u32,
    pub time: u32,
    /// Boots or time read leniently (see [`V3Header::lenient_integers`]).
    lenient: bool,
    pub user: &'a [u8],
    pub mac: Tlv<'a>,
    pub salt: &'a [u8],
}

impl Security<'_> {
    /// Where msgAuthenticationParameters are in the datagram.
    pub fn mac_range(&self) -> Range<usize> {
        self.mac.at..self.mac.at + self.mac.value.len()
    }
}

/// A v3 USM message's parts before any key is applied: header, security parameters, msgData.
pub(crate) struct Opened<'a> {
    pub global: Global,
    pub sec: Security<'a>,
    pub data: Tlv<'a>,
}

/// The parts of datagram `p` when it is a well-formed v3 message with USM; `None` otherwise.
pub(crate) fn open(p: &[u8]) -> Option<Opened<'_>> {
    let mut top = Reader::new(p, 0);
    let msg = top.expect(tag::SEQUENCE, "").ok()?;
    top.finish("").ok()?;
    let mut r = msg.reader();
    let version = ber::signed(&r.integer("").ok()?).ok()?;
    if version != 3 {
        return None;
    }
    let global = global(&r.expect(tag::SEQUENCE, "").ok()?).ok()?;
    if global.model != USM {
        return None;
    }
    let sec = security(&r.expect(tag::OCTET_STRING, "").ok()?).ok()?;
    let data = r.next().ok()?;
    r.finish("").ok()?;
    Some(Opened { global, sec, data })
}

/// Where msgAuthenticationParameters are in v3 message `p`.
pub(crate) fn mac_range(p: &[u8]) -> Option<Range<usize>> {
    open(p).map(|o| o.sec.mac_range())
}

/// The parts of a plaintext ScopedPDU: contextEngineID, contextName and the PDU, decoded and as sent.
pub(crate) struct RawScoped<'a> {
    pub context_engine_id: &'a [u8],
    pub context_name: &'a [u8],
    pub pdu: Pdu,
    pdu_element: Tlv<'a>,
}

impl RawScoped<'_> {
    /// The PDU element (its tag and length written again in their shortest form).
    pub fn pdu_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pdu_element.value.len() + 4);
        ber::write::tlv(&mut out, self.pdu_element.tag, self.pdu_element.value);
        out
    }
}

/// Reads a plaintext ScopedPDU from `t` (the first element of decrypted data, whose trailing bytes are
/// padding).
pub(crate) fn raw_scoped<'a>(t: &Tlv<'a>) -> Result<RawScoped<'a>, WireError> {
    if t.tag != tag::SEQUENCE {
        return Err(t.err("snmp: ScopedPDU not a SEQUENCE"));
    }
    let mut r = t.reader();
    let engine = r.expect(
        tag::OCTET_STRING,
        "snmp: contextEngineID not an OCTET STRING",
    )?;
    let name = r.expect(tag::OCTET_STRING, "snmp: contextName not an OCTET STRING")?;
    let pdu_element = r.next()?;
    let pdu = Pdu::decode(&pdu_element)?;
    r.finish("snmp: bytes after the scoped PDU")?;
    Ok(RawScoped {
        context_engine_id: engine.value,
        context_name: name.value,
        pdu,
        pdu_element,
    })
}

/// contextEngineID, contextName and the PDU.
struct Scoped {
    context_engine_id: Vec<u8>,
    context_name: Vec<u8>,
    pdu: Pdu,
}

/// Decodes what follows msgVersion in `msg` (the whole datagram, which authentication covers).
pub(crate) fn decode(
    r: &mut Reader,
    msg: &[u8],
    usm: &mut Usm,
    received: Option<u64>,
) -> Result<(V3Header, Pdu), SnmpError> {
    let global = global(&r.expect(tag::SEQUENCE, "snmp: msgGlobalData not a SEQUENCE")?)?;
    if global.model != USM {
        return Err(SnmpError::UnsupportedSecurityModel(global.model));
    }
    let sec = security(&r.expect(
        tag::OCTET_STRING,
        "snmp: msgSecurityParameters not an OCTET STRING",
    )?)?;
    let data = r.next()?;
    r.finish("snmp: bytes after msgData")?;
    let scoped = match global.level {
        SecurityLevel::NoAuthNoPriv => plaintext(&data)?,
        level => secured(usm, msg, &sec, level, &data, received)?,
    };
    Ok(header(&global, &sec, scoped))
}

fn global(t: &Tlv) -> Result<Global, WireError> {
    let mut r = t.reader();
    let msg_id = uint(&mut r, "snmp: msgID not an INTEGER")?;
    let max_size = uint(&mut r, "snmp: msgMaxSize not an INTEGER")?;
    let flags = r.octets("snmp: msgFlags not an OCTET STRING")?;
    let model = uint(&mut r, "snmp: msgSecurityModel not an INTEGER")?;
    r.finish("snmp: bytes after msgSecurityModel")?;
    let [bits] = flags.value else {
        return Err(flags.err("snmp: msgFlags not one byte"));
    };
    Ok(Global {
        msg_id,
        max_size,
        flags: *bits,
        level: level(*bits, flags.at)?,
        model,
    })
}

/// An INTEGER in `0..=i32::MAX`.
fn uint(r: &mut Reader, what: &'static str) -> Result<u32, WireError> {
    ber::non_negative(&r.integer(what)?)
}

/// Engine boots or time: `0..=i32::MAX`, or up to four bytes with the sign bit set, read as unsigned (the
/// `bool` says so). Senders that drop the leading zero byte mean the unsigned number; refusing the message
/// would be stricter than the receivers they talk to.
fn lenient_uint(r: &mut Reader, what: &'static str) -> Result<(u32, bool), WireError> {
    let t = r.integer(what)?;
    match t.value {
        [first, ..] if first & 0x80 != 0 && t.value.len() <= 4 => {
            let v = t.value.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
            Ok((v, true))
        }
        _ => ber::non_negative(&t).map(|v| (v, false)),
    }
}

/// The security level msgFlags (at offset `at`) asks for.
fn level(flags: u8, at: usize) -> Result<SecurityLevel, WireError> {
    match (flags & FLAG_AUTH != 0, flags & FLAG_PRIV != 0) {
        (false, false) => Ok(SecurityLevel::NoAuthNoPriv),
        (true, false) => Ok(SecurityLevel::AuthNoPriv),
        (true, true) => Ok(SecurityLevel::AuthPriv),
        (false, true) => Err(WireError::new(
            "snmp: msgFlags privacy without authentication",
            at,
        )),
    }
}

fn security<'a>(t: &Tlv<'a>) -> Result<Security<'a>, WireError> {
    let mut outer = t.reader();
    let seq = outer.expect(tag::SEQUENCE, "snmp: UsmSecurityParameters not a SEQUENCE")?;
    outer.finish("snmp: bytes after UsmSecurityParameters")?;
    let mut r = seq.reader();
    let engine_id = bounded(
        r.octets("snmp: engine ID not an OCTET STRING")?,
        MAX_ENGINE_ID_LEN,
    )?;
    let (boots, odd_boots) = lenient_uint(&mut r, "snmp: engine boots not an INTEGER")?;
    let (time, odd_time) = lenient_uint(&mut r, "snmp: engine time not an INTEGER")?;
    let sec = Security {
        engine_id,
        boots,
        time,
        lenient: odd_boots || odd_time,
        user: bounded(
            r.octets("snmp: user name not an OCTET STRING")?,
            MAX_USER_NAME_LEN,
        )?,
        mac: r.octets("snmp: msgAuthenticationParameters not an OCTET STRING")?,
        salt: r
            .octets("snmp: msgPrivacyParameters not an OCTET STRING")?
            .value,
    };
    r.finish("snmp: bytes after msgPrivacyParameters")?;
    Ok(sec)
}

/// The contents of an OCTET STRING of at most `max` bytes.
fn bounded<'a>(t: Tlv<'a>, max: usize) -> Result<&'a [u8], WireError> {
    match t.value.len() <= max {
        true => Ok(t.value),
        false => Err(t.err("snmp: engine ID or user name too long")),
    }
}

/// Authenticates the message, checks its time window and, for authPriv, decrypts the scoped PDU.
fn secured(
    usm: &mut Usm,
    msg: &[u8],
    sec: &Security,
    level: SecurityLevel,
    data: &Tlv,
    received: Option<u64>,
) -> Result<Scoped, SnmpError> {
    let failure = |reason: UsmReason| {
        SnmpError::Usm(UsmFailure {
            reason,
            user: sec.user.to_vec(),
            engine_id: sec.engine_id.to_vec(),
        })
    };
    let privacy = level == SecurityLevel::AuthPriv;
    let keys = usm.keys(sec.user, sec.engine_id).map_err(failure)?;
    keys.require(privacy).map_err(failure)?;
    keys.authenticate(msg, sec.mac.at..sec.mac.at + sec.mac.value.len())
        .map_err(failure)?;
    usm.timely(sec.engine_id, sec.boots, sec.time, received)
        .map_err(failure)?;
    if !privacy {
        return Ok(plaintext(data)?);
    }
    // Looked up again (cached) rather than cloned: the time window needed the USM in between.
    let keys = usm.keys(sec.user, sec.engine_id).map_err(failure)?;
    encrypted(keys, sec, data, failure)
}

/// The scoped PDU of an authPriv message; `failure` names a decryption failure with the user and engine.
fn encrypted(
    keys: &LocalKeys,
    sec: &Security,
    data: &Tlv,
    failure: impl Fn(UsmReason) -> SnmpError,
) -> Result<Scoped, SnmpError> {
    if data.tag != tag::OCTET_STRING {
        return Err(data.err("snmp: encryptedPDU not an OCTET STRING").into());
    }
    let (boots, time) = (sec.boots, sec.time);
    let plain = keys
        .decrypt(Iv { boots, time }, sec.salt, data.value)
        .map_err(&failure)?;
    // Bytes after the scoped PDU are padding. A first element that is not a well-formed SEQUENCE means the
    // key was wrong; errors inside it are the sender's.
    let seq = Reader::new(&plain, data.at)
        .expect(tag::SEQUENCE, "snmp: decrypted data not a SEQUENCE")
        .map_err(|_| failure(UsmReason::DecryptionFailed))?;
    Ok(scoped(&seq)?)
}

fn plaintext(data: &Tlv) -> Result<Scoped, WireError> {
    if data.tag != tag::SEQUENCE {
        return Err(data.err("snmp: plaintext ScopedPDU not a SEQUENCE"));
    }
    scoped(data)
}

fn scoped(t: &Tlv) -> Result<Scoped, WireError> {
    let raw = raw_scoped(t)?;
    Ok(Scoped {
        context_engine_id: raw.context_engine_id.to_vec(),
        context_name: raw.context_name.to_vec(),
        pdu: raw.pdu,
    })
}

fn header(g: &Global, sec: &Security, scoped: Scoped) -> (V3Header, Pdu) {
    let header = V3Header {
        msg_id: g.msg_id,
        max_size: g.max_size,
        flags: g.flags,
        security_model: g.model,
        level: g.level,
        reportable: g.flags & FLAG_REPORTABLE != 0,
        engine_id: sec.engine_id.to_vec(),
        engine_boots: sec.boots,
        engine_time: sec.time,
        lenient_integers: sec.lenient,
        user: sec.user.to_vec(),
        context_engine_id: scoped.context_engine_id,
        context_name: scoped.context_name,
    };
    (header, scoped.pdu)
}
