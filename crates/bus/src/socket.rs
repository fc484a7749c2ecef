//! The two ZeroMQ sockets: the publisher's XPUB and the subscriber's SUB.

use std::time::{Duration, Instant};

use crate::curve::{AuthStats, Curve, CurveError, Gatekeeper};

/// A bus socket could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("{op} {endpoint}: {source}")]
    Endpoint {
        op: &'static str,
        endpoint: String,
        source: zmq::Error,
    },
    #[error("zmq: {0}")]
    Zmq(#[from] zmq::Error),
    #[error("installing the SIGHUP handler: {0}")]
    Signal(String),
    #[error("a high-water mark of 0 would mean no limit in ZeroMQ: memory without bound, drops never counted")]
    UnboundedHwm,
    #[error("CURVE: {0}")]
    Curve(#[from] CurveError),
}

/// A high-water mark as libzmq takes it. 0 means no limit to libzmq, so every socket refuses it here,
/// whichever flag or file asked for it.
pub(crate) fn hwm_option(messages: u32) -> Result<i32, BusError> {
    match messages {
        0 => Err(BusError::UnboundedHwm),
        n => Ok(i32::try_from(n).unwrap_or(i32::MAX)),
    }
}

/// Connects `sock` to every endpoint; an error names the endpoint.
pub(crate) fn connect_all(sock: &zmq::Socket, endpoints: &[String]) -> Result<(), BusError> {
    for ep in endpoints {
        sock.connect(ep).map_err(|source| BusError::Endpoint {
            op: "connect",
            endpoint: ep.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Makes `sockets` CURVE servers and starts their gatekeeper, before they bind; nothing without keys.
pub(crate) fn server_gate(
    ctx: &zmq::Context,
    curve: &Curve,
    sockets: &[&zmq::Socket],
) -> Result<Option<Gatekeeper>, BusError> {
    if !curve.enabled() {
        return Ok(None);
    }
    for s in sockets {
        curve.server(s)?;
    }
    let allowed = curve
        .allowed_clients
        .as_deref()
        .ok_or(CurveError::NoAllowList)?;
    Ok(Some(Gatekeeper::start(ctx, allowed, sockets)?))
}

/// Outcome of one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// A subscriber's queue is at the high-water mark: the message was dropped.
    Full,
}

/// How long `close` waits to hand queued messages to subscribers.
const LINGER_MS: i32 = 2000;

/// Sets an integer socket option the zmq crate does not wrap (`ZMQ_XPUB_NODROP`, `ZMQ_XPUB_VERBOSE`).
#[allow(unsafe_code)]
fn set_int_option(sock: &mut zmq::Socket, option: u32, value: i32) -> Result<(), BusError> {
    // SAFETY: the socket pointer is valid for the socket's lifetime; the option value is a live c_int whose
    // size we pass, as zmq_setsockopt(3) requires.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            sock.as_mut_ptr(),
            option as i32,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // SAFETY: zmq_errno only reads the calling thread's errno.
    Err(BusError::Zmq(zmq::Error::from_raw(unsafe {
        zmq_sys::zmq_errno()
    })))
}

// libzmq has it (since 4.2); zmq-sys declares it but does not export it.
#[allow(unsafe_code)]
extern "C" {
    fn zmq_curve_public(
        z85_public_key: *mut std::ffi::c_char,
        z85_secret_key: *const std::ffi::c_char,
    ) -> std::ffi::c_int;
}

/// The public key (Z85) of a secret key (Z85), by libzmq's `zmq_curve_public`, which the zmq crate does not
/// wrap.
#[allow(unsafe_code)]
pub(crate) fn curve_public(secret_z85: &str) -> Result<String, zmq::Error> {
    let secret = std::ffi::CString::new(secret_z85).map_err(|_| zmq::Error::EINVAL)?;
    let mut public = [0u8; 41];
    // SAFETY: libzmq writes 40 characters and a NUL into `public` (41 bytes) and reads the NUL-terminated
    // secret key, as zmq_curve_public(3) says.
    let rc = unsafe { zmq_curve_public(public.as_mut_ptr().cast(), secret.as_ptr()) };
    if rc != 0 {
        // SAFETY: zmq_errno only reads the calling thread's errno.
        return Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }));
    }
    Ok(String::from_utf8_lossy(&public[..40]).into_owned())
}

/// An XPUB socket as every publisher (capture, the proxy's backend) sets it up: sends past the high-water
/// mark fail at once (`ZMQ_XPUB_NODROP`) so the sender counts them, and every subscribe request reaches the
/// sender, duplicates included (`ZMQ_XPUB_VERBOSE`), so that it can count its subscribers.
pub(crate) fn xpub(ctx: &zmq::Context, hwm: u32) -> Result<zmq::Socket, BusError> {
    let mut sock = ctx.socket(zmq::XPUB)?;
    sock.set_sndhwm(hwm_option(hwm)?)?;
    set_int_option(&mut sock, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
    set_int_option(&mut sock, zmq_sys::ZMQ_XPUB_VERBOSE, 1)?;
    sock.set_linger(LINGER_MS)?;
    sock.set_sndbuf(4 << 20)?;
    Ok(sock)
}

pub struct Publisher {
    sock: zmq::Socket,
    /// With CURVE: the ZAP handler of the bound socket (dropped before the context, which waits for it).
    gate: Option<Gatekeeper>,
    _ctx: zmq::Context,
    subscriptions: usize,
}

impl Publisher {
    /// Binds an XPUB socket on `endpoint` (tcp:// or ipc://) with `hwm` messages per subscriber; a CURVE
    /// server when `curve` has keys.
    pub fn bind(endpoint: &str, hwm: u32, curve: &Curve) -> Result<Self, BusError> {
        let ctx = zmq::Context::new();
        let sock = xpub(&ctx, hwm)?;
        let gate = server_gate(&ctx, curve, &[&sock])?;
        sock.bind(endpoint).map_err(|source| BusError::Endpoint {
            op: "bind",
            endpoint: endpoint.to_owned(),
            source,
        })?;
        Ok(Self {
            sock,
            gate,
            _ctx: ctx,
            subscriptions: 0,
        })
    }

    /// Connects an XPUB socket to every endpoint (proxies' frontends), with `hwm` messages per proxy; a
    /// CURVE client when `curve` has keys.
    pub fn connect(endpoints: &[String], hwm: u32, curve: &Curve) -> Result<Self, BusError> {
        let ctx = zmq::Context::new();
        let sock = xpub(&ctx, hwm)?;
        curve.client(&sock)?;
        connect_all(&sock, endpoints)?;
        Ok(Self {
            sock,
            gate: None,
            _ctx: ctx,
            subscriptions: 0,
        })
    }

    /// What the CURVE gatekeeper counted (a bound publisher with keys).
    pub fn auth_stats(&self) -> Option<AuthStats> {
        self.gate.as_ref().map(Gatekeeper::stats)
    }

    /// Publishes one message (topic frame, body frame). Never blocks.
    pub fn publish(&self, topic: &[u8], body: &[u8]) -> Result<Sent, BusError> {
        match self.sock.send(topic, zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return Ok(Sent::Full),
            Err(e) => return Err(e.into()),
        }
        // Once the first frame is accepted, libzmq accepts the rest of the message.
        self.sock.send(body, zmq::DONTWAIT)?;
        Ok(Sent::Sent)
    }

    /// Reads pending subscription messages; returns how many subscribe requests have been seen so far.
    pub fn poll_subscriptions(&mut self) -> usize {
        while let Ok(msg) = self.sock.recv_bytes(zmq::DONTWAIT) {
            if msg.first() == Some(&1) {
                self.subscriptions += 1;
            }
        }
        self.subscriptions
    }

    /// Waits until `n` subscribe requests have arrived or `timeout` passed; returns the count seen.
    pub fn wait_subscribers(&mut self, n: usize, timeout: Duration) -> usize {
        let end = Instant::now() + timeout;
        while self.poll_subscriptions() < n && Instant::now() < end {
            let _ = self.sock.poll(zmq::POLLIN, 50);
        }
        self.subscriptions
    }
}

/// A message taken off the bus: the topic frame and the body frame.
pub struct Received {
    pub topic: zmq::Message,
    pub body: zmq::Message,
}

/// What one receive gave.
pub enum Recv {
    Message(Received),
    /// A message that was not two frames (counted by the caller as a bad envelope).
    Malformed,
    /// Nothing within the timeout.
    Idle,
}

pub struct Subscriber {
    sock: zmq::Socket,
    _ctx: zmq::Context,
}

impl Subscriber {
    /// Connects a SUB socket to every endpoint and subscribes to every prefix (empty list: everything); a
    /// CURVE client when `curve` has keys.
    pub fn connect(
        endpoints: &[String],
        prefixes: &[String],
        hwm: u32,
        curve: &Curve,
    ) -> Result<Self, BusError> {
        let ctx = zmq::Context::new();
        let sock = ctx.socket(zmq::SUB)?;
        curve.client(&sock)?;
        sock.set_rcvhwm(hwm_option(hwm)?)?;
        sock.set_rcvbuf(4 << 20)?;
        sock.set_linger(0)?;
        connect_all(&sock, endpoints)?;
        if prefixes.is_empty() {
            sock.set_subscribe(b"")?;
        }
        for p in prefixes {
            sock.set_subscribe(p.as_bytes())?;
        }
        Ok(Self { sock, _ctx: ctx })
    }

    /// Changes the subscription from `old` to `new` prefixes (empty: everything). The new ones are added before
    /// the old ones go, so nothing both cover is missed in between.
    pub fn resubscribe(&self, old: &[String], new: &[String]) -> Result<(), BusError> {
        let all = [String::new()];
        let (old, new) = (
            if old.is_empty() { &all[..] } else { old },
            if new.is_empty() { &all[..] } else { new },
        );
        for p in new.iter().filter(|p| !old.contains(p)) {
            self.sock.set_subscribe(p.as_bytes())?;
        }
        for p in old.iter().filter(|p| !new.contains(p)) {
            self.sock.set_unsubscribe(p.as_bytes())?;
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` for a message (-1: forever, 0: do not wait).
    /// A signal that interrupts the wait (EINTR) ends it early with `Idle`, so the caller can check whether
    /// it should stop.
    pub fn recv(&self, timeout_ms: i64) -> Result<Recv, BusError> {
        if timeout_ms != 0 {
            match self.sock.poll(zmq::POLLIN, timeout_ms) {
                Ok(0) | Err(zmq::Error::EINTR) => return Ok(Recv::Idle),
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let topic = match self.sock.recv_msg(zmq::DONTWAIT) {
            Ok(m) => m,
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(Recv::Idle),
            Err(e) => return Err(e.into()),
        };
        if !topic.get_more() {
            return Ok(Recv::Malformed);
        }
        let body = self.recv_part()?;
        if body.get_more() {
            self.skip_rest()?;
            return Ok(Recv::Malformed);
        }
        Ok(Recv::Message(Received { topic, body }))
    }

    /// The next part of a message already started: libzmq delivers all parts together, so this only waits
    /// if a signal interrupts it.
    fn recv_part(&self) -> Result<zmq::Message, BusError> {
        loop {
            match self.sock.recv_msg(0) {
                Err(zmq::Error::EINTR) => continue,
                other => return Ok(other?),
            }
        }
    }

    fn skip_rest(&self) -> Result<(), BusError> {
        while self.sock.get_rcvmore()? {
            self.recv_part()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subscribe_over_ipc() {
        let ep = format!("ipc:///tmp/sekiwake-bus-test-{}.sock", std::process::id());
        let mut p = Publisher::bind(&ep, 1000, &Curve::default()).unwrap();
        let s = Subscriber::connect(
            std::slice::from_ref(&ep),
            &["syslog/".into()],
            1000,
            &Curve::default(),
        )
        .unwrap();
        assert_eq!(p.wait_subscribers(1, Duration::from_secs(5)), 1);
        p.publish(b"sflow/b01/1.2.3.4/", b"no").unwrap();
        p.publish(b"syslog/b01/1.2.3.4/", b"yes").unwrap();
        match s.recv(5000).unwrap() {
            Recv::Message(m) => {
                assert_eq!(&m.topic[..], b"syslog/b01/1.2.3.4/");
                assert_eq!(&m.body[..], b"yes");
            }
            _ => panic!("no message"),
        }
    }

    #[test]
    fn a_high_water_mark_of_zero_is_refused() {
        let ep = format!("ipc:///tmp/sekiwake-bus-hwm0-{}.sock", std::process::id());
        assert!(matches!(
            Publisher::bind(&ep, 0, &Curve::default()),
            Err(BusError::UnboundedHwm)
        ));
        let sub = Subscriber::connect(std::slice::from_ref(&ep), &[], 0, &Curve::default());
        assert!(matches!(sub, Err(BusError::UnboundedHwm)));
    }

    #[test]
    fn full_queue_drops_instead_of_blocking() {
        let ep = format!("ipc:///tmp/sekiwake-bus-hwm-{}.sock", std::process::id());
        let mut p = Publisher::bind(&ep, 1, &Curve::default()).unwrap();
        let _s = Subscriber::connect(std::slice::from_ref(&ep), &[], 1, &Curve::default()).unwrap();
        assert_eq!(p.wait_subscribers(1, Duration::from_secs(5)), 1);
        let body = vec![0u8; 64 * 1024];
        let full = (0..10_000)
            .filter(|_| p.publish(b"t/", &body).unwrap() == Sent::Full)
            .count();
        assert!(full > 0, "a stalled subscriber must make sends fail fast");
    }
}
