//! One module per role. Each role runs on the calling thread until `stop` is set (or its source ends) and
//! returns its final counters.

pub mod capture;
pub mod decode;
pub mod demo;
pub mod forward;
pub mod send;
pub mod sink;
pub mod tap;

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
