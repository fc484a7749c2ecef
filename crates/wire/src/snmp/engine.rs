//! An authoritative SNMPv3 engine for the one thing a notification relay is asked: informs sent to it (RFC 3414
//! 3.2 as the receiving side, RFC 3413 4 as a notification receiver).
//!
//! A v3 message whose msgAuthoritativeEngineID is empty is a discovery probe: answered with a Report of
//! usmStatsUnknownEngineIDs carrying this engine's ID, boots and time. One whose engine ID is this engine's
//! goes through USM in RFC order (user, security level, digest, time window, decryption; each failure
//! answered with its usmStats Report when the sender asked for reports); an InformRequest that passes is
//! answered with an authenticated (and encrypted, at its level) Response, and handed over as a plaintext v3
//! message so that subscribers without this engine's keys can read and deliver it. Anything else (v1, v2c, a
//! v3 trap, which carries its sender's engine ID) is not this engine's business.

use super::ber::{tag, Reader};
use super::outgoing::{self, Outgoing};
use super::pdu::PduKind;
use super::usm::{Iv, LocalKeys, Usm, UsmError, UsmUser, MAX_ENGINE_ID_LEN};
use super::v3::{self, Opened, SecurityLevel};

/// RFC 3414 3.2 step 7a: an authoritative engine accepts messages within 150 s of its own time.
const TIME_WINDOW_SECS: u32 = 150;
/// usmStats (RFC 3414 5): the counters a Report names.
const USM_STATS: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];

/// Boots for an engine that starts now: the Unix time in seconds, which grows from one start to the next as
/// RFC 3414 2.2.2 asks, with no state file to keep (valid until 2038, when it reaches 2^31 - 1).
pub fn boots_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().clamp(1, i32::MAX as u64 - 1) as u32)
}

/// Where a privacy salt counter starts: the time in nanoseconds and the process ID, so that two runs with one
/// key do not repeat salts.
pub fn salt_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Why a message for this engine was answered with a Report or not taken at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A discovery probe (empty engine ID): the answer tells this engine's ID, boots and time.
    Discovery,
    UnknownUser,
    UnsupportedSecurityLevel,
    WrongDigest,
    NotInTimeWindow,
    DecryptionFailed,
    /// Well-formed and authentic, but not an InformRequest (a manager's request: this engine has no MIB).
    NotAnInform,
    /// The scoped PDU does not read.
    Malformed,
}

impl Refusal {
    /// A short name, as counters spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::UnknownUser => "unknown_user",
            Self::UnsupportedSecurityLevel => "unsupported_security_level",
            Self::WrongDigest => "wrong_digest",
            Self::NotInTimeWindow => "not_in_time_window",
            Self::DecryptionFailed => "decryption_failed",
            Self::NotAnInform => "not_an_inform",
            Self::Malformed => "malformed",
        }
    }

    /// The usmStats counter's last arc (RFC 3414 5) of the Report that answers it.
    fn counter(self) -> Option<u32> {
        Some(match self {
            Self::UnsupportedSecurityLevel => 1,
            Self::NotInTimeWindow => 2,
            Self::UnknownUser => 3,
            Self::Discovery => 4,
            Self::WrongDigest => 5,
            Self::DecryptionFailed => 6,
            Self::NotAnInform | Self::Malformed => return None,
        })
    }
}

/// What the engine makes of one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a v3 message for this engine: relayed as it is.
    NotForUs,
    /// An inform for this engine: publish `plain` (the same notification as a noAuthNoPriv v3 message: this
    /// engine's ID, the sender's msgID, user, boots and time, the scoped PDU in clear), then send `response`.
    Inform {
        plain: Vec<u8>,
        response: Vec<u8>,
        request_id: i32,
    },
    /// For this engine but not taken: `report` is the answer to send back, if the sender asked for one.
    Refused {
        reason: Refusal,
        report: Option<Vec<u8>>,
    },
}

