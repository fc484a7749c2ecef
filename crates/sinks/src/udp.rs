//! Plain UDP: one connected, nonblocking socket per destination, batched with sendmmsg(2).
//!
//! The socket is bound to the forwarder's loop-guard source port (with SO_REUSEADDR, so every destination
//! shares it): a capture on the same host filters that source port out and never publishes what forward sent.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, MsgFlags};
use socket2::{Domain, Protocol, Socket, Type};
use udpio::{send_batch, SendOutcome};

use crate::SinkStats;

/// How long a full socket buffer may hold up this destination before its batch is dropped (counted).
const FULL_GRACE_MS: u8 = 5;
const SNDBUF: usize = 4 << 20;

pub struct UdpSink {
    socket: Socket,
    stats: SinkStats,
    /// Where [`UdpSink::receive`] reads what the destination sends back (allocated at its first use).
    answer: Vec<u8>,
}

impl UdpSink {
    /// Connects to `peer`, sending from `source_port` (0: any port).
    pub fn connect(peer: SocketAddr, source_port: u16) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
        let local: IpAddr = if peer.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        if peer.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_reuse_address(true)?;
        let _ = socket.set_send_buffer_size(SNDBUF);
        socket.bind(&SocketAddr::new(local, source_port).into())?;
        socket.connect(&peer.into())?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            stats: SinkStats::default(),
            answer: Vec::new(),
        })
    }

    pub fn stats(&self) -> SinkStats {
        self.stats
    }

    /// Sends every datagram, byte-exact. Never blocks for longer than the grace period; whatever cannot be
    /// sent is counted with its reason.
    pub fn send(&mut self, msgs: &[&[u8]]) {
        let mut at = 0;
        let mut waited = false;
        while at < msgs.len() {
            match send_batch(self.socket.as_fd(), &msgs[at..]) {
                SendOutcome::Sent(n) => {
                    self.stats.forwarded += n as u64;
                    at += n;
                }
                SendOutcome::WouldBlock if !waited => {
                    waited = true;
                    self.wait_writable();
                }
                SendOutcome::WouldBlock => {
                    self.stats.dropped_full += (msgs.len() - at) as u64;
                    return;
                }
                SendOutcome::Failed(e) => {
                    if e.kind() == io::ErrorKind::ConnectionRefused {
                        self.stats.refused += 1;
                    } else {
                        self.stats.failed += 1;
                    }
                    at += 1;
                }
            }
        }
    }

    /// Reads what the destination sent back to our source port, without blocking, at most `max` datagrams,
    /// each handed to `seen`. Collectors of syslog and flows send nothing; an SNMP receiver answers an inform
    /// with a Response (and an SNMPv3 engine discovery with a Report): unread, they would fill the socket's
    /// receive queue without a word. A pending ICMP unreachable read here is counted apart
    /// (`unreachable_reports`): it no longer fails the next send, so no datagram is refused for it.
    pub fn receive(&mut self, max: usize, seen: &mut dyn FnMut(&[u8])) -> usize {
        if self.answer.is_empty() {
            self.answer = vec![0; 65536];
        }
        let mut got = 0;
        while got < max {
            match recv(
                self.socket.as_raw_fd(),
                &mut self.answer,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) => {
                    seen(&self.answer[..n]);
                    got += 1;
                }
                Err(Errno::ECONNREFUSED) => self.stats.unreachable_reports += 1,
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        got
    }

    fn wait_writable(&self) {
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLOUT)];
        let _ = poll(&mut fds, PollTimeout::from(FULL_GRACE_MS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn sends_byte_exact_and_destinations_share_a_source_port() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut a = UdpSink::connect(rx.local_addr().unwrap(), 0).unwrap();
        let from = a.socket.local_addr().unwrap().as_socket().unwrap().port();
        // A second destination may share the same source port.
        let rx2 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut b = UdpSink::connect(rx2.local_addr().unwrap(), from).unwrap();
        a.send(&[b"one", b"two"]);
        b.send(&[b"three"]);
        let mut buf = [0u8; 16];
        let (n, src) = rx.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], src.port()), (&b"one"[..], from));
        let (n, src) = rx2.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], src.port()), (&b"three"[..], from));
        assert_eq!(a.stats().forwarded, 2);
    }

    #[test]
    fn answers_from_the_destination_are_read_without_blocking() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut sink = UdpSink::connect(rx.local_addr().unwrap(), 0).unwrap();
        let mut seen = Vec::new();
        assert_eq!(
            sink.receive(8, &mut |p| seen.push(p.to_vec())),
            0,
            "nothing yet"
        );
        sink.send(&[b"inform"]);
        let mut buf = [0u8; 64];
        let (_, from) = rx.recv_from(&mut buf).unwrap();
        for answer in [&b"response 1"[..], b"response 2", b"response 3"] {
            rx.send_to(answer, from).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            sink.receive(2, &mut |p| seen.push(p.to_vec())),
            2,
            "at most max"
        );
        assert_eq!(sink.receive(8, &mut |p| seen.push(p.to_vec())), 1);
        assert_eq!(seen, [&b"response 1"[..], b"response 2", b"response 3"]);
    }

    #[test]
    fn refusals_are_counted_and_do_not_stop_the_batch() {
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        let mut s = UdpSink::connect(addr, 0).unwrap();
        for _ in 0..20 {
            s.send(&[b"a", b"b", b"c"]);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let st = s.stats();
        assert_eq!(st.forwarded + st.refused + st.failed + st.dropped_full, 60);
        assert!(st.refused > 0);
    }
}
