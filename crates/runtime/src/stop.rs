use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a role should end: on a signal (or the demo's say-so), or after a fixed duration.
pub struct Stop<'a> {
    flag: &'a AtomicBool,
    deadline: Option<Instant>,
}

impl<'a> Stop<'a> {
    pub fn new(flag: &'a AtomicBool, duration: Option<Duration>) -> Self {
        Self {
            flag,
            deadline: duration.map(|d| Instant::now() + d),
        }
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_or_a_deadline_stops() {
        let flag = AtomicBool::new(false);
        assert!(!Stop::new(&flag, None).requested());
        assert!(Stop::new(&flag, Some(Duration::ZERO)).requested());
        flag.store(true, Ordering::Relaxed);
        assert!(Stop::new(&flag, None).requested());
    }
}