/// The engine: its ID, boots, users (their keys localised to this engine) and usmStats counters.
#[derive(Debug)]
pub struct Engine {
    id: Vec<u8>,
    boots: u32,
    usm: Usm,
    /// The counters the Reports carry, by [`Refusal::counter`] arc.
    stats: [u32; 7],
    salt: u64,
}

impl Engine {
    /// An engine with `id` (1 to 32 bytes), in its `boots`th life, taking informs from `users` (their
    /// `engine_id`, if any, is ignored: they are this engine's users). `salt_seed` starts the privacy salts.
    pub fn new(
        id: Vec<u8>,
        boots: u32,
        users: Vec<UsmUser>,
        salt_seed: u64,
    ) -> Result<Self, UsmError> {
        if !(1..=MAX_ENGINE_ID_LEN).contains(&id.len()) {
            return Err(UsmError::BadEngineId(super::usm::hex(&id)));
        }
        let users = users
            .into_iter()
            .map(|u| UsmUser {
                engine_id: None,
                ..u
            })
            .collect();
        Ok(Self {
            id,
            boots,
            usm: Usm::new(users)?,
            stats: [0; 7],
            salt: salt_seed,
        })
    }

    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// Takes datagram `p`, received when this engine's time (seconds since it started) was `now`.
    pub fn receive(&mut self, p: &[u8], now: u32) -> Outcome {
        let Some(msg) = v3::open(p) else {
            return Outcome::NotForUs;
        };
        if msg.sec.engine_id.is_empty() {
            return self.refuse(&msg, Refusal::Discovery, None, now);
        }
        if msg.sec.engine_id != self.id.as_slice() {
            return Outcome::NotForUs;
        }
        match self.authentic(p, &msg, now) {
            Ok(keys) => self.take(&msg, &keys, now),
            Err(refusal) => refusal,
        }
    }

    /// RFC 3414 3.2 steps 4 to 7: the keys of an authentic, timely message, or the refusal.
    fn authentic(&mut self, p: &[u8], msg: &Opened, now: u32) -> Result<LocalKeys, Outcome> {
        let keys = match self.usm.keys(msg.sec.user, &self.id) {
            Ok(k) => k.clone(),
            Err(_) => return Err(self.refuse(msg, Refusal::UnknownUser, None, now)),
        };
        if !accepted(keys.level(), msg.global.level) {
            return Err(self.refuse(msg, Refusal::UnsupportedSecurityLevel, None, now));
        }
        if msg.global.level == SecurityLevel::NoAuthNoPriv {
            return Ok(keys);
        }
        if keys.authenticate(p, msg.sec.mac_range()).is_err() {
            return Err(self.refuse(msg, Refusal::WrongDigest, None, now));
        }
        if msg.sec.boots != self.boots || msg.sec.time.abs_diff(now) > TIME_WINDOW_SECS {
            // Authenticated, so that the sender can trust the boots and time it carries (RFC 3414 3.2 7a).
            return Err(self.refuse(msg, Refusal::NotInTimeWindow, Some(&keys), now));
        }
        Ok(keys)
    }

    /// Decrypts if need be and answers an inform.
    fn take(&mut self, msg: &Opened, keys: &LocalKeys, now: u32) -> Outcome {
        let decrypted;
        let data = match msg.global.level {
            SecurityLevel::AuthPriv => {
                let Some(d) = decrypt(msg, keys) else {
                    return self.refuse(msg, Refusal::DecryptionFailed, None, now);
                };
                decrypted = d;
                Reader::new(&decrypted, 0).next().ok()
            }
            _ => Some(msg.data),
        };
        let Some(scoped) = data.and_then(|t| v3::raw_scoped(&t).ok()) else {
            let reason = match msg.global.level {
                SecurityLevel::AuthPriv => Refusal::DecryptionFailed,
                _ => Refusal::Malformed,
            };
            return self.refuse(msg, reason, None, now);
        };
        let request_id = scoped.pdu.request_id.unwrap_or(0);
        if scoped.pdu.kind != PduKind::Inform {
            return self.refuse(msg, Refusal::NotAnInform, None, now);
        }
        let pdu = scoped.pdu_bytes();
        let plain = self.in_clear(msg, &scoped, &pdu);
        let response = outgoing::retag_pdu(&pdu, tag::RESPONSE, request_id).and_then(|pdu| {
            let answer = outgoing::scoped_pdu(scoped.context_engine_id, scoped.context_name, &pdu);
            self.answer(msg, msg.global.level, Some(keys), now, &answer)
        });
        match (plain, response) {
            (Some(plain), Some(response)) => Outcome::Inform {
                plain,
                response,
                request_id,
            },
            _ => self.refuse(msg, Refusal::Malformed, None, now),
        }
    }

