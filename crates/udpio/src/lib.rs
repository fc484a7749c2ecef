//! Batched UDP I/O over `recvmmsg(2)` and `sendmmsg(2)`, behind a safe interface. The `unsafe` of the
//! project's UDP socket code lives here and nowhere else.
//!
//! Sockets are passed as [`BorrowedFd`]: a safe caller can only name a descriptor something it borrows keeps
//! open for the call, never a raw number that may be closed or belong to someone else.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Buffers for receiving up to `n` datagrams of at most `slot` bytes each in one system call.
pub struct RecvBatch {
    slot: usize,
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    count: usize,
}

// SAFETY: the raw pointers inside `iovecs` and `hdrs` only point into the batch's own heap buffers, which move
// with it; nothing is shared between threads.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new(n: usize, slot: usize) -> Self {
        Self {
            slot,
            bufs: vec![0; n * slot],
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
            addrs: vec![unsafe { zeroed() }; n],
            iovecs: Vec::with_capacity(n),
            hdrs: Vec::with_capacity(n),
            count: 0,
        }
    }

    /// Receives what is queued on `fd` without waiting. Returns the number of datagrams (0 when none).
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        self.point_headers();
        // SAFETY: every header points at a live iovec over a distinct `slot`-sized region of `bufs` and at a
        // live sockaddr_storage, and vlen equals the number of headers.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                self.hdrs.len() as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.count = 0;
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        self.count = n as usize;
        Ok(self.count)
    }

    fn point_headers(&mut self) {
        let n = self.addrs.len();
        self.iovecs.clear();
        self.hdrs.clear();
        for (chunk, _) in self.bufs.chunks_mut(self.slot).zip(0..n) {
            self.iovecs.push(libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: chunk.len(),
            });
        }
        for i in 0..n {
            // SAFETY: mmsghdr is plain data; the fields we need are set below.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_iov = &mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            self.hdrs.push(h);
        }
    }

    /// Datagram `i` of the last receive: its bytes (cut at `slot`), the sender, and whether it was truncated.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>, bool)> {
        if i >= self.count {
            return None;
        }
        let h = &self.hdrs[i];
        let len = (h.msg_len as usize).min(self.slot);
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let data = &self.bufs[i * self.slot..i * self.slot + len];
        Some((data, socket_addr(&self.addrs[i]), truncated))
    }
}

/// Reads an IPv4 or IPv6 address the kernel wrote into a sockaddr_storage.
fn socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    let ptr: *const libc::sockaddr_storage = ss;
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says the storage holds a sockaddr_in, which it is large and aligned enough for.
            let sin = unsafe { &*ptr.cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*ptr.cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(sin6.sin6_port)))
        }
        _ => None,
    }
}

/// Outcome of a batched send on a connected socket.
#[derive(Debug)]
pub enum SendOutcome {
    /// This many datagrams (from the front) were sent; 0 < n.
    Sent(usize),
    /// The socket buffer is full (EAGAIN): nothing more could be sent now.
    WouldBlock,
    /// The first unsent datagram failed with this error (e.g. ECONNREFUSED after an ICMP unreachable).
    Failed(io::Error),
}

/// Sends as many of `msgs` as one `sendmmsg(2)` takes on a connected socket, without waiting.
pub fn send_batch(fd: BorrowedFd<'_>, msgs: &[&[u8]]) -> SendOutcome {
    let n = msgs.len().min(1024);
    let mut iovecs: Vec<libc::iovec> = msgs[..n]
        .iter()
        .map(|m| libc::iovec {
            iov_base: m.as_ptr() as *mut libc::c_void,
            iov_len: m.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: plain data; a null msg_name sends to the connected peer.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: headers point at iovecs over the caller's slices, which outlive the call; the kernel only reads
    // them. vlen equals the header count.
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as u32,
            libc::MSG_DONTWAIT,
        )
    };
    if rc > 0 {
        return SendOutcome::Sent(rc as usize);
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock => SendOutcome::WouldBlock,
        _ if n == 0 => SendOutcome::Sent(0),
        _ => SendOutcome::Failed(e),
    }
}

/// Which IP version a socket speaks, for the socket options that differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// The path MTU the kernel knows for the peer of a connected socket (`IP_MTU` / `IPV6_MTU`): the route's
/// MTU, lowered by any ICMP "fragmentation needed" / "packet too big" the host has seen for that peer.
pub fn path_mtu(fd: BorrowedFd<'_>, family: Family) -> io::Result<usize> {
    let (level, name) = match family {
        Family::V4 => (libc::IPPROTO_IP, libc::IP_MTU),
        Family::V6 => (libc::IPPROTO_IPV6, libc::IPV6_MTU),
    };
    let mut mtu: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: both options write one c_int; the pointers are to live locals and `len` says their size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative MTU"))
}

/// The index of the drop count in `SO_MEMINFO`'s array (`SK_MEMINFO_DROPS`, Linux 4.19 and later).
const SK_MEMINFO_DROPS: usize = 8;

/// Datagrams the kernel dropped at this socket (a full receive queue): `SO_MEMINFO`'s drop count, the
/// figure /proc/net/udp shows in its `drops` column, read from the socket itself in constant time.
pub fn socket_drops(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut info = [0u32; 16];
    let mut len = size_of::<[u32; 16]>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes of u32s into `info`, a live local of that size, and
    // sets `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < (SK_MEMINFO_DROPS + 1) * size_of::<u32>() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_MEMINFO has no drop count",
        ));
    }
    Ok(u64::from(info[SK_MEMINFO_DROPS]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    #[test]
    fn batch_round_trip() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let msgs: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 100 + i as usize]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        assert!(matches!(
            send_batch(tx.as_fd(), &refs),
            SendOutcome::Sent(10)
        ));
        let mut b = RecvBatch::new(16, 2048);
        let mut got = Vec::new();
        while got.len() < 10 {
            let n = b.recv(rx.as_fd()).unwrap();
            for i in 0..n {
                let (d, from, trunc) = b.get(i).unwrap();
                assert_eq!(from, Some(tx.local_addr().unwrap()));
                assert!(!trunc);
                got.push(d.to_vec());
            }
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn path_mtu_of_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let mtu = path_mtu(tx.as_fd(), Family::V4).unwrap();
        assert!(mtu >= 1280, "{mtu}");
        let unconnected = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(path_mtu(unconnected.as_fd(), Family::V4).is_err());
    }

    #[test]
    fn refused_destination_reports_an_error() {
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        let msg: &[u8] = b"x";
        let mut refused = false;
        for _ in 0..50 {
            if let SendOutcome::Failed(e) = send_batch(tx.as_fd(), &[msg]) {
                refused = e.kind() == io::ErrorKind::ConnectionRefused;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(refused);
    }
}
