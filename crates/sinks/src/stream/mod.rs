//! Syslog over a byte stream: `tcp://HOST:PORT` (RFC 6587) and `tls://HOST:PORT` (RFC 5425).
//!
//! # Shape
//! [`StreamSink::start`] checks the configuration (destination, CA/certificate/key files) and spawns one thread
//! that owns the connection. [`StreamSink::offer`] frames a copy of the datagram and hands it to that thread
//! through a queue bounded in messages and in bytes; it never blocks and never waits for the network: past
//! either bound the message is dropped and counted (`dropped_full`). [`StreamSink::stats`] reads counters the
//! thread keeps in atomics. [`StreamSink::shutdown`] closes the queue, lets the thread deliver what it holds
//! until a deadline, counts the rest as `dropped_at_exit`, and joins it.
//!
//! Frames: octet counting `LEN SP MSG` (default; LEN is the decimal byte count of MSG, which is the datagram
//! byte for byte), or with `?framing=lf`, `MSG LF` where one trailing LF of the datagram is replaced rather
//! than doubled.
//!
//! The thread reconnects with exponential backoff (`backoff_initial` doubling to `backoff_max`, back to the
//! start after a successful connect). It polls the socket also while idle, so a peer that closes (FIN, RST,
//! TLS close_notify or alert) is noticed within ~20 ms, not at the next write.
//!
//! # Delivery guarantee
//! Messages leave in the order they were offered, on one connection at a time. A message counts as
//! `forwarded` once the peer's TCP stack has acknowledged the last byte of its frame (for TLS: the last
//! ciphertext byte of the TLS record that carries it; runs of queued messages up to 8 KiB are sealed
//! into one record and so share that offset): the thread keeps each written message with the stream offset
//! where it ends and asks the kernel how much of the stream is still unacknowledged (`SIOCOUTQ`). When a
//! connection fails, every message not yet acknowledged, including those written into a socket the peer had
//! already closed, is put back at the front of the queue and written again, in order, on the next connection
//! (counted in `resent`). So, while the process runs and the queue bound holds:
//!
//! * no message acknowledged by the receiving host's TCP stack is resent, and none that was not is lost;
//! * a message may arrive twice (at most once per connection failure, only messages that were in flight at
//!   the failure): when the peer received it but its acknowledgment did not reach us before the connection
//!   died. At-least-once, with duplicates only around a reconnect, never reordered except that a resent
//!   run repeats messages the receiver may already have.
//! * over plain TCP a connection that dies mid-frame may leave the receiver a truncated last frame (how it
//!   treats that is up to it); the whole message is resent. A TLS receiver discards a partial record.
//!
//! What it does not cover: TCP acknowledgment is not application acknowledgment. A receiver that is killed
//! (or closes) with bytes still unread in its socket buffer, or that drops messages it had read but not yet
//! stored, loses them and we cannot tell (RFC 6587/5425 have no application ack; RELP does). Messages beyond
//! the queue bound (`dropped_full`) and those still queued when `shutdown`'s deadline passes (or when the
//! process dies) are lost and counted where possible. Counters satisfy
//! `offered = forwarded + dropped_full + dropped_at_exit + queued_messages`.

mod conn;
mod dest;
mod tls;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use dest::{Destination, Framing, Transport};

/// TLS settings for a `tls://` destination. All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) the server certificate must chain to. Unset: the system roots.
    pub ca_file: Option<PathBuf>,
    /// Name the server certificate must carry (DNS name or IP address). Unset: the destination's HOST.
    pub server_name: Option<String>,
    /// PEM certificate chain presented to the server (mutual TLS). Needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Everything a stream sink needs; [`StreamConfig::new`] fills the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Where to connect, and how messages are framed.
    pub destination: Destination,
    /// At most this many messages are queued (offered, not yet acknowledged). Default 100 000.
    pub queue_messages: usize,
    /// At most this many framed bytes are queued. Default 64 MiB.
    pub queue_bytes: usize,
    /// Used only with `tls://`; giving any of it for `tcp://` is a configuration error.
    pub tls: TlsOptions,
    /// TCP connect plus TLS handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// First pause after a failed connect or a lost connection. Default 100 ms.
    pub backoff_initial: Duration,
    /// The pause doubles up to this. Default 5 s.
    pub backoff_max: Duration,
}

impl StreamConfig {
    /// `tcp://HOST:PORT[?framing=lf|octet-counting]` or `tls://HOST:PORT[?framing=...]`, with defaults.
    pub fn parse(url: &str) -> Result<Self, StreamError> {
        Destination::parse(url).map(Self::new)
    }

