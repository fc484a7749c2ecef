//! SNMP messages as a notification receiver sees them: v1 (RFC 1157), v2c (RFC 1901, RFC 3416) and v3 with
//! the User-based Security Model (RFC 3412, RFC 3414, RFC 3826, RFC 7860).
//!
//! [`parse`] decodes one datagram into a [`Message`]. Every PDU type decodes; traps and informs are what the
//! conveniences [`Message::trap_oid`] and [`Message::uptime`] are for. A v3 message without authentication is
//! always decoded; one with authentication (and privacy) only for a user configured in the [`Usm`], whose
//! failures are distinct errors so that callers can count them.
//!
//! The input is hostile: lengths are definite and checked against their parent, OIDs are capped at
//! [`MAX_ARCS`] arcs and the bindings at [`MAX_VARBINDS`]; the structure is walked to a fixed depth (no
//! recursion), and every allocation is a copy of bytes the datagram holds.

pub mod answer;
pub mod ber;
pub mod engine;
pub mod inform;
mod oid;
pub mod outgoing;
mod pdu;
pub mod rewrite;
mod usm;
mod v3;

use ber::{tag, Reader};

use crate::error::WireError;
pub use oid::{Oid, OidParseError, MAX_ARCS};
pub use pdu::{Pdu, PduKind, V1Trap, Value, VarBind, MAX_VARBINDS};
pub use usm::{
    AuthProtocol, LocalKeys, PrivProtocol, UserKeys, Usm, UsmError, UsmFailure, UsmReason, UsmUser,
    MAX_CLOCKS, MAX_ENGINES_PER_USER, MAX_ENGINE_ID_LEN, MAX_USER_NAME_LEN, MIN_PASSWORD_LEN,
};
pub use v3::{SecurityLevel, V3Header};

/// sysUpTime.0
const SYS_UP_TIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTrapOID.0
const SNMP_TRAP_OID: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// snmpTraps: the generic v1 traps map to its arcs 1..=6 (RFC 3584 3.1).
pub(crate) const SNMP_TRAPS: [u32; 9] = [1, 3, 6, 1, 6, 3, 1, 1, 5];
/// The v1 generic-trap value enterpriseSpecific.
pub(crate) const ENTERPRISE_SPECIFIC: i64 = 6;

/// Why a datagram was not decoded. All but `Malformed` are worth a counter of their own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    #[error(transparent)]
    Malformed(#[from] WireError),
    #[error("snmp: unsupported version {0}")]
    UnsupportedVersion(i64),
    #[error("snmp: unsupported security model {0}")]
    UnsupportedSecurityModel(u32),
    /// A well-formed v3 message that could not be read for want of the right keys, or out of its time
    /// window; names the user and the engine.
    #[error("{0}")]
    Usm(UsmFailure),
}

impl SnmpError {
    /// A well-formed v3 message that could not be read for want of the right keys (or out of its window).
    pub fn is_usm(&self) -> bool {
        self.usm_reason().is_some()
    }

    pub fn usm_reason(&self) -> Option<UsmReason> {
        match self {
            Self::Usm(f) => Some(f.reason),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2c,
    V3,
}

/// One decoded message. `community` is set for v1 and v2c, `v3` for v3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub version: Version,
    pub community: Option<Vec<u8>>,
    pub v3: Option<V3Header>,
    pub pdu: Pdu,
}

/// Decodes the SNMP message that makes up datagram `p`; `usm` holds the v3 users (an empty one will do for
/// v1, v2c and unauthenticated v3). Without a receive time, the time window of authenticated messages is
/// judged from the engines' boots and times alone (see [`parse_at`]).
pub fn parse(p: &[u8], usm: &mut Usm) -> Result<Message, SnmpError> {
    parse_received(p, usm, None)
}

/// [`parse`] for a datagram received at `received_secs` (seconds since any fixed origin, e.g. the capture
/// time): an engine's time is then estimated as its latest time plus what elapsed since (RFC 3414 3.2 7b).
pub fn parse_at(p: &[u8], usm: &mut Usm, received_secs: u64) -> Result<Message, SnmpError> {
    parse_received(p, usm, Some(received_secs))
}

fn parse_received(p: &[u8], usm: &mut Usm, received: Option<u64>) -> Result<Message, SnmpError> {
    let mut top = Reader::new(p, 0);
    let msg = top.expect(tag::SEQUENCE, "snmp: message not a SEQUENCE")?;
    top.finish("snmp: bytes after the message")?;
    let mut r = msg.reader();
    let version = ber::signed(&r.expect(tag::INTEGER, "snmp: version not an INTEGER")?)?;
    match version {
        0 => community(Version::V1, &mut r),
        1 => community(Version::V2c, &mut r),
        3 => v3_message(&mut r, p, usm, received),
        v => Err(SnmpError::UnsupportedVersion(v)),
    }
}

fn community(version: Version, r: &mut Reader) -> Result<Message, SnmpError> {
    let community = r.expect(tag::OCTET_STRING, "snmp: community not an OCTET STRING")?;
    let pdu = Pdu::decode(&r.next()?)?;
    r.finish("snmp: bytes after the PDU")?;
    Ok(Message {
        version,
        community: Some(community.value.to_vec()),
        v3: None,
        pdu,
    })
}

fn v3_message(
    r: &mut Reader,
    p: &[u8],
    usm: &mut Usm,
    received: Option<u64>,
) -> Result<Message, SnmpError> {
    let (header, pdu) = v3::decode(r, p, usm, received)?;
    Ok(Message {
        version: Version::V3,
        community: None,
        v3: Some(header),
        pdu,
    })
}

impl Message {
    /// The notification's identity: snmpTrapOID.0 for a v2 trap or inform, the RFC 3584 3.1 mapping of
    /// generic-trap (and enterprise and specific-trap) for a v1 trap; `None` for other PDUs.
    pub fn trap_oid(&self) -> Option<Oid> {
        if let Some(v1) = &self.pdu.v1 {
            return v1_trap_oid(v1);
        }
        if !matches!(self.pdu.kind, PduKind::TrapV2 | PduKind::Inform) {
            return None;
        }
        match self.value_of(&SNMP_TRAP_OID)? {
            Value::ObjectId(oid) => Some(oid.clone()),
            _ => None,
        }
    }

    /// The agent's sysUpTime in hundredths of a second: the v1 time-stamp, else the sysUpTime.0 binding.
    pub fn uptime(&self) -> Option<u32> {
        if let Some(v1) = &self.pdu.v1 {
            return Some(v1.timestamp);
        }
        match self.value_of(&SYS_UP_TIME)? {
            Value::TimeTicks(t) => Some(*t),
            _ => None,
        }
    }

    /// The value of the first binding named `oid`.
    pub fn value_of(&self, oid: &[u32]) -> Option<&Value> {
        let vb = self.pdu.varbinds.iter().find(|vb| vb.oid.arcs() == oid)?;
        Some(&vb.value)
    }
}

/// RFC 3584 3.1: generic traps 0..=5 are snmpTraps.(generic + 1); enterpriseSpecific is
/// enterprise.0.specific-trap.
/// The snmpTrapOID of a v1 trap: the one its RFC 3584 translation carries (one rule for decode, routing and
/// forward's translation; generic-trap 7 and up give snmpTraps.8 and up).
fn v1_trap_oid(t: &V1Trap) -> Option<Oid> {
    rewrite::translated_trap_oid(t).ok()
}

#[cfg(test)]
mod tests;
