//! One live connection: the bytes of the stream (plain or TLS ciphertext), the offset at which every
//! message in flight ends, and the kernel's word on how much of the stream the peer acknowledged.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustls::ClientConnection;
use socket2::Socket;

/// Stop framing new messages while this much is waiting for the socket.
const OUT_HIGH_WATER: usize = 256 << 10;
/// With TLS, messages are sealed in runs of about this much plaintext (a TLS record holds at most 16 KiB).
const RECORD_PLAINTEXT: usize = 8 << 10;

/// Messages whose stream bytes the peer acknowledged: how many, and their framed size.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Acked {
    pub messages: u64,
    pub bytes: u64,
}

pub(super) struct Conn {
    sock: Socket,
    tls: Option<Box<ClientConnection>>,
    /// Stream bytes not yet accepted by the kernel start at `out[out_pos]`.
    out: Vec<u8>,
    out_pos: usize,
    /// TLS: plaintext of the messages about to be sealed together.
    plain: Vec<u8>,
    /// Stream bytes the kernel accepted so far on this connection (TLS handshake included).
    written: u64,
    /// Messages framed into the stream and not yet acknowledged, with the stream offset where each ends.
    window: VecDeque<(u64, Vec<u8>)>,
}

impl Conn {
    /// `written`: bytes already sent on `sock` (the TLS handshake). `sock` must be nonblocking.
    pub fn new(sock: Socket, tls: Option<ClientConnection>, written: u64) -> Self {
        Self {
            sock,
            tls: tls.map(Box::new),
            out: Vec::with_capacity(OUT_HIGH_WATER * 2),
            out_pos: 0,
            plain: Vec::new(),
            written,
            window: VecDeque::new(),
        }
    }

    pub fn has_unwritten(&self) -> bool {
        self.out_pos < self.out.len()
    }

    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Moves messages from the front of `pending` into the stream, up to the high-water mark. With TLS, runs
    /// of messages up to one record's worth share a record (and so the offset where it ends).
    pub fn fill(&mut self, pending: &mut VecDeque<Vec<u8>>) -> io::Result<()> {
        self.compact();
        while self.out.len() - self.out_pos < OUT_HIGH_WATER && !pending.is_empty() {
            let first = self.window.len();
            let mut plain = 0;
            while let Some(msg) = pending.pop_front() {
                plain += msg.len();
                self.stage(&msg);
                self.window.push_back((0, msg));
                if self.tls.is_none() || plain >= RECORD_PLAINTEXT {
                    break;
                }
            }
            self.seal()?;
            let end = self.written + (self.out.len() - self.out_pos) as u64;
            self.window.range_mut(first..).for_each(|(e, _)| *e = end);
        }
        Ok(())
    }

    fn stage(&mut self, msg: &[u8]) {
        match self.tls {
            None => self.out.extend_from_slice(msg),
            Some(_) => self.plain.extend_from_slice(msg),
        }
    }

    /// Encrypts what `stage` collected (TLS) into `out`.
    fn seal(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            tls.writer().write_all(&self.plain)?;
            self.plain.clear();
            drain_tls(tls, &mut self.out)?;
        }
        Ok(())
    }

    fn compact(&mut self) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos >= OUT_HIGH_WATER {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Hands the kernel as much of the stream as it takes without waiting.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.has_unwritten() {
            match self
                .sock
                .send_with_flags(&self.out[self.out_pos..], libc::MSG_NOSIGNAL)
            {
                Ok(n) => {
                    self.out_pos += n;
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Releases the messages whose last stream byte the peer acknowledged (`SIOCOUTQ`; valid also after the
    /// connection failed). When the kernel cannot tell, nothing is released.
    pub fn take_acked(&mut self) -> Acked {
        let mut acked = Acked::default();
        let Ok(unacked) = unacked_bytes(self.sock.as_fd()) else {
            return acked;
        };
        let through = self.written.saturating_sub(unacked as u64);
        while let Some((_, msg)) = self.window.front().filter(|(end, _)| *end <= through) {
            acked.messages += 1;
            acked.bytes += msg.len() as u64;
            self.window.pop_front();
        }
        acked
    }

    /// Waits up to `ms` for the socket to become writable (when bytes wait) or readable, and reads what the
    /// peer sent: EOF, a reset or a TLS alert/close_notify is an error (the connection is over).
    pub fn wait(&mut self, ms: u16) -> io::Result<()> {
        let mut flags = PollFlags::POLLIN;
        if self.has_unwritten() {
            flags |= PollFlags::POLLOUT;
        }
        let mut fds = [PollFd::new(self.sock.as_fd(), flags)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = fds[0].revents().unwrap_or(PollFlags::empty());
        match ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            true => self.read_incoming(),
            false => Ok(()),
        }
    }

    fn read_incoming(&mut self) -> io::Result<()> {
        match &mut self.tls {
            None => discard_plain(&self.sock),
            Some(tls) => {
                read_tls(&self.sock, tls)?;
                drain_tls(tls, &mut self.out)
            }
        }
    }

    /// The connection is over: returns what the peer acknowledged and, in order, the messages it did not.
    pub fn into_unacked(mut self) -> (Acked, VecDeque<Vec<u8>>) {
        let acked = self.take_acked();
        let rest = self.window.drain(..).map(|(_, m)| m).collect();
        (acked, rest)
    }

    /// Ends a connection with nothing in flight: TLS close_notify, then FIN.
    pub fn close(mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = drain_tls(tls, &mut self.out);
            let _ = self.flush();
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }
}

/// Appends every ciphertext byte rustls has ready to `out`.
fn drain_tls(tls: &mut ClientConnection, out: &mut Vec<u8>) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(out)?;
    }
    Ok(())
}

/// A syslog receiver sends nothing; read and drop whatever comes, and report EOF or an error.
fn discard_plain(mut sock: &Socket) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return Err(eof("peer closed the connection")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Feeds rustls what arrived (session tickets, alerts, close_notify) and drops any application data.
fn read_tls(mut sock: &Socket, tls: &mut ClientConnection) -> io::Result<()> {
    loop {
        match tls.read_tls(&mut sock) {
            Ok(0) => return Err(eof("peer closed the connection")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let state = tls
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if state.plaintext_bytes_to_read() > 0 {
            let mut sink = vec![0u8; state.plaintext_bytes_to_read()];
            let _ = tls.reader().read(&mut sink);
        }
        if state.peer_has_closed() {
            return Err(eof("peer sent TLS close_notify"));
        }
    }
}

/// Bytes written to a TCP socket that the peer has not acknowledged yet (`SIOCOUTQ`: unsent plus sent but
/// unacknowledged). The kernel keeps answering after the connection failed (reset, peer closed), which is when
/// a stream sink needs it: `written - unacked_bytes` is how much of the byte stream reached the peer.
#[allow(unsafe_code)] // neither nix nor socket2 wraps this ioctl
fn unacked_bytes(sock: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: the borrowed descriptor is open for the call; SIOCOUTQ (== TIOCOUTQ) writes one c_int through
    // the pointer, which points at a live local.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative SIOCOUTQ"))
}

fn eof(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn unacked_bytes_drain_once_the_peer_acknowledges() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _rx = listener.accept().unwrap();
        assert_eq!(unacked_bytes(tx.as_fd()).unwrap(), 0);
        tx.write_all(&[7; 1000]).unwrap();
        // The peer's kernel acknowledges without the peer reading; loopback takes microseconds.
        let deadline = Instant::now() + Duration::from_secs(5);
        while unacked_bytes(tx.as_fd()).unwrap() != 0 {
            assert!(Instant::now() < deadline, "never acknowledged");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
