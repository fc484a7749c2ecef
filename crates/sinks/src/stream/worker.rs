//! The thread that owns one destination: connects (with backoff), streams what `offer` queued, follows
//! acknowledgments, and on failure puts the unacknowledged messages back at the front of the queue.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use super::conn::{Acked, Conn};
use super::dest::Destination;
use super::tls::TlsClient;
use super::Shared;

/// How long the thread sleeps on an idle queue (and so how soon it notices an idle peer hang up).
const IDLE_MS: u16 = 20;
/// The kernel fails a connection whose bytes stay unacknowledged this long.
const USER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the thread needs besides the queue; built and checked by `StreamSink::start`.
pub(super) struct Plan {
    pub dest: Destination,
    pub tls: Option<TlsClient>,
    pub connect_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

pub(super) struct Worker {
    plan: Plan,
    rx: Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    pending: VecDeque<Vec<u8>>,
    delay: Duration,
    /// Set once `shutdown` closed the queue: the instant after which what is left is dropped.
    stop: Option<Instant>,
}

impl Worker {
    pub fn new(plan: Plan, rx: Receiver<Vec<u8>>, shared: Arc<Shared>) -> Self {
        let delay = plan.backoff_initial;
        Self {
            plan,
            rx,
            shared,
            pending: VecDeque::new(),
            delay,
            stop: None,
        }
    }

    pub fn run(mut self) {
        while !self.finished() {
            match self.connect() {
                Ok(conn) => {
                    self.on_connect();
                    self.serve(conn);
                }
                Err(e) => {
                    self.shared.connect_failures.fetch_add(1, Relaxed);
                    self.shared
                        .set_error(format!("connect to {}: {e}", self.plan.dest));
                }
            }
            if !self.finished() {
                self.backoff();
            }
        }
        self.drop_rest();
    }

    fn finished(&self) -> bool {
        self.stop
            .is_some_and(|at| self.pending.is_empty() || Instant::now() >= at)
    }

    fn on_connect(&mut self) {
        self.shared.connects.fetch_add(1, Relaxed);
        self.shared.connected.store(true, Relaxed);
        self.delay = self.plan.backoff_initial;
    }

    /// Streams until the connection fails or a shutdown is complete (or out of time).
    fn serve(&mut self, mut conn: Conn) {
        let failure = loop {
            if let Err(e) = self.step(&mut conn) {
                break Some(e);
            }
            if self.stop_reached(&conn) {
                break None;
            }
        };
        self.shared.connected.store(false, Relaxed);
        let failed = failure.is_some();
        if let Some(e) = failure {
            self.shared.disconnects.fetch_add(1, Relaxed);
            self.shared
                .set_error(format!("connection to {} lost: {e}", self.plan.dest));
        }
        self.requeue(conn, failed);
    }

    fn step(&mut self, conn: &mut Conn) -> io::Result<()> {
        let idle = self.pending.is_empty() && !conn.has_unwritten();
        let open = self.stop.is_none();
        self.receive(if idle && open { IDLE_MS } else { 0 });
        conn.fill(&mut self.pending)?;
        conn.flush()?;
        self.account(conn.take_acked());
        let blocked = conn.has_unwritten() || (idle && !open);
        conn.wait(if blocked { IDLE_MS } else { 0 })
    }

    fn stop_reached(&self, conn: &Conn) -> bool {
        let Some(at) = self.stop else { return false };
        let drained = self.pending.is_empty() && conn.in_flight() == 0;
        drained || Instant::now() >= at
    }

    /// After a connection ends: count what it acknowledged; what it did not goes back to the front (to be
    /// resent after a failure; at the shutdown deadline, to be counted as dropped).
    fn requeue(&mut self, conn: Conn, failed: bool) {
        if conn.in_flight() == 0 && self.pending.is_empty() {
            conn.close();
            return;
        }
        let (acked, rest) = conn.into_unacked();
        self.account(acked);
        if failed {
            self.shared.resent.fetch_add(rest.len() as u64, Relaxed);
        }
        for msg in rest.into_iter().rev() {
            self.pending.push_front(msg);
        }
    }

