//! One key's alert lifecycle: a stream of per-bucket verdicts becomes `start`, `update` and `end` events.
//! An episode starts at the first anomalous bucket, stays open while anomalous buckets keep coming, and ends
//! once none came for `hold_down`; after an end the key stays quiet for `cooldown` (anomalies then are
//! counted as suppressed, not sent), and while open it repeats itself at most every `update_every`.
//! Times are whole ticks (seconds on the bus, points in an offline series), 16 bytes a key.

use serde::{Deserialize, Serialize};

/// The pacing of one detector's alerts, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pacing {
    /// An episode ends when no anomalous bucket came for this long.
    pub hold_down: u32,
    /// After an end, the same key does not start again for this long.
    pub cooldown: u32,
    /// While open, an `update` at most this often (0: never).
    pub update_every: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            hold_down: 10,
            cooldown: 30,
            update_every: 30,
        }
    }
}

/// What a verdict changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Start,
    Update,
    End,
    /// An anomaly inside the cooldown after an end: not sent.
    Suppressed,
    Nothing,
}

/// The state of one key. `started == 0` means no open episode (tick 0 never starts one: ticks count from 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Episode {
    started: u32,
    last_hit: u32,
    last_sent: u32,
    ended: u32,
}

impl Episode {
    pub fn is_open(&self) -> bool {
        self.started != 0
    }

    /// When the open episode started (0 when none is open).
    pub fn started(&self) -> u32 {
        self.started
    }

    /// The verdict of the bucket at `now` (≥ 1).
    pub fn verdict(&mut self, now: u32, anomalous: bool, p: &Pacing) -> Transition {
        match (self.is_open(), anomalous) {
            (false, false) => Transition::Nothing,
            (false, true) if self.ended != 0 && now < self.ended.saturating_add(p.cooldown) => {
                Transition::Suppressed
            }
            (false, true) => {
                (self.started, self.last_hit, self.last_sent) = (now, now, now);
                Transition::Start
            }
            (true, true) => {
                self.last_hit = now;
                self.updated(now, p)
            }
            (true, false) => self.expire(now, p),
        }
    }

    fn updated(&mut self, now: u32, p: &Pacing) -> Transition {
        if p.update_every == 0 || now < self.last_sent.saturating_add(p.update_every) {
            return Transition::Nothing;
        }
        self.last_sent = now;
        Transition::Update
    }

    /// Time passing without a verdict (no bucket for this key): ends the episode when its hold-down is over.
    pub fn expire(&mut self, now: u32, p: &Pacing) -> Transition {
        if !self.is_open() || now < self.last_hit.saturating_add(p.hold_down) {
            return Transition::Nothing;
        }
        self.ended = now;
        self.started = 0;
        Transition::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &Pacing, verdicts: &[(u32, bool)]) -> Vec<(u32, Transition)> {
        let mut e = Episode::default();
        verdicts
            .iter()
            .map(|&(t, a)| (t, e.verdict(t, a, p)))
            .filter(|(_, tr)| *tr != Transition::Nothing)
            .collect()
    }

    #[test]
    fn start_update_end_and_cooldown() {
        let p = Pacing {
            hold_down: 3,
            cooldown: 5,
            update_every: 2,
        };
        let v: Vec<(u32, bool)> = (1..=20).map(|t| (t, matches!(t, 2..=5 | 9 | 14))).collect();
        use Transition::*;
        assert_eq!(
            run(&p, &v),
            vec![
                (2, Start),
                (4, Update),
                (8, End),
                (9, Suppressed),
                (14, Start),
                (17, End)
            ]
        );
    }

    #[test]
    fn no_updates_when_switched_off() {
        let p = Pacing {
            update_every: 0,
            ..Pacing::default()
        };
        let v: Vec<(u32, bool)> = (1..=100).map(|t| (t, true)).collect();
        assert_eq!(run(&p, &v), vec![(1, Transition::Start)]);
    }

    #[test]
    fn state_is_small() {
        assert_eq!(std::mem::size_of::<Episode>(), 16);
    }
}