    /// The inform as a noAuthNoPriv message: this engine's ID, the sender's msgID, user, boots and time.
    fn in_clear(&self, msg: &Opened, scoped: &v3::RawScoped, pdu: &[u8]) -> Option<Vec<u8>> {
        let clear = outgoing::scoped_pdu(scoped.context_engine_id, scoped.context_name, pdu);
        let o = Outgoing {
            msg_id: msg.global.msg_id,
            reportable: false,
            engine_id: &self.id,
            boots: msg.sec.boots,
            time: msg.sec.time,
            user: msg.sec.user,
            level: SecurityLevel::NoAuthNoPriv,
        };
        outgoing::encode(&o, None, 0, &clear)
    }

    /// Counts a refusal and writes its Report when the sender asked for reports: authenticated with `keys`,
    /// else in clear.
    fn refuse(
        &mut self,
        msg: &Opened,
        reason: Refusal,
        keys: Option<&LocalKeys>,
        now: u32,
    ) -> Outcome {
        let Some(arc) = reason.counter() else {
            return Outcome::Refused {
                reason,
                report: None,
            };
        };
        let count = &mut self.stats[arc as usize];
        *count = count.wrapping_add(1);
        let value = *count;
        let report = match msg.global.reportable() {
            true => self.report(msg, arc, value, keys, now),
            false => None,
        };
        Outcome::Refused { reason, report }
    }

    /// A Report of usmStats.`arc` = `value` for `msg`: noAuthNoPriv, or authNoPriv with `keys`. Its
    /// request-id is the message's when it can be read without keys (RFC 3412 7.1 step 3), else 0.
    fn report(
        &mut self,
        msg: &Opened,
        arc: u32,
        value: u32,
        keys: Option<&LocalKeys>,
        now: u32,
    ) -> Option<Vec<u8>> {
        let mut counter = USM_STATS.to_vec();
        counter.extend([arc, 0]);
        let request_id = match msg.global.level {
            SecurityLevel::AuthPriv => 0,
            _ => v3::raw_scoped(&msg.data)
                .ok()
                .and_then(|s| s.pdu.request_id)
                .unwrap_or(0),
        };
        let pdu = outgoing::report_pdu(request_id, &counter, value);
        let scoped = outgoing::scoped_pdu(&self.id, b"", &pdu);
        let level = match keys {
            Some(_) => SecurityLevel::AuthNoPriv,
            None => SecurityLevel::NoAuthNoPriv,
        };
        self.answer(msg, level, keys, now, &scoped)
    }

    /// An answer to `msg` (same msgID and user) from this engine at `level`.
    fn answer(
        &mut self,
        msg: &Opened,
        level: SecurityLevel,
        keys: Option<&LocalKeys>,
        now: u32,
        scoped: &[u8],
    ) -> Option<Vec<u8>> {
        self.salt = self.salt.wrapping_add(1);
        outgoing::encode(
            &Outgoing {
                msg_id: msg.global.msg_id,
                reportable: false,
                engine_id: &self.id,
                boots: self.boots,
                time: now,
                user: msg.sec.user,
                level,
            },
            keys,
            self.salt,
            scoped,
        )
    }
}

/// Whether a user whose keys allow `user` takes a message at `message`: at its own level, or authNoPriv from
/// a user with privacy. A user with passwords takes nothing unauthenticated: that is the relay's only access
/// control.
fn accepted(user: SecurityLevel, message: SecurityLevel) -> bool {
    user == message || (user == SecurityLevel::AuthPriv && message == SecurityLevel::AuthNoPriv)
}

