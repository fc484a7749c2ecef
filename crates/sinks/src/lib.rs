//! Where forwarded datagrams go. One module per sink; today plain UDP. (Spoofed UDP, TCP and TLS sinks join
//! here as siblings of `udp`.)

// No `unsafe` but the one ioctl in `stream::conn`, which allows it where it stands.
#![deny(unsafe_code)]

pub mod spoof;
pub mod stream;
pub mod udp;

/// Per-destination counters. `forwarded + refused + dropped_full + failed + wrong_family` = datagrams handed to
/// the sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub forwarded: u64,
    /// The destination answered ICMP port/host unreachable (ECONNREFUSED on the next send).
    pub refused: u64,
    /// The socket buffer stayed full past the grace period.
    pub dropped_full: u64,
    /// Any other send error (for spoofing also a datagram larger than its IP version can carry).
    pub failed: u64,
    /// Spoofing only: the original source's address family differs from the destination's (an IPv6 exporter
    /// cannot be spoofed towards an IPv4 collector).
    pub wrong_family: u64,
    /// UDP: ICMP unreachable reports read while reading what the destination sent back (they concern
    /// datagrams already counted as forwarded; the destination looks down all the same).
    pub unreachable_reports: u64,
}
