//! Informs delivered to one UDP destination as informs of the forwarder's own: each gets a request-id unique
//! among those in flight, is sent again with backoff until the destination's Response names it, and is given
//! up (counted) after the last try. In flight per destination is bounded: past the bound the oldest is given
//! up, so a destination that never answers costs memory and counters, never the other destinations.
//!
//! A destination with an SNMPv3 user gets SNMPv3 informs, as an RFC 3413 proxy forwarder sends them: the
//! destination is the authoritative engine, so it is first probed for its engine ID, boots and time (RFC 3414
//! 4); informs routed meanwhile are held; then each is encoded at every send with the user's keys localised
//! to that engine and the engine's estimated time. An authenticated notInTimeWindow Report resets the time;
//! a Response (authenticated at the inform's level) names its inform by msgID, which is the request-id.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wire::snmp::answer::{self, AnswerKind};
use wire::snmp::ber::tag;
use wire::snmp::inform;
use wire::snmp::outgoing::{self, Outgoing};
use wire::snmp::{LocalKeys, PduKind, SecurityLevel, UserKeys};

use crate::report::DestinationReport;

/// The wait before the first resend, by default; it doubles after each.
pub const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
/// Sends of one inform at most (the first and the resends), by default: about 31 s from the first send to
/// giving up.
pub const MAX_SENDS: u32 = 6;
/// Informs in flight per destination at most.
const MAX_IN_FLIGHT: usize = 4096;
/// usmStats arcs of the Reports that tell this sender the destination's engine ID, boots and time
/// (RFC 3414 4: unknownEngineIDs; 3.2 7b: notInTimeWindows).
const REPORT_UNKNOWN_ENGINE: u32 = 4;
const REPORT_NOT_IN_TIME_WINDOW: u32 = 2;

struct InFlight {
    /// v2c: the whole message. v3: the InformRequest PDU, encoded at each send with the engine's time.
    message: Vec<u8>,
    /// v3: the contextEngineID (empty: the destination's) and contextName the inform came with.
    context_engine_id: Vec<u8>,
    context_name: Vec<u8>,
    next_send: Instant,
    sends: u32,
    /// v3: when it was routed here (a held inform is given up after the time its sends would have taken).
    since: Instant,
}

/// What becomes of an inform routed to this destination.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Not an inform this relay takes: sent as it is.
    AsIs,
    /// Sent now as this forwarder's own.
    Send(Vec<u8>),
    /// v3, the destination's engine not known yet: held until it is, and a probe to send now, if one is due.
    Held(Option<Vec<u8>>),
}

pub struct InformRelay {
    first_timeout: Duration,
    max_sends: u32,
    next_id: i32,
    /// By request-id (v3: also the msgID): ids are handed out in increasing order, so the first is the oldest
    /// (but for the moment after the ids wrap past 2^31 - 1).
    in_flight: BTreeMap<i32, InFlight>,
    v3: Option<V3Peer>,
}

/// The SNMPv3 side of a destination: the user informs go as, and what its engine told of itself.
struct V3Peer {
    user: UserKeys,
    engine: Option<Engine>,
    /// The msgID of the latest discovery probe and when it is due again.
    probe: Option<(u32, Instant)>,
    probes: u32,
    salt: u64,
}

/// The destination's engine: its ID, the user's keys localised to it, and its boots and time when last heard.
struct Engine {
    id: Vec<u8>,
    keys: LocalKeys,
    boots: u32,
    time: u32,
    heard: Instant,
}

impl Default for InformRelay {
    fn default() -> Self {
        InformRelay::new(FIRST_TIMEOUT, MAX_SENDS, None)
    }
}

impl InformRelay {
    /// Resends after `first_timeout`, doubling; at most `max_sends` sends (at least one) per inform. With
    /// `v3`, informs go as SNMPv3 informs of that user once the destination's engine is discovered.
    pub fn new(first_timeout: Duration, max_sends: u32, v3: Option<UserKeys>) -> Self {
        Self {
            first_timeout,
            max_sends: max_sends.max(1),
            next_id: 0,
            in_flight: BTreeMap::new(),
            v3: v3.map(|user| V3Peer {
                user,
                engine: None,
                probe: None,
                probes: 0,
                salt: wire::snmp::engine::salt_seed(),
            }),
        }
    }

