//! Informs delivered as traps to a destination with `informs = "trap"`: a v2c inform as the v2c trap it
//! names (its bytes, the PDU type changed); a v3 inform (in clear from capture's engine) as a v2c trap with
//! the destination's community (RFC 3584 §4.2); and, for a destination with an SNMPv3 user, as an
//! SNMPv3 trap from this forwarder's engine (`snmp_engine_id`), signed and encrypted with the user's keys
//! localised to that engine. A trap's sender is its authoritative engine: nothing to discover, nothing
//! acknowledged.

use std::time::Instant;

use wire::snmp::ber::tag;
use wire::snmp::outgoing::{self, Outgoing};
use wire::snmp::{engine, inform};
use wire::snmp::{LocalKeys, SecurityLevel, UserKeys};

/// How a destination's traps are made from informs.
pub enum TrapMaker {
    /// v2c traps; `community` for those made from v3 informs.
    V2c {
        community: Vec<u8>,
        next_id: i32,
    },
    V3(V3Traps),
}

/// This forwarder as the engine that sends a destination's SNMPv3 traps.
pub struct V3Traps {
    engine_id: Vec<u8>,
    user: Vec<u8>,
    level: SecurityLevel,
    keys: LocalKeys,
    /// Boots: the Unix time in seconds when the engine started (growing from one start to the next).
    boots: u32,
    started: Instant,
    next_id: i32,
    salt: u64,
}

impl TrapMaker {
    pub fn v2c(community: &[u8]) -> Self {
        TrapMaker::V2c {
            community: community.to_vec(),
            next_id: 0,
        }
    }

    /// SNMPv3 traps of `user` from the engine `engine_id`.
    pub fn v3(user: &UserKeys, engine_id: Vec<u8>) -> Self {
        TrapMaker::V3(V3Traps {
            keys: user.localise(&engine_id),
            level: user.level(),
            user: user.name.clone(),
            engine_id,
            boots: engine::boots_now(),
            started: Instant::now(),
            next_id: 0,
            salt: engine::salt_seed(),
        })
    }

    /// The trap for inform `payload`; `None` when it is no inform this can read (then sent as it is).
    pub fn trap(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        match self {
            TrapMaker::V2c { community, next_id } => inform::as_trap(payload)
                .or_else(|| inform::as_v2c_trap(payload, community, fresh(next_id))),
            TrapMaker::V3(v3) => v3.trap(payload),
        }
    }
}

impl V3Traps {
    fn trap(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let n = inform::notification(payload)?;
        let id = fresh(&mut self.next_id);
        let pdu = outgoing::retag_pdu(&n.pdu, tag::TRAP_V2, id)?;
        let context_engine_id = match n.context_engine_id.is_empty() {
            true => &self.engine_id,
            false => &n.context_engine_id,
        };
        let scoped = outgoing::scoped_pdu(context_engine_id, &n.context_name, &pdu);
        self.salt = self.salt.wrapping_add(1);
        let time = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
        let o = Outgoing {
            msg_id: id as u32,
            reportable: false,
            engine_id: &self.engine_id,
            boots: self.boots,
            time,
            user: &self.user,
            level: self.level,
        };
        outgoing::encode(&o, Some(&self.keys), self.salt, &scoped)
    }
}

/// The next positive request-id (wrapping after 2^31 - 1).
fn fresh(next: &mut i32) -> i32 {
    *next = next.checked_add(1).unwrap_or(1);
    *next
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::snmp::{parse, AuthProtocol, PduKind, PrivProtocol, Usm, UsmUser};

    /// A v2c inform captured from Net-SNMP's snmpinform (crates/wire/tests/data/snmp/README).
    const INFORM: &[u8] = include_bytes!("../../wire/tests/data/snmp/inf.bin");
    const ENGINE: &[u8] = b"\x80\x00\x1f\x88\x04fwd1";

    fn user() -> UsmUser {
        UsmUser {
            name: b"trapper".to_vec(),
            engine_id: Some(ENGINE.to_vec()),
            auth: Some((AuthProtocol::HmacSha, b"authpass123".to_vec())),
            privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
        }
    }

    #[test]
    fn v3_traps_read_back_with_the_receivers_user_bound_to_the_forwarders_engine() {
        let mut maker = TrapMaker::v3(&UserKeys::new(&user()).unwrap(), ENGINE.to_vec());
        let inform = parse(INFORM, &mut Usm::default()).unwrap();
        let (a, b) = (maker.trap(INFORM).unwrap(), maker.trap(INFORM).unwrap());
        let mut receiver = Usm::new(vec![user()]).unwrap();
        for m in [&a, &b] {
            let t = parse(m, &mut receiver).unwrap();
            let v3 = t.v3.as_ref().unwrap();
            assert_eq!(
                (t.pdu.kind, v3.level, v3.engine_id.as_slice()),
                (PduKind::TrapV2, SecurityLevel::AuthPriv, ENGINE)
            );
            assert_eq!(t.pdu.varbinds, inform.pdu.varbinds);
        }
        let mut ids = |m: &[u8]| parse(m, &mut receiver).unwrap().pdu.request_id;
        assert_ne!(ids(&a), ids(&b), "each trap its own request-id");
        assert_eq!(maker.trap(b"not an inform"), None);
    }

    #[test]
    fn v2c_traps_keep_a_v2c_informs_bytes_and_give_v3_ones_the_community() {
        let mut maker = TrapMaker::v2c(b"relay");
        let mut expected = INFORM.to_vec();
        let at = expected.iter().position(|&b| b == tag::INFORM).unwrap();
        expected[at] = tag::TRAP_V2;
        assert_eq!(maker.trap(INFORM).unwrap(), expected);

        let n = inform::notification(INFORM).unwrap();
        let o = Outgoing {
            msg_id: 9,
            reportable: false,
            engine_id: ENGINE,
            boots: 1,
            time: 2,
            user: b"someone",
            level: SecurityLevel::NoAuthNoPriv,
        };
        let clear =
            outgoing::encode(&o, None, 0, &outgoing::scoped_pdu(ENGINE, b"", &n.pdu)).unwrap();
        let trap = parse(&maker.trap(&clear).unwrap(), &mut Usm::default()).unwrap();
        assert_eq!(
            (trap.pdu.kind, trap.community.as_deref()),
            (PduKind::TrapV2, Some(&b"relay"[..]))
        );
        let inform = parse(INFORM, &mut Usm::default()).unwrap();
        assert_eq!(trap.pdu.varbinds, inform.pdu.varbinds);
    }
}
