//! Event-level scoring of a detector against labelled anomaly windows (how the NAB series are scored here):
//! a window with at least one alert inside it is one true positive however many alerts it holds, a window
//! without one is a miss, and every alert outside all windows is a false alarm. Points before `scored_from`
//! (the warm-up) are not scored: alerts there are ignored, and so are windows that end there.

/// One series' outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventScore {
    pub detected: u32,
    pub missed: u32,
    pub false_alarms: u32,
    /// Points scored (after the warm-up).
    pub points: u64,
    /// Sum over detected windows of the points from the window's start to its first alert.
    pub delay_points: u64,
    /// Sum over detected windows of that delay as a share of the window's length.
    pub delay_share: f64,
}

impl EventScore {
    /// Scores alert positions (point indices, in increasing order) against inclusive windows.
    pub fn of(
        alerts: &[usize],
        windows: &[(usize, usize)],
        scored_from: usize,
        points: usize,
    ) -> Self {
        let mut s = EventScore {
            points: points.saturating_sub(scored_from) as u64,
            ..EventScore::default()
        };
        let alerts: Vec<usize> = alerts
            .iter()
            .copied()
            .filter(|&a| a >= scored_from)
            .collect();
        for &(start, end) in windows.iter().filter(|w| w.1 >= scored_from) {
            match alerts.iter().find(|&&a| a >= start && a <= end) {
                Some(&first) => {
                    s.detected += 1;
                    s.delay_points += (first - start) as u64;
                    s.delay_share += (first - start) as f64 / (end - start + 1) as f64;
                }
                None => s.missed += 1,
            }
        }
        s.false_alarms = alerts
            .iter()
            .filter(|&&a| !windows.iter().any(|&(start, end)| a >= start && a <= end))
            .count() as u32;
        s
    }

    pub fn add(&mut self, o: &EventScore) {
        self.detected += o.detected;
        self.missed += o.missed;
        self.false_alarms += o.false_alarms;
        self.points += o.points;
        self.delay_points += o.delay_points;
        self.delay_share += o.delay_share;
    }

    pub fn precision(&self) -> f64 {
        ratio(self.detected, self.detected + self.false_alarms)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.detected + self.missed)
    }

    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.detected,
            2 * self.detected + self.false_alarms + self.missed,
        )
    }

    pub fn false_alarms_per_10k(&self) -> f64 {
        match self.points {
            0 => 0.0,
            n => f64::from(self.false_alarms) * 10_000.0 / n as f64,
        }
    }

    /// Mean delay from a detected window's start to its first alert: in points, and as a share of the window.
    pub fn mean_delay(&self) -> (f64, f64) {
        match self.detected {
            0 => (0.0, 0.0),
            n => (
                self.delay_points as f64 / f64::from(n),
                self.delay_share / f64::from(n),
            ),
        }
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    match b {
        0 => 0.0,
        _ => f64::from(a) / f64::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_once_and_warm_up_is_not_scored() {
        let windows = [(5, 9), (20, 29), (40, 49)];
        // 2 alerts in the warm-up (one inside the first window), 3 in the second window, 1 false alarm
        let s = EventScore::of(&[3, 6, 22, 23, 28, 35], &windows, 10, 100);
        assert_eq!(
            (s.detected, s.missed, s.false_alarms, s.points),
            (1, 1, 1, 90)
        );
        assert_eq!(s.delay_points, 2);
        assert!((s.f1() - 2.0 / 4.0).abs() < 1e-9);
        assert!((s.false_alarms_per_10k() - 10_000.0 / 90.0).abs() < 1e-9);
    }
}
