//! Where datagrams come from: libpcap live capture, pcap files, or a plain UDP listener; then defragment and
//! classify them. This is the only crate that links libpcap.
//!
//! Every descriptor handed to poll(2) or to `udpio` is borrowed from its owner, so no `unsafe` is needed here.
#![forbid(unsafe_code)]

pub mod defrag;
pub mod exporters;
mod file;
pub mod filter;
pub mod frames;
pub mod guard;
mod informs;
mod listener;
mod live;

use std::net::SocketAddr;

pub use defrag::DefragConfig;
pub use file::FileSource;
pub use frames::{Captured, FrameParser, FrameStats};
pub use guard::LoopGuard;
pub use informs::RecentInforms;
pub use listener::Listener;
pub use live::{LiveInterface, LiveOptions};
use wire::link::LinkType;

/// A source could not be opened or read. A variant with a `source` names what failed and leaves the cause to
/// the error chain (`{:#}` prints it once); putting it in the message too would print libpcap's text twice.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("interface {iface}")]
    Interface { iface: String, source: pcap::Error },
    #[error("capture filter `{filter}` on {iface}")]
    Filter {
        iface: String,
        filter: String,
        source: pcap::Error,
    },
    #[error("pcap file {path}")]
    File { path: String, source: pcap::Error },
    #[error("pcap file {path}: link type {link} is not supported")]
    LinkType { path: String, link: i32 },
    #[error("UDP listener {addr}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("poll: {0}")]
    Poll(std::io::Error),
}

/// What a source hands over: a link-layer frame, or a datagram already stripped by the kernel.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A link-layer frame; `wire_len` is its length on the wire (more than `data.len()` when the snapshot
    /// length cut it).
    Frame {
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
    },
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
}

/// One captured unit with its time and the interface it came from.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts_ns: u64,
    pub iface: &'a str,
    pub body: Body<'a>,
}

/// libpcap's own counters, summed over interfaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
    /// Read errors from libpcap.
    pub errors: u64,
    /// Datagrams cut by the listener's buffer (longer than 64 KiB cannot happen; kept for completeness).
    pub truncated: u64,
    /// Datagrams the kernel dropped at the listeners' full receive queues.
    pub listener_dropped: u64,
}

/// Wall-clock nanoseconds since the Unix epoch, the clock of capture timestamps.
pub use runtime::now_ns;

fn timeval_ns(sec: i64, usec: i64, nano: bool) -> u64 {
    let frac = if nano { usec } else { usec * 1000 };
    (sec.max(0) as u64) * 1_000_000_000 + frac.max(0) as u64
}

/// Whether a source has more to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Ended,
}

/// The sources one capture process reads: live interfaces and UDP listeners polled together, or one file.
pub enum Sources {
    Live {
        interfaces: Vec<LiveInterface>,
        listeners: Vec<Listener>,
    },
    File(FileSource),
}

impl Sources {
    /// Hands every available packet to `each`, waiting at most `timeout_ms` for the first.
    pub fn poll(
        &mut self,
        timeout_ms: u16,
        each: &mut dyn FnMut(Packet<'_>),
    ) -> Result<Status, CaptureError> {
        match self {
            Sources::File(f) => f.read_batch(each),
            Sources::Live {
                interfaces,
                listeners,
            } => live::poll_all(interfaces, listeners, timeout_ms, each),
        }
    }

    /// Sends `payload` to `to` from the listener bound to `local`'s port (the one `to` sent to). `None` when
    /// no listener has that port: a packet capture sees traffic for others and must not answer it.
    pub fn answer(
        &self,
        local: std::net::SocketAddr,
        to: std::net::SocketAddr,
        payload: &[u8],
    ) -> Option<std::io::Result<usize>> {
        let Sources::Live { listeners, .. } = self else {
            return None;
        };
        // Prefer the listener of `to`'s family: an IPv4 and an IPv6 wildcard listener may share the port.
        let on_port = || {
            listeners
                .iter()
                .filter(|l| l.local().port() == local.port())
        };
        let l = on_port()
            .find(|l| l.local().is_ipv4() == to.is_ipv4())
            .or_else(|| on_port().next())?;
        Some(l.answer(to, payload))
    }

    pub fn pcap_stats(&mut self) -> PcapStats {
        match self {
            Sources::File(_) => PcapStats::default(),
            Sources::Live {
                interfaces,
                listeners,
            } => {
                let mut s = PcapStats::default();
                for i in interfaces.iter_mut() {
                    i.add_stats(&mut s);
                }
                s.truncated = listeners.iter().map(|l| l.truncated()).sum();
                s.listener_dropped = listeners.iter().filter_map(|l| l.kernel_dropped()).sum();
                s
            }
        }
    }
}