    pub fn new(destination: Destination) -> Self {
        Self {
            destination,
            queue_messages: 100_000,
            queue_bytes: 64 << 20,
            tls: TlsOptions::default(),
            connect_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// Start-time errors: the sink did not start.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("destination {destination:?}: {reason}")]
    BadDestination { destination: String, reason: String },
    #[error("{what} file {}: {reason}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    BadConfig(String),
    #[error("cannot start the sink thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// A snapshot of the sink's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Calls to `offer`.
    pub offered: u64,
    /// Delivered: written, and acknowledged by the peer's TCP stack.
    pub forwarded: u64,
    /// Refused by `offer` because the queue was at its message or byte bound.
    pub dropped_full: u64,
    /// Still queued when `shutdown` ran out of time (or the sink was dropped).
    pub dropped_at_exit: u64,
    /// Offered and not yet delivered or dropped (including messages written but not yet acknowledged).
    pub queued_messages: u64,
    /// Framed bytes of `queued_messages`.
    pub queued_bytes: u64,
    /// Messages written again after a connection failed before they were acknowledged (possible duplicates).
    pub resent: u64,
    /// Connections established (TLS: handshake done).
    pub connects: u64,
    /// Connect or handshake attempts that failed.
    pub connect_failures: u64,
    /// Established connections that failed (peer closed, reset, TLS alert, write error).
    pub disconnects: u64,
    pub connected: bool,
    /// The latest connect or connection error, for logs.
    pub last_error: Option<String>,
}

/// Counters shared between `offer`/`stats` and the thread.
#[derive(Default)]
struct Shared {
    offered: AtomicU64,
    forwarded: AtomicU64,
    dropped_full: AtomicU64,
    dropped_at_exit: AtomicU64,
    queued_messages: AtomicU64,
    queued_bytes: AtomicU64,
    resent: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    disconnects: AtomicU64,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    stop_deadline: Mutex<Option<Instant>>,
}

impl Shared {
    fn release(&self, messages: u64, bytes: u64) {
        self.queued_messages.fetch_sub(messages, Relaxed);
        self.queued_bytes.fetch_sub(bytes, Relaxed);
    }

    fn set_error(&self, e: String) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(e);
        }
    }

    fn stop_deadline(&self) -> Instant {
        let set = self.stop_deadline.lock().ok().and_then(|d| *d);
        set.unwrap_or_else(Instant::now)
    }