/// The decrypted msgData of an authPriv message.
fn decrypt(msg: &Opened, keys: &LocalKeys) -> Option<Vec<u8>> {
    let iv = Iv {
        boots: msg.sec.boots,
        time: msg.sec.time,
    };
    (msg.data.tag == tag::OCTET_STRING)
        .then(|| keys.decrypt(iv, msg.sec.salt, msg.data.value).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::answer::{self, AnswerKind};
    use crate::snmp::ber;
    use crate::snmp::{parse, AuthProtocol, PrivProtocol, UserKeys, Value};

    const ENGINE: &[u8] = &[0x80, 0, 0x1f, 0x88, 0x04, b's', b'k', b'w'];
    const BOOTS: u32 = 7;

    fn user(auth: Option<AuthProtocol>, privacy: Option<PrivProtocol>) -> UsmUser {
        UsmUser {
            name: b"relay".to_vec(),
            engine_id: None,
            auth: auth.map(|a| (a, b"authpass123".to_vec())),
            privacy: privacy.map(|p| (p, b"privpass123".to_vec())),
        }
    }

    fn engine(u: UsmUser) -> Engine {
        Engine::new(ENGINE.to_vec(), BOOTS, vec![u], 1).unwrap()
    }

    /// An InformRequest with sysUpTime, snmpTrapOID and one string.
    fn inform_pdu(request_id: i32) -> Vec<u8> {
        let mut out = Vec::new();
        ber::write::nested(&mut out, tag::INFORM, |p| {
            ber::write::integer(p, tag::INTEGER, request_id.into());
            ber::write::integer(p, tag::INTEGER, 0);
            ber::write::integer(p, tag::INTEGER, 0);
            ber::write::nested(p, tag::SEQUENCE, |l| {
                ber::write::varbind(l, &[1, 3, 6, 1, 2, 1, 1, 3, 0], |v| {
                    ber::write::unsigned(v, tag::TIMETICKS, 42)
                });
                ber::write::varbind(l, &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0], |v| {
                    ber::write::oid(v, &[1, 3, 6, 1, 6, 3, 1, 1, 5, 3])
                });
                ber::write::varbind(l, &[1, 3, 6, 1, 4, 1, 99999, 1], |v| {
                    ber::write::tlv(v, tag::OCTET_STRING, b"hello")
                });
            });
        });
        out
    }

    /// What a sender writes: `pdu` from `u` to `engine_id` at `level`, at the given boots and time.
    fn sent(
        u: &UsmUser,
        level: SecurityLevel,
        engine_id: &[u8],
        when: (u32, u32),
        pdu: &[u8],
    ) -> Vec<u8> {
        let keys = UserKeys::new(u).unwrap().localise(engine_id);
        let o = Outgoing {
            msg_id: 1000,
            reportable: true,
            engine_id,
            boots: when.0,
            time: when.1,
            user: &u.name,
            level,
        };
        outgoing::encode(
            &o,
            Some(&keys),
            99,
            &outgoing::scoped_pdu(engine_id, b"ctx", pdu),
        )
        .unwrap()
    }

    fn refused(o: Outcome) -> (Refusal, Option<Vec<u8>>) {
        match o {
            Outcome::Refused { reason, report } => (reason, report),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn discovery_is_answered_with_the_engine_id_boots_and_time() {
        let u = user(Some(AuthProtocol::HmacSha), None);
        let mut e = engine(u.clone());
        let probe = outgoing::discovery_probe(77);
        let (reason, report) = refused(e.receive(&probe, 300));
        assert_eq!(reason, Refusal::Discovery);
        let a = answer::read(&report.clone().unwrap(), None).unwrap();
        assert_eq!(
            (a.msg_id, a.engine_id.as_slice(), a.boots, a.time, a.kind),
            (77, ENGINE, BOOTS, 300, AnswerKind::Report(Some(4)))
        );
        let m = parse(&report.unwrap(), &mut Usm::default()).unwrap();
        assert_eq!(
            m.pdu.request_id,
            Some(77),
            "the probe's request-id is echoed"
        );
        assert_eq!(m.pdu.varbinds[0].value, Value::Counter32(1));
    }

    #[test]
    fn every_level_and_algorithm_gets_its_inform_through_and_an_answer_the_sender_reads() {
        let cases = [
            (Some(AuthProtocol::HmacMd5), None),
            (Some(AuthProtocol::HmacSha), Some(PrivProtocol::Des)),
            (
                Some(AuthProtocol::HmacSha224),
                Some(PrivProtocol::Aes128Cfb),
            ),
            (
                Some(AuthProtocol::HmacSha256),
                Some(PrivProtocol::Aes192Cfb),
            ),
            (
                Some(AuthProtocol::HmacSha384),
                Some(PrivProtocol::Aes256CfbCisco),
            ),
            (
                Some(AuthProtocol::HmacSha512),
                Some(PrivProtocol::Aes256Cfb),
            ),
            (None, None),
        ];
        for (auth, privacy) in cases {
            let u = user(auth, privacy);
            let level = UserKeys::new(&u).unwrap().level();
            let mut e = engine(u.clone());
            let msg = sent(&u, level, ENGINE, (BOOTS, 1000), &inform_pdu(31));
            // the existing decoder (checked against Net-SNMP) reads what the sender side writes
            let mut usm = Usm::new(vec![u.clone()]).unwrap();
            assert_eq!(
                parse(&msg, &mut usm).unwrap().pdu.request_id,
                Some(31),
                "{auth:?} {privacy:?}"
            );
            let Outcome::Inform {
                plain,
                response,
                request_id,
            } = e.receive(&msg, 1010)
            else {
                panic!("{auth:?} {privacy:?}: not taken");
            };
            assert_eq!(request_id, 31);
            let clear = parse(&plain, &mut Usm::default()).unwrap();
            let v3 = clear.v3.as_ref().unwrap();
            assert_eq!(
                (v3.level, v3.msg_id, v3.engine_id.as_slice()),
                (SecurityLevel::NoAuthNoPriv, 1000, ENGINE)
            );
            assert_eq!(
                (clear.pdu.kind, clear.pdu.varbinds.len()),
                (PduKind::Inform, 3)
            );
            assert_eq!(v3.context_name, b"ctx");
            let keys = UserKeys::new(&u).unwrap().localise(ENGINE);
            let a = answer::read(&response, Some(&keys)).unwrap();
            assert_eq!(
                (a.msg_id, a.level, a.kind, a.time),
                (1000, level, AnswerKind::Response, 1010)
            );
            let r = parse(&response, &mut usm).unwrap();
            assert_eq!(
                (r.pdu.kind, r.pdu.request_id, r.pdu.varbinds.len()),
                (PduKind::Response, Some(31), 3)
            );
        }
    }

    #[test]
    fn usm_failures_are_reported_in_rfc_order() {
        let u = user(
            Some(AuthProtocol::HmacSha256),
            Some(PrivProtocol::Aes128Cfb),
        );
        let mut e = engine(u.clone());
        let ok = (BOOTS, 500);
        let level = SecurityLevel::AuthPriv;

        let stranger = UsmUser {
            name: b"stranger".to_vec(),
            ..u.clone()
        };
        let (r, report) =
            refused(e.receive(&sent(&stranger, level, ENGINE, ok, &inform_pdu(1)), 500));
        assert_eq!(r, Refusal::UnknownUser);
        let a = answer::read(&report.unwrap(), None).unwrap();
        assert_eq!(a.kind, AnswerKind::Report(Some(3)));

        let weaker = user(Some(AuthProtocol::HmacSha256), None);
        let msg = sent(
            &weaker,
            SecurityLevel::AuthNoPriv,
            ENGINE,
            ok,
            &inform_pdu(1),
        );
        assert!(
            matches!(e.receive(&msg, 500), Outcome::Inform { .. }),
            "authNoPriv from a user with privacy"
        );
        let none = sent(
            &user(None, None),
            SecurityLevel::NoAuthNoPriv,
            ENGINE,
            ok,
            &inform_pdu(1),
        );
        assert_eq!(
            refused(e.receive(&none, 500)).0,
            Refusal::UnsupportedSecurityLevel
        );

        let other_password = UsmUser {
            auth: Some((AuthProtocol::HmacSha256, b"otherpass1".to_vec())),
            ..u.clone()
        };
        let (r, report) = refused(e.receive(
            &sent(&other_password, level, ENGINE, ok, &inform_pdu(1)),
            500,
        ));
        assert_eq!(r, Refusal::WrongDigest);
        assert_eq!(
            answer::read(&report.unwrap(), None).unwrap().kind,
            AnswerKind::Report(Some(5))
        );

        for late in [(BOOTS, 500 + 151), (BOOTS - 1, 500), (BOOTS + 1, 500)] {
            let (r, report) =
                refused(e.receive(&sent(&u, level, ENGINE, late, &inform_pdu(1)), 500));
            assert_eq!(r, Refusal::NotInTimeWindow, "{late:?}");
            let keys = UserKeys::new(&u).unwrap().localise(ENGINE);
            let report = report.unwrap();
            assert!(
                answer::read(&report, None).is_none(),
                "authenticated: not read without keys"
            );
            let a = answer::read(&report, Some(&keys)).unwrap();
            assert_eq!(
                (a.kind, a.boots, a.time, a.level),
                (
                    AnswerKind::Report(Some(2)),
                    BOOTS,
                    500,
                    SecurityLevel::AuthNoPriv
                )
            );
        }
        assert!(matches!(
            e.receive(&sent(&u, level, ENGINE, (BOOTS, 650), &inform_pdu(1)), 500),
            Outcome::Inform { .. }
        ));

        let other_privacy = UsmUser {
            privacy: Some((PrivProtocol::Aes128Cfb, b"otherpriv1".to_vec())),
            ..u.clone()
        };
        let (r, report) = refused(e.receive(
            &sent(&other_privacy, level, ENGINE, ok, &inform_pdu(1)),
            500,
        ));
        assert_eq!(r, Refusal::DecryptionFailed);
        assert_eq!(
            answer::read(&report.unwrap(), None).unwrap().kind,
            AnswerKind::Report(Some(6))
        );

        let mut get = inform_pdu(1);
        get[0] = tag::GET;
        assert_eq!(
            refused(e.receive(&sent(&u, level, ENGINE, ok, &get), 500)),
            (Refusal::NotAnInform, None)
        );
    }

    #[test]
    fn what_is_not_for_this_engine_is_left_alone() {
        let u = user(Some(AuthProtocol::HmacSha), None);
        let mut e = engine(u.clone());
        let trap = sent(
            &u,
            SecurityLevel::AuthNoPriv,
            b"\x80\0\0\0\x01",
            (1, 1),
            &inform_pdu(1),
        );
        assert_eq!(e.receive(&trap, 0), Outcome::NotForUs);
        assert_eq!(e.receive(b"\x30\x03\x02\x01\x01", 0), Outcome::NotForUs);
        assert_eq!(e.receive(b"", 0), Outcome::NotForUs);
        assert!(Engine::new(Vec::new(), 1, Vec::new(), 0).is_err());
    }

    #[test]
    fn no_report_for_a_sender_that_did_not_ask() {
        let u = user(Some(AuthProtocol::HmacSha), None);
        let mut e = engine(u.clone());
        let stranger = UsmUser {
            name: b"x".to_vec(),
            ..u
        };
        let mut msg = sent(
            &stranger,
            SecurityLevel::AuthNoPriv,
            ENGINE,
            (BOOTS, 0),
            &inform_pdu(1),
        );
        let flags = msg
            .windows(3)
            .position(|w| w == [0x04, 0x01, 0x05])
            .unwrap()
            + 2;
        msg[flags] &= !0x04;
        assert_eq!(refused(e.receive(&msg, 0)), (Refusal::UnknownUser, None));
    }
}
