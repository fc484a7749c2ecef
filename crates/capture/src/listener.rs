//! A plain UDP listener, for when sekiwake is itself the collector's address. Batched with recvmmsg(2).

use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, Socket, Type};
use udpio::RecvBatch;

use crate::{now_ns, Body, CaptureError, Packet};

const BATCH: usize = 64;
const SLOT: usize = 65536;
/// Receive buffer asked for (SO_RCVBUFFORCE when privileged, else capped by net.core.rmem_max).
const RCVBUF: usize = 32 << 20;
/// Batches read per readiness before other sources get their turn.
const ROUNDS: usize = 64;

pub struct Listener {
    socket: Socket,
    local: SocketAddr,
    batch: RecvBatch,
    truncated: u64,
}

/// The socket, for poll(2): borrowed from the listener, so it stays open while the borrow lives.
impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Listener {
    pub fn bind(addr: SocketAddr) -> Result<Self, CaptureError> {
        let err = |source| CaptureError::Listen { addr, source };
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(err)?;
        if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &RCVBUF)
            .is_err()
        {
            socket.set_recv_buffer_size(RCVBUF).map_err(err)?;
        }
        socket.set_reuse_address(true).map_err(err)?;
        socket.bind(&addr.into()).map_err(err)?;
        socket.set_nonblocking(true).map_err(err)?;
        let local = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);
        Ok(Self {
            socket,
            local,
            batch: RecvBatch::new(BATCH, SLOT),
            truncated: 0,
        })
    }

    pub(crate) fn truncated(&self) -> u64 {
        self.truncated
    }

    /// Datagrams the kernel dropped because this socket's receive queue was full (`SO_MEMINFO`). Reading
    /// /proc/net/udp for the same figure walks the kernel's whole UDP table and, measured, stalled the
    /// relay for seconds under load. `None` when the kernel does not tell.
    pub(crate) fn kernel_dropped(&self) -> Option<u64> {
        udpio::socket_drops(self.socket.as_fd()).ok()
    }

    /// The address it is bound to.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Sends `payload` from this socket to `to` (an answer to what `to` sent here, e.g. an inform's Response),
    /// without blocking.
    pub fn answer(&self, to: SocketAddr, payload: &[u8]) -> std::io::Result<usize> {
        self.socket.send_to(payload, &to.into())
    }

    pub(crate) fn drain(&mut self, each: &mut dyn FnMut(Packet<'_>)) -> Result<(), CaptureError> {
        for _ in 0..ROUNDS {
            let n =
                self.batch
                    .recv(self.socket.as_fd())
                    .map_err(|source| CaptureError::Listen {
                        addr: self.local,
                        source,
                    })?;
            let ts = now_ns();
            for i in 0..n {
                // An IP socket always reports an IPv4 or IPv6 sender, so nothing is skipped here.
                let Some((payload, Some(src), truncated)) = self.batch.get(i) else {
                    continue;
                };
                self.truncated += u64::from(truncated);
                each(Packet {
                    ts_ns: ts,
                    iface: "udp",
                    body: Body::Udp {
                        src,
                        dst: self.local,
                        payload,
                    },
                });
            }
            if n < BATCH {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_listener_reads_its_own_count() {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(l.kernel_dropped(), Some(0));
    }
}
