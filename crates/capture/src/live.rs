//! Live capture with libpcap: immediate mode, a large kernel buffer, nonblocking reads driven by poll(2).

use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use pcap::{Active, Capture, Precision};
use wire::link::LinkType;

use crate::listener::Listener;
use crate::{timeval_ns, Body, CaptureError, Packet, PcapStats, Status};

/// Packets read from one interface before the next one gets its turn.
const BUDGET: usize = 4096;

pub struct LiveInterface {
    name: String,
    cap: Capture<Active>,
    link: LinkType,
    /// Read errors from libpcap (e.g. the interface went down).
    errors: u64,
}

/// This crate does not log; the first read error of an interface goes to stderr once.
fn warn_first_error(iface: &str, e: &pcap::Error) {
    eprintln!("capture: reading {iface}: {e} (further errors are counted as pcap_errors)");
}

/// How a live interface is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// Kernel buffer in bytes.
    pub buffer: i32,
    pub snaplen: i32,
    /// Immediate mode: every packet is handed over as it arrives (lowest latency, a wake-up per packet at low
    /// rates). Without it the kernel fills blocks (TPACKET_V3) and hands them over when full or after
    /// `block_timeout_ms`: far fewer wake-ups and a dense ring, at up to that much latency.
    pub immediate: bool,
    pub block_timeout_ms: i32,
}

impl LiveInterface {
    /// Opens `name` (e.g. `lo`, `eth0`, `any`) with `filter` applied.
    pub fn open(name: &str, filter: &str, o: LiveOptions) -> Result<Self, CaptureError> {
        let err = |source| CaptureError::Interface {
            iface: name.to_owned(),
            source,
        };
        let cap = Capture::from_device(name)
            .map_err(err)?
            .immediate_mode(o.immediate)
            .timeout(o.block_timeout_ms.max(1))
            .buffer_size(o.buffer)
            .snaplen(o.snaplen)
            .precision(Precision::Nano)
            .open()
            .map_err(err)?
            .setnonblock()
            .map_err(err)?;
        let mut cap = cap;
        cap.filter(filter, true)
            .map_err(|source| CaptureError::Filter {
                iface: name.to_owned(),
                filter: filter.to_owned(),
                source,
            })?;
        let link = LinkType(cap.get_datalink().0);
        Ok(Self {
            name: name.to_owned(),
            cap,
            link,
            errors: 0,
        })
    }

    fn drain(&mut self, each: &mut dyn FnMut(Packet<'_>)) {
        for _ in 0..BUDGET {
            let p = match self.cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::TimeoutExpired) => return,
                Err(e) => {
                    if self.errors == 0 {
                        warn_first_error(&self.name, &e);
                    }
                    self.errors += 1;
                    // An interface that went away keeps poll(2) readable: do not spin on it.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    return;
                }
            };
            let ts = timeval_ns(p.header.ts.tv_sec, p.header.ts.tv_usec, true);
            each(Packet {
                ts_ns: ts,
                iface: &self.name,
                body: Body::Frame {
                    link: self.link,
                    data: p.data,
                    wire_len: p.header.len,
                },
            });
        }
    }

    pub(crate) fn add_stats(&mut self, s: &mut PcapStats) {
        s.errors += self.errors;
        if let Ok(st) = self.cap.stats() {
            s.received += u64::from(st.received);
            s.dropped += u64::from(st.dropped);
            s.if_dropped += u64::from(st.if_dropped);
        }
    }
}

/// Waits for any interface or listener to be readable, then drains each that is.
pub(crate) fn poll_all(
    interfaces: &mut [LiveInterface],
    listeners: &mut [Listener],
    timeout_ms: u16,
    each: &mut dyn FnMut(Packet<'_>),
) -> Result<Status, CaptureError> {
    let ready = wait_readable(interfaces, listeners, timeout_ms)?;
    let (ifs, ls) = ready.split_at(interfaces.len());
    for (i, r) in interfaces.iter_mut().zip(ifs) {
        if *r {
            i.drain(each);
        }
    }
    for (l, r) in listeners.iter_mut().zip(ls) {
        if *r {
            l.drain(each)?;
        }
    }
    Ok(Status::Open)
}

fn wait_readable(
    interfaces: &[LiveInterface],
    listeners: &[Listener],
    timeout_ms: u16,
) -> Result<Vec<bool>, CaptureError> {
    // Each descriptor is borrowed from its source, so none can close while poll(2) waits on it.
    let mut pfds: Vec<PollFd<'_>> = interfaces
        .iter()
        .map(|i| i.cap.as_fd())
        .chain(listeners.iter().map(|l| l.as_fd()))
        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
        .collect();
    match poll(&mut pfds, PollTimeout::from(timeout_ms)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(CaptureError::Poll(e.into())),
    }
    Ok(pfds
        .iter()
        .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// What `anyhow`'s `{:#}` prints: the error, then each source, joined by ": ".
    fn chain(e: &dyn Error) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(s) = next {
            out += &format!(": {s}");
            next = s.source();
        }
        out
    }

    #[test]
    fn a_libpcap_error_is_printed_once() {
        let o = LiveOptions {
            buffer: 1 << 20,
            snaplen: 65535,
            immediate: true,
            block_timeout_ms: 1,
        };
        let Err(e) = LiveInterface::open("nosuchif0", "udp", o) else {
            panic!("nosuchif0 opened");
        };
        let cause = e.source().map(|s| s.to_string()).unwrap_or_default();
        let text = chain(&e);
        assert!(text.starts_with("interface nosuchif0: "), "{text}");
        assert!(
            !cause.is_empty() && text.matches(&cause).count() == 1,
            "{text}"
        );
    }
}
