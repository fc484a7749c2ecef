//! What every long-running role runs on, whatever it does with datagrams: when to stop ([`Stop`]), where its
//! counters go ([`Reporter`]: the log, a JSON stats file, a shared slot the demo reads) and a fixed-size
//! latency [`histogram`]. Roles count in plain integers on their own thread and hand a snapshot here a few
//! times a second, never per datagram.
#![forbid(unsafe_code)]

pub mod histogram;
mod report;
mod stop;

pub use report::{Reporter, StatsConfig, Summary};
pub use stop::Stop;

/// Wall-clock nanoseconds since the Unix epoch: the clock of envelope timestamps (0 before 1970).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