    /// The inform `payload` as this forwarder's own (a fresh request-id), remembered for resending.
    pub fn send(&mut self, payload: &[u8], now: Instant, r: &mut DestinationReport) -> Delivery {
        let id = self.fresh_id();
        let (message, context_engine_id, context_name) = match &self.v3 {
            None => match inform::with_request_id(payload, id) {
                Some(m) => (m, Vec::new(), Vec::new()),
                None => return Delivery::AsIs,
            },
            Some(_) => {
                let Some(n) = inform::notification(payload) else {
                    return Delivery::AsIs;
                };
                match outgoing::retag_pdu(&n.pdu, tag::INFORM, id) {
                    Some(pdu) => (pdu, n.context_engine_id, n.context_name),
                    None => return Delivery::AsIs,
                }
            }
        };
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.give_up_oldest(r);
        }
        let held = self.v3.as_ref().is_some_and(|v| v.engine.is_none());
        let f = InFlight {
            message,
            context_engine_id,
            context_name,
            next_send: if held { now } else { now + self.first_timeout },
            sends: u32::from(!held),
            since: now,
        };
        let delivery = match held {
            true => {
                r.informs_held += 1;
                Delivery::Held(self.probe_if_due(now, r))
            }
            false => match Self::encode(self.v3.as_mut(), id, &f) {
                Some(m) => Delivery::Send(m),
                None => return Delivery::AsIs,
            },
        };
        r.informs_sent += 1;
        self.in_flight.insert(id, f);
        delivery
    }

    /// A datagram the destination sent back: counted, and an inform it acknowledges forgotten.
    pub fn answer(&mut self, p: &[u8], now: Instant, r: &mut DestinationReport) {
        let Some(v3) = self.v3.as_mut() else {
            return self.answer_v2c(p, r);
        };
        let keys = v3.engine.as_ref().map(|e| &e.keys);
        let Some(a) = answer::read(p, keys).or_else(|| answer::read(p, None)) else {
            r.answers_other += 1;
            return;
        };
        match a.kind {
            AnswerKind::Response => {
                r.responses += 1;
                let level = v3.user.level();
                let authentic = a.level == level || level == SecurityLevel::NoAuthNoPriv;
                if authentic {
                    self.acknowledge(i64::from(a.msg_id), r);
                }
            }
            AnswerKind::Report(arc) => {
                r.reports += 1;
                self.learn(&a, arc, now);
            }
            AnswerKind::Other => r.answers_other += 1,
        }
    }

    fn answer_v2c(&mut self, p: &[u8], r: &mut DestinationReport) {
        if count_answer(p, r) == Some(PduKind::Response) {
            if let Some(id) = inform::response_id(p) {
                self.acknowledge(id, r);
            }
        }
    }

    /// A Report that tells the destination's engine ID (after a probe) or its boots and time (an
    /// authenticated notInTimeWindow): the engine is taken as it says, and every inform in flight is due now.
    fn learn(&mut self, a: &answer::Answer, arc: Option<u32>, now: Instant) {
        let Some(v3) = self.v3.as_mut() else { return };
        let discovery =
            arc == Some(REPORT_UNKNOWN_ENGINE) && a.level == SecurityLevel::NoAuthNoPriv;
        let timing =
            arc == Some(REPORT_NOT_IN_TIME_WINDOW) && a.level != SecurityLevel::NoAuthNoPriv;
        let probed = v3.probe.is_some_and(|(id, _)| id == a.msg_id)
            || self.in_flight.contains_key(&(a.msg_id as i32));
        if !(probed && (discovery || timing)) || a.engine_id.is_empty() {
            return;
        }
        let keys = match &v3.engine {
            Some(e) if e.id == a.engine_id => e.keys.clone(),
            _ => v3.user.localise(&a.engine_id),
        };
        v3.engine = Some(Engine {
            id: a.engine_id.clone(),
            keys,
            boots: a.boots,
            time: a.time,
            heard: now,
        });
        v3.probe = None;
        self.in_flight.values_mut().for_each(|f| f.next_send = now);
    }

    /// A Response's request-id (v3: msgID): whether it acknowledges an inform in flight (then forgotten).
    pub fn acknowledge(&mut self, request_id: i64, r: &mut DestinationReport) -> bool {
        let acked = i32::try_from(request_id)
            .ok()
            .and_then(|id| self.in_flight.remove(&id))
            .is_some();
        r.informs_acknowledged += u64::from(acked);
        acked
    }

    /// What to send now: informs whose time to be sent again has come (those past their last send are given
    /// up) and, while the destination's engine is unknown, a discovery probe when one is due.
    pub fn due(&mut self, now: Instant, r: &mut DestinationReport) -> Vec<Vec<u8>> {
        if self.v3.as_ref().is_some_and(|v| v.engine.is_none()) {
            return self.due_undiscovered(now, r);
        }
        let mut resend = Vec::new();
        let mut gone = Vec::new();
        let due: Vec<i32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.next_send <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let Some(f) = self.in_flight.get_mut(&id) else {
                continue;
            };
            if f.sends >= self.max_sends {
                gone.push(id);
                continue;
            }
            f.next_send = now + self.first_timeout * 2u32.saturating_pow(f.sends.min(20));
            f.sends += 1;
            r.informs_retried += 1;
            let f = &self.in_flight[&id];
            if let Some(m) = Self::encode(self.v3.as_mut(), id, f) {
                resend.push(m);
            }
        }
        for id in gone {
            self.in_flight.remove(&id);
            r.informs_given_up += 1;
        }
        resend
    }

    /// Held informs wait for the engine; those held longer than all their sends would have taken are given up.
    fn due_undiscovered(&mut self, now: Instant, r: &mut DestinationReport) -> Vec<Vec<u8>> {
        let patience = self.first_timeout * (2u32.saturating_pow(self.max_sends.min(20)) - 1);
        let before = self.in_flight.len();
        self.in_flight
            .retain(|_, f| now.duration_since(f.since) < patience);
        r.informs_given_up += (before - self.in_flight.len()) as u64;
        match self.in_flight.is_empty() {
            true => Vec::new(),
            false => self.probe_if_due(now, r).into_iter().collect(),
        }
    }

    /// A discovery probe (RFC 3414 4) when none is outstanding or the last one went unanswered for its
    /// timeout (doubling, up to 32 times the first).
    fn probe_if_due(&mut self, now: Instant, r: &mut DestinationReport) -> Option<Vec<u8>> {
        let first = self.first_timeout;
        let v3 = self.v3.as_mut()?;
        if v3.probe.is_some_and(|(_, due)| now < due) {
            return None;
        }
        v3.probes = v3.probes.saturating_add(1);
        let msg_id = 0x4000_0000 | (v3.probes & 0x3fff_ffff);
        v3.probe = Some((
            msg_id,
            now + first * 2u32.saturating_pow(v3.probes.min(6) - 1),
        ));
        r.engine_probes += 1;
        Some(outgoing::discovery_probe(msg_id))
    }

    /// The message to send for inform `id`: v2c as stored; v3 encoded for the destination's engine at its
    /// estimated time (its time when last heard plus what elapsed since).
    fn encode(v3: Option<&mut V3Peer>, id: i32, f: &InFlight) -> Option<Vec<u8>> {
        let Some(v3) = v3 else {
            return Some(f.message.clone());
        };
        let e = v3.engine.as_ref()?;
        let elapsed = u32::try_from(e.heard.elapsed().as_secs()).unwrap_or(u32::MAX);
        v3.salt = v3.salt.wrapping_add(1);
        let o = Outgoing {
            msg_id: id as u32,
            reportable: true,
            engine_id: &e.id,
            boots: e.boots,
            time: e.time.saturating_add(elapsed),
            user: &v3.user.name,
            level: v3.user.level(),
        };
        let context_engine_id = match f.context_engine_id.is_empty() {
            true => &e.id,
            false => &f.context_engine_id,
        };
        let scoped = outgoing::scoped_pdu(context_engine_id, &f.context_name, &f.message);
        outgoing::encode(&o, Some(&e.keys), v3.salt, &scoped)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// A positive request-id not in flight (ids wrap after 2^30 - 1, below the probes' msgIDs).
    fn fresh_id(&mut self) -> i32 {
        loop {
            self.next_id = match self.next_id {
                n if n >= 0x3fff_ffff => 1,
                n => n + 1,
            };
            if !self.in_flight.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    fn give_up_oldest(&mut self, r: &mut DestinationReport) {
        if self.in_flight.pop_first().is_some() {
            r.informs_given_up += 1;
        }
    }
}

/// Counts an answer read without keys (v1/v2c, or v3 in clear) by its PDU type, and tells the type.
pub fn count_answer(p: &[u8], r: &mut DestinationReport) -> Option<PduKind> {
    let kind = wire::snmp::parse(p, &mut wire::snmp::Usm::default())
        .ok()
        .map(|m| m.pdu.kind);
    match kind {
        Some(PduKind::Response) => r.responses += 1,
        Some(PduKind::Report) => r.reports += 1,
        _ => r.answers_other += 1,
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2c inform captured from Net-SNMP's snmpinform (crates/wire/tests/data/snmp/README).
    const INFORM: &[u8] = include_bytes!("../../wire/tests/data/snmp/inf.bin");

    fn sent(d: Delivery) -> Vec<u8> {
        match d {
            Delivery::Send(m) => m,
            other => panic!("not sent: {other:?}"),
        }
    }

    fn id_of(m: &[u8]) -> i64 {
        let inform = wire::snmp::inform::v2c_inform(m).unwrap();
        inform.request_id
    }

    #[test]
    fn resent_with_backoff_until_acknowledged_or_given_up() {
        let (mut relay, mut r) = (InformRelay::default(), DestinationReport::default());
        let t0 = Instant::now();
        let a = sent(relay.send(INFORM, t0, &mut r));
        let b = sent(relay.send(INFORM, t0, &mut r));
        assert_ne!(id_of(&a), id_of(&b), "each its own request-id");
        assert!(relay
            .due(t0 + Duration::from_millis(999), &mut r)
            .is_empty());
        assert_eq!(
            relay.due(t0 + FIRST_TIMEOUT, &mut r),
            [a.clone(), b.clone()]
        );
        assert!(relay.acknowledge(id_of(&b), &mut r));
        assert!(!relay.acknowledge(id_of(&b), &mut r), "once");
        // a: sent at 0, resent at 1 s, then at 3, 7, 15, 31 s; given up at 63 s
        let mut sends = 2;
        let mut t = t0 + FIRST_TIMEOUT;
        for wait in [2, 4, 8, 16] {
            t += Duration::from_secs(wait);
            assert_eq!(
                relay.due(t, &mut r),
                std::slice::from_ref(&a),
                "resend after {wait} s more"
            );
            sends += 1;
        }
        assert_eq!(sends, MAX_SENDS);
        assert!(relay.due(t + Duration::from_secs(31), &mut r).is_empty());
        assert!(relay.due(t + Duration::from_secs(32), &mut r).is_empty());
        assert_eq!(relay.in_flight(), 0);
        assert_eq!(
            (
                r.informs_sent,
                r.informs_acknowledged,
                r.informs_retried,
                r.informs_given_up
            ),
            (2, 1, 6, 1)
        );
    }

    #[test]
    fn in_flight_stays_bounded() {
        let (mut relay, mut r) = (InformRelay::default(), DestinationReport::default());
        let now = Instant::now();
        for _ in 0..MAX_IN_FLIGHT + 10 {
            sent(relay.send(INFORM, now, &mut r));
        }
        assert_eq!(relay.in_flight(), MAX_IN_FLIGHT);
        assert_eq!(r.informs_given_up, 10);
        assert_eq!(relay.send(b"not an inform", now, &mut r), Delivery::AsIs);
    }

    mod v3 {
        use super::*;
        use wire::snmp::engine::{Engine, Outcome};
        use wire::snmp::{AuthProtocol, PrivProtocol, UsmUser};

        const ENGINE: &[u8] = b"\x80\x00\x1f\x88\x04dest";

        fn user() -> UsmUser {
            UsmUser {
                name: b"relay".to_vec(),
                engine_id: None,
                auth: Some((AuthProtocol::HmacSha256, b"authpass123".to_vec())),
                privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
            }
        }

        /// The destination: an authoritative engine at `boots`.
        fn destination(boots: u32) -> Engine {
            Engine::new(ENGINE.to_vec(), boots, vec![user()], 9).unwrap()
        }

        fn relay() -> InformRelay {
            InformRelay::new(
                FIRST_TIMEOUT,
                MAX_SENDS,
                Some(UserKeys::new(&user()).unwrap()),
            )
        }

        fn report(o: Outcome) -> Vec<u8> {
            match o {
                Outcome::Refused {
                    report: Some(r), ..
                } => r,
                other => panic!("no report: {other:?}"),
            }
        }

        fn response(o: Outcome) -> Vec<u8> {
            match o {
                Outcome::Inform { response, .. } => response,
                other => panic!("not taken: {other:?}"),
            }
        }

        #[test]
        fn held_until_the_engine_is_discovered_then_sent_and_acknowledged() {
            let (mut relay, mut r) = (relay(), DestinationReport::default());
            let mut dest = destination(3);
            let t0 = Instant::now();
            let Delivery::Held(Some(probe)) = relay.send(INFORM, t0, &mut r) else {
                panic!("the first inform waits for a probe's answer");
            };
            assert_eq!(
                relay.send(INFORM, t0, &mut r),
                Delivery::Held(None),
                "one probe out at a time"
            );
            assert!(
                relay.due(t0, &mut r).is_empty(),
                "nothing but probes before the engine is known"
            );
            relay.answer(&report(dest.receive(&probe, 40)), t0, &mut r);
            let informs = relay.due(t0, &mut r);
            assert_eq!(
                informs.len(),
                2,
                "both held informs go once the engine is known"
            );
            for m in &informs {
                relay.answer(&response(dest.receive(m, 40)), t0, &mut r);
            }
            let third = match relay.send(INFORM, t0, &mut r) {
                Delivery::Send(m) => m,
                other => panic!("sent at once now: {other:?}"),
            };
            relay.answer(&response(dest.receive(&third, 40)), t0, &mut r);
            assert_eq!(relay.in_flight(), 0);
            assert_eq!(
                (
                    r.informs_sent,
                    r.informs_held,
                    r.engine_probes,
                    r.informs_acknowledged,
                    r.reports,
                    r.responses
                ),
                (3, 2, 1, 3, 1, 3)
            );
        }

        #[test]
        fn a_destination_that_rebooted_reports_its_time_and_gets_the_inform_again() {
            let (mut relay, mut r) = (relay(), DestinationReport::default());
            let t0 = Instant::now();
            let Delivery::Held(Some(probe)) = relay.send(INFORM, t0, &mut r) else {
                panic!("held");
            };
            relay.answer(&report(destination(3).receive(&probe, 40)), t0, &mut r);
            let stale = relay.due(t0, &mut r).remove(0);
            // the engine restarted: boots 4, its time near 0
            let mut rebooted = destination(4);
            let window = report(rebooted.receive(&stale, 2));
            relay.answer(&window, t0, &mut r);
            let again = relay.due(t0, &mut r);
            assert_eq!(
                again.len(),
                1,
                "sent again at once with the reported boots and time"
            );
            relay.answer(&response(rebooted.receive(&again[0], 2)), t0, &mut r);
            assert_eq!(
                (r.informs_acknowledged, r.informs_retried, r.reports),
                (1, 2, 2)
            );
        }

        #[test]
        fn held_informs_are_given_up_when_the_engine_never_answers() {
            let keys = UserKeys::new(&user()).unwrap();
            let mut relay = InformRelay::new(Duration::from_millis(100), 3, Some(keys));
            let mut r = DestinationReport::default();
            let t0 = Instant::now();
            assert!(matches!(
                relay.send(INFORM, t0, &mut r),
                Delivery::Held(Some(_))
            ));
            let mut probes = 1;
            for ms in [100, 300, 699] {
                probes += relay.due(t0 + Duration::from_millis(ms), &mut r).len();
            }
            assert_eq!(probes, 3, "probes back off: at 0, 100 and 300 ms");
            assert!(relay
                .due(t0 + Duration::from_millis(700), &mut r)
                .is_empty());
            assert_eq!(
                (relay.in_flight(), r.informs_given_up, r.engine_probes),
                (0, 1, 3)
            );
        }
    }
}