    fn snapshot(&self) -> StreamStats {
        StreamStats {
            offered: self.offered.load(Relaxed),
            forwarded: self.forwarded.load(Relaxed),
            dropped_full: self.dropped_full.load(Relaxed),
            dropped_at_exit: self.dropped_at_exit.load(Relaxed),
            queued_messages: self.queued_messages.load(Relaxed),
            queued_bytes: self.queued_bytes.load(Relaxed),
            resent: self.resent.load(Relaxed),
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            connected: self.connected.load(Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// A running stream sink for one destination.
pub struct StreamSink {
    destination: Destination,
    limits: (u64, u64),
    shared: Arc<Shared>,
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamSink {
    /// Checks `cfg` (destination syntax, TLS files, server name) and starts the connection thread. The first
    /// connect happens on that thread: an unreachable peer is not a start error (see `stats().last_error`).
    pub fn start(cfg: StreamConfig) -> Result<Self, StreamError> {
        let destination = cfg.destination.clone();
        let plan = plan(&cfg, &destination)?;
        let shared = Arc::new(Shared::default());
        let (tx, rx) = channel();
        let w = worker::Worker::new(plan, rx, shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("stream-{}", destination.port))
            .spawn(move || w.run())?;
        Ok(Self {
            destination,
            limits: (cfg.queue_messages as u64, cfg.queue_bytes as u64),
            shared,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Queues a framed copy of `payload` (one syslog message, as received over UDP). Never blocks. Returns
    /// false when the message was dropped (queue full in messages or bytes; counted as `dropped_full`).
    pub fn offer(&self, payload: &[u8]) -> bool {
        self.shared.offered.fetch_add(1, Relaxed);
        let framed_len = framed_len(self.destination.framing, payload);
        if !self.reserve(framed_len as u64) {
            self.shared.dropped_full.fetch_add(1, Relaxed);
            return false;
        }
        let msg = frame(self.destination.framing, payload);
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok());
        if !sent {
            // The thread is gone (it panicked): nothing will deliver this.
            self.shared.release(1, framed_len as u64);
            self.shared.dropped_full.fetch_add(1, Relaxed);
        }
        sent
    }

    /// Takes one message and `bytes` from the bounds, or nothing if either would be exceeded.
    fn reserve(&self, bytes: u64) -> bool {
        let s = &self.shared;
        if s.queued_messages.fetch_add(1, Relaxed) >= self.limits.0 {
            s.queued_messages.fetch_sub(1, Relaxed);
            return false;
        }
        if s.queued_bytes.fetch_add(bytes, Relaxed) + bytes > self.limits.1 {
            s.release(1, bytes);
            return false;
        }
        true
    }

    pub fn stats(&self) -> StreamStats {
        self.shared.snapshot()
    }

    /// Stops accepting, gives the thread up to `timeout` to deliver (and have acknowledged) what is queued,
    /// counts the rest as `dropped_at_exit`, joins the thread and returns the final counters.
    pub fn shutdown(mut self, timeout: Duration) -> StreamStats {
        self.stop(timeout);
        self.shared.snapshot()
    }

    fn stop(&mut self, timeout: Duration) {
        if let Ok(mut d) = self.shared.stop_deadline.lock() {
            *d = Some(Instant::now() + timeout);
        }
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StreamSink {
    /// Dropping without `shutdown` abandons what is queued (counted as `dropped_at_exit`).
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

fn plan(cfg: &StreamConfig, dest: &Destination) -> Result<worker::Plan, StreamError> {
    if cfg.queue_messages == 0 || cfg.queue_bytes == 0 {
        return Err(StreamError::BadConfig(
            "queue_messages and queue_bytes must be at least 1".into(),
        ));
    }
    let tls = match dest.transport {
        Transport::Tls => Some(tls::TlsClient::new(&cfg.tls, &dest.host)?),
        Transport::Tcp if cfg.tls != TlsOptions::default() => {
            return Err(StreamError::BadConfig(format!(
                "TLS options given for {dest}: use tls://"
            )));
        }
        Transport::Tcp => None,
    };
    Ok(worker::Plan {
        dest: dest.clone(),
        tls,
        connect_timeout: cfg.connect_timeout,
        backoff_initial: cfg.backoff_initial,
        backoff_max: cfg.backoff_max.max(cfg.backoff_initial),
    })
}

/// The size of `payload` once framed.
pub fn framed_len(framing: Framing, payload: &[u8]) -> usize {
    match framing {
        Framing::OctetCounting => decimal_digits(payload.len()) + 1 + payload.len(),
        Framing::Lf => payload.strip_suffix(b"\n").unwrap_or(payload).len() + 1,
    }
}

/// `payload` framed for the stream: `LEN SP MSG` or `MSG LF`.
pub fn frame(framing: Framing, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(framed_len(framing, payload));
    match framing {
        Framing::OctetCounting => {
            out.extend_from_slice(payload.len().to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(payload);
        }
        Framing::Lf => {
            out.extend_from_slice(payload.strip_suffix(b"\n").unwrap_or(payload));
            out.push(b'\n');
        }
    }
    out
}

fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let oc = Framing::OctetCounting;
        assert_eq!(frame(oc, b"<13>hi\nthere"), b"12 <13>hi\nthere");
        assert_eq!(frame(oc, b""), b"0 ");
        assert_eq!(frame(Framing::Lf, b"<13>hi\n"), b"<13>hi\n");
        assert_eq!(frame(Framing::Lf, b"<13>hi"), b"<13>hi\n");
        assert_eq!(frame(Framing::Lf, b"<13>hi\n\n"), b"<13>hi\n\n");
        for len in [0, 9, 10, 99, 100, 12345] {
            let p = vec![b'x'; len];
            assert_eq!(framed_len(oc, &p), frame(oc, &p).len());
        }
    }

    #[test]
    fn start_errors_name_the_problem() {
        let mut cfg = StreamConfig::parse("tls://127.0.0.1:6514").unwrap();
        cfg.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let e = StreamSink::start(cfg).err().unwrap().to_string();
        assert!(e.contains("CA file /nonexistent/ca.pem"), "{e}");

        let mut cfg = StreamConfig::parse("tcp://127.0.0.1:514").unwrap();
        cfg.tls.ca_file = Some("/etc/hosts".into());
        assert!(matches!(
            StreamSink::start(cfg),
            Err(StreamError::BadConfig(_))
        ));

        let e = StreamConfig::parse("tcp://no such host:1").unwrap_err();
        assert!(matches!(e, StreamError::BadDestination { .. }), "{e}");
    }

    #[test]
    fn bound_in_messages_and_bytes_without_a_peer() {
        // Port 1 on loopback: refused; the sink keeps everything queued up to the bounds.
        let mut cfg = StreamConfig::parse("tcp://127.0.0.1:1").unwrap();
        cfg.queue_messages = 11;
        cfg.queue_bytes = 1000;
        let sink = StreamSink::start(cfg).unwrap();
        let accepted = (0..20).filter(|_| sink.offer(&[b'a'; 96])).count();
        assert_eq!(accepted, 10, "10 x 99 framed bytes fit in 1000, 11 do not");
        assert!(!sink.offer(&[b'a'; 20]), "byte bound: 990 + 23 > 1000");
        assert!(sink.offer(b"abcdef"), "990 + 8 fits");
        assert!(!sink.offer(b"a"), "message bound: 11 queued");
        let st = sink.shutdown(Duration::from_millis(50));
        assert_eq!(
            (st.offered, st.dropped_full, st.dropped_at_exit),
            (23, 12, 11)
        );
        assert!(
            st.connect_failures >= 1 && st.last_error.is_some(),
            "{st:?}"
        );
        assert_eq!((st.queued_messages, st.queued_bytes), (0, 0));
    }
}
