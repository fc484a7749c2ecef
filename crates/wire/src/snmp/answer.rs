//! Reading what an authoritative engine answers a v3 inform sender: a Response acknowledging an inform, or a
//! Report (its engine ID, boots and time after a discovery probe; a usmStats counter after a refusal).

use super::ber::{tag, Reader};
use super::usm::{Iv, LocalKeys};
use super::v3::{self, SecurityLevel};

/// usmStats (RFC 3414 5).
const USM_STATS: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Response,
    /// A Report; the last-but-one arc of its first binding when that is a usmStats counter (RFC 3414 5:
    /// 1 unsupported level, 2 not in time window, 3 unknown user, 4 unknown engine ID, 5 wrong digest,
    /// 6 decryption error).
    Report(Option<u32>),
    /// Another PDU, or one that could not be read.
    Other,
}

/// An engine's answer to a v3 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub msg_id: u32,
    pub engine_id: Vec<u8>,
    pub boots: u32,
    pub time: u32,
    pub level: SecurityLevel,
    pub kind: AnswerKind,
}

/// The answer in datagram `p`: `None` for anything but a well-formed v3 USM message, or for an authenticated
/// one that `keys` (the sender's, localised to the answering engine) do not authenticate. An encrypted scoped
/// PDU is read with `keys` when they can; otherwise its kind is `Other`.
pub fn read(p: &[u8], keys: Option<&LocalKeys>) -> Option<Answer> {
    let msg = v3::open(p)?;
    let level = msg.global.level;
    if level != SecurityLevel::NoAuthNoPriv {
        let keys = keys?;
        keys.authenticate(p, msg.sec.mac_range()).ok()?;
    }
    let decrypted;
    let data = match (level, keys) {
        (SecurityLevel::AuthPriv, Some(k)) if msg.data.tag == tag::OCTET_STRING => {
            let iv = Iv {
                boots: msg.sec.boots,
                time: msg.sec.time,
            };
            decrypted = k.decrypt(iv, msg.sec.salt, msg.data.value).ok();
            decrypted
                .as_deref()
                .and_then(|d| Reader::new(d, 0).next().ok())
        }
        (SecurityLevel::AuthPriv, _) => None,
        _ => Some(msg.data),
    };
    let kind = data
        .and_then(|t| v3::raw_scoped(&t).ok())
        .map_or(AnswerKind::Other, |s| match s.pdu.kind {
            super::PduKind::Response => AnswerKind::Response,
            super::PduKind::Report => AnswerKind::Report(usm_stats_arc(&s.pdu)),
            _ => AnswerKind::Other,
        });
    Some(Answer {
        msg_id: msg.global.msg_id,
        engine_id: msg.sec.engine_id.to_vec(),
        boots: msg.sec.boots,
        time: msg.sec.time,
        level,
        kind,
    })
}

fn usm_stats_arc(pdu: &super::Pdu) -> Option<u32> {
    let arcs = pdu.varbinds.first()?.oid.arcs();
    match arcs.strip_prefix(USM_STATS.as_slice())? {
        [arc, 0] => Some(*arc),
        _ => None,
    }
}
