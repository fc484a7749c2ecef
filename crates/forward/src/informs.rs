//! SNMPv2c informs delivered to one UDP destination as informs of the forwarder's own: each gets a request-id
//! unique among those in flight, is sent again with backoff until the destination's Response names it, and
//! is given up (counted) after the last try. In flight per destination is bounded: past the bound the oldest
//! is given up, so a destination that never answers costs memory and counters, never the other destinations.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::report::DestinationReport;

/// The wait before the first resend, by default; it doubles after each.
pub const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
/// Sends of one inform at most (the first and the resends), by default: about 31 s from the first send to
/// giving up.
pub const MAX_SENDS: u32 = 6;
/// Informs in flight per destination at most.
const MAX_IN_FLIGHT: usize = 4096;

struct InFlight {
    message: Vec<u8>,
    next_send: Instant,
    sends: u32,
}

pub struct InformRelay {
    first_timeout: Duration,
    max_sends: u32,
    next_id: i32,
    /// By request-id: ids are handed out in increasing order, so the first is the oldest (but for the moment
    /// after the ids wrap past 2^31 - 1).
    in_flight: BTreeMap<i32, InFlight>,
}

impl Default for InformRelay {
    fn default() -> Self {
        InformRelay::new(FIRST_TIMEOUT, MAX_SENDS)
    }
}

impl InformRelay {
    /// Resends after `first_timeout`, doubling; at most `max_sends` sends (at least one) per inform.
    pub fn new(first_timeout: Duration, max_sends: u32) -> Self {
        Self {
            first_timeout,
            max_sends: max_sends.max(1),
            next_id: 0,
            in_flight: BTreeMap::new(),
        }
    }

    /// The inform `payload` as this forwarder's own (a fresh request-id), remembered for resending. `None`
    /// when it is not a v2c inform (it is then relayed as it is).
    pub fn send(
        &mut self,
        payload: &[u8],
        now: Instant,
        r: &mut DestinationReport,
    ) -> Option<Vec<u8>> {
        let id = self.fresh_id();
        let message = wire::snmp::inform::with_request_id(payload, id)?;
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.give_up_oldest(r);
        }
        self.in_flight.insert(
            id,
            InFlight {
                message: message.clone(),
                next_send: now + self.first_timeout,
                sends: 1,
            },
        );
        r.informs_sent += 1;
        Some(message)
    }

    /// A Response from the destination: whether it acknowledges an inform in flight (then forgotten).
    pub fn acknowledge(&mut self, request_id: i64, r: &mut DestinationReport) -> bool {
        let acked = i32::try_from(request_id)
            .ok()
            .and_then(|id| self.in_flight.remove(&id))
            .is_some();
        r.informs_acknowledged += u64::from(acked);
        acked
    }

    /// The informs whose time to be sent again has come; those past their last send are given up.
    pub fn due(&mut self, now: Instant, r: &mut DestinationReport) -> Vec<Vec<u8>> {
        let mut resend = Vec::new();
        let mut gone = Vec::new();
        for (&id, f) in self
            .in_flight
            .iter_mut()
            .filter(|(_, f)| f.next_send <= now)
        {
            if f.sends >= self.max_sends {
                gone.push(id);
                continue;
            }
            f.next_send = now + self.first_timeout * 2u32.saturating_pow(f.sends.min(20));
            f.sends += 1;
            r.informs_retried += 1;
            resend.push(f.message.clone());
        }
        for id in gone {
            self.in_flight.remove(&id);
            r.informs_given_up += 1;
        }
        resend
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// A positive request-id not in flight (ids wrap after 2^31 - 1).
    fn fresh_id(&mut self) -> i32 {
        loop {
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2c inform captured from Net-SNMP's snmpinform (crates/wire/tests/data/snmp/README).
    const INFORM: &[u8] = include_bytes!("../../wire/tests/data/snmp/inf.bin");

    fn id_of(m: &[u8]) -> i64 {
        let inform = wire::snmp::inform::v2c_inform(m).unwrap();
        inform.request_id
    }

    #[test]
    fn resent_with_backoff_until_acknowledged_or_given_up() {
        let (mut relay, mut r) = (InformRelay::default(), DestinationReport::default());
        let t0 = Instant::now();
        let a = relay.send(INFORM, t0, &mut r).unwrap();
        let b = relay.send(INFORM, t0, &mut r).unwrap();
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
            relay.send(INFORM, now, &mut r).unwrap();
        }
        assert_eq!(relay.in_flight(), MAX_IN_FLIGHT);
        assert_eq!(r.informs_given_up, 10);
        assert!(relay.send(b"not an inform", now, &mut r).is_none());
    }
}