    fn account(&self, acked: Acked) {
        if acked.messages > 0 {
            self.shared.forwarded.fetch_add(acked.messages, Relaxed);
            self.shared.release(acked.messages, acked.bytes);
        }
    }

    /// Moves queued messages into `pending`, waiting up to `ms` for the first.
    fn receive(&mut self, ms: u16) {
        let first = match ms {
            0 => self
                .rx
                .try_recv()
                .map_err(|e| e == TryRecvError::Disconnected),
            _ => (self.rx.recv_timeout(Duration::from_millis(ms.into())))
                .map_err(|e| e == RecvTimeoutError::Disconnected),
        };
        let mut next = first;
        loop {
            match next {
                Ok(msg) => self.pending.push_back(msg),
                Err(true) => return self.on_stop(),
                Err(false) => return,
            }
            next = self
                .rx
                .try_recv()
                .map_err(|e| e == TryRecvError::Disconnected);
        }
    }

    fn on_stop(&mut self) {
        if self.stop.is_none() {
            self.stop = Some(self.shared.stop_deadline());
        }
    }

    /// Sleeps the current backoff (cut short by the shutdown deadline), taking in messages meanwhile.
    fn backoff(&mut self) {
        let mut until = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(self.plan.backoff_max);
        loop {
            if let Some(at) = self.stop {
                until = until.min(at);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.stop {
                Some(_) => std::thread::sleep(left),
                None => self.receive(left.as_millis().clamp(1, u16::MAX.into()) as u16),
            }
        }
    }

    fn connect(&mut self) -> io::Result<Conn> {
        let deadline = Instant::now() + self.plan.connect_timeout;
        let deadline = self.stop.map_or(deadline, |at| deadline.min(at));
        let addrs: Vec<SocketAddr> = (self.plan.dest.host.as_str(), self.plan.dest.port)
            .to_socket_addrs()?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
        for addr in addrs {
            match self.connect_to(addr, deadline) {
                Ok(conn) => return Ok(conn),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_to(&self, addr: SocketAddr, deadline: Instant) -> io::Result<Conn> {
        let sock = tcp_socket(addr)?;
        sock.connect_timeout(&addr.into(), remaining(deadline)?)?;
        let Some(tls) = &self.plan.tls else {
            sock.set_nonblocking(true)?;
            return Ok(Conn::new(sock, None, 0));
        };
        let mut session = tls.session().map_err(io::Error::other)?;
        let written = handshake(&sock, &mut session, deadline)?;
        sock.set_nonblocking(true)?;
        Ok(Conn::new(sock, Some(session), written))
    }

    /// Whatever is still queued when the thread ends was not delivered.
    fn drop_rest(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            self.pending.push_back(msg);
        }
        let n = self.pending.len() as u64;
        let bytes = self.pending.drain(..).map(|m| m.len() as u64).sum();
        self.shared.dropped_at_exit.fetch_add(n, Relaxed);
        self.shared.release(n, bytes);
    }
}

fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_tcp_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10));
    sock.set_tcp_keepalive(&keepalive)?;
    sock.set_tcp_user_timeout(Some(USER_TIMEOUT))?;
    Ok(sock)
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    match deadline.saturating_duration_since(Instant::now()) {
        d if d.is_zero() => Err(io::Error::new(io::ErrorKind::TimedOut, "out of time")),
        d => Ok(d),
    }
}

/// Runs the TLS handshake on the still-blocking socket within the deadline; returns the bytes it wrote.
fn handshake(
    sock: &Socket,
    session: &mut rustls::ClientConnection,
    deadline: Instant,
) -> io::Result<u64> {
    let mut io = Counting { sock, written: 0 };
    while session.is_handshaking() {
        let t = remaining(deadline)?;
        sock.set_read_timeout(Some(t))?;
        sock.set_write_timeout(Some(t))?;
        session.complete_io(&mut io)?;
    }
    while session.wants_write() {
        session.write_tls(&mut io)?;
    }
    Ok(io.written)
}

/// The socket as rustls sees it during the handshake, counting the bytes that go out.
struct Counting<'a> {
    sock: &'a Socket,
    written: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.sock;
        s.read(buf)
    }
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.sock.send_with_flags(buf, libc::MSG_NOSIGNAL)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
