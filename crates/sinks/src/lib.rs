//! Where forwarded datagrams go. One module per sink; today plain UDP. (Spoofed UDP, TCP and TLS sinks join
//! here as siblings of `udp`.)

pub mod udp;

/// Per-destination counters. `forwarded + refused + dropped_full + failed` = datagrams handed to the sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub forwarded: u64,
    /// The destination answered ICMP port/host unreachable (ECONNREFUSED on the next send).
    pub refused: u64,
    /// The socket buffer stayed full past the grace period.
    pub dropped_full: u64,
    /// Any other send error.
    pub failed: u64,
}
