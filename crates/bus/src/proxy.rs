//! The proxy between publishers and subscribers: an XSUB socket on the frontend (captures connect to it, or it
//! connects to captures that bind), an XPUB socket on the backend (subscribers connect to it). Messages go
//! front to back unchanged, every frame byte for byte; subscriptions go back to front, so a capture still sends
//! only what some subscriber behind the proxy asked for.
//!
//! It never blocks, as capture does not: the backend is an XPUB with `ZMQ_XPUB_NODROP`, a message that would
//! pass a subscriber's high-water mark fails at once and is counted as `dropped_full` (its remaining frames
//! read and thrown away). Envelopes keep their publishers' sequence numbers, so a subscriber sees what the
//! proxy dropped as `bus_gaps`. A full frontend queue is the publisher's to count (capture's `hwm_dropped`).
//!
//! Conservation: `received = forwarded + dropped_full`.

use std::collections::HashMap;

use envelope::Envelope;
use serde::Serialize;

use crate::curve::{AuthStats, Curve, CurveError, Gatekeeper};
use crate::sequence::{self, Stream};
use crate::socket::{connect_all, hwm_option, server_gate, xpub, BusError};

/// Messages moved per round at most, so that subscriptions are passed on even under a flood.
const BATCH: usize = 4096;

/// Where the proxy listens and connects.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Frontend endpoints to bind (publishers connect here).
    pub frontend_bind: Vec<String>,
    /// Frontend endpoints to connect to (publishers that bind).
    pub frontend_connect: Vec<String>,
    /// Backend endpoints to bind (subscribers connect here).
    pub backend: Vec<String>,
    /// High-water mark on each side, in messages.
    pub hwm: u32,
    /// Keys: the sockets that bind are CURVE servers, a frontend that connects is a CURVE client.
    pub curve: Curve,
}

/// The proxy's counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProxyStats {
    /// Messages taken from the frontend.
    pub received: u64,
    /// Bytes of those messages, all frames.
    pub received_bytes: u64,
    /// Messages handed to the backend.
    pub forwarded: u64,
    /// Messages a backend subscriber's full queue refused: dropped, not waited for.
    pub dropped_full: u64,
    /// Subscribe and unsubscribe requests passed from the backend to the frontend.
    pub subscriptions: u64,
    pub unsubscriptions: u64,
    /// `dropped_full` per publisher's stream (envelopes only), for the ledger.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_streams: Vec<StreamDrops>,
}

/// What the proxy dropped of one publisher's stream.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StreamDrops {
    pub publisher: String,
    pub kind: String,
    pub bucket: u8,
    pub dropped: u64,
}

pub struct Proxy {
    front: zmq::Socket,
    back: zmq::Socket,
    /// With CURVE: the ZAP handler of the sockets that bind (dropped before the context, which waits for it).
    gate: Option<Gatekeeper>,
    _ctx: zmq::Context,
    stats: ProxyStats,
    /// Messages dropped per stream: bounded, a publisher has at most kinds × buckets streams.
    dropped_streams: HashMap<Stream, u64>,
    /// The frames of the message being moved, reused.
    frames: Vec<zmq::Message>,
}

impl Proxy {
    pub fn open(opts: &ProxyOptions) -> Result<Self, BusError> {
        let ctx = zmq::Context::new();
        let front = ctx.socket(zmq::XSUB)?;
        front.set_rcvhwm(hwm_option(opts.hwm)?)?;
        front.set_rcvbuf(4 << 20)?;
        front.set_linger(0)?;
        let back = xpub(&ctx, opts.hwm)?;
        let front_binds = !opts.frontend_bind.is_empty();
        if opts.curve.enabled() && front_binds && !opts.frontend_connect.is_empty() {
            return Err(CurveError::Setup(
                "with CURVE the proxy's frontend either binds (a server) or connects (a client), not both"
                    .into(),
            )
            .into());
        }
        let gate = match front_binds {
            true => server_gate(&ctx, &opts.curve, &[&front, &back])?,
            false => {
                opts.curve.client(&front)?;
                server_gate(&ctx, &opts.curve, &[&back])?
            }
        };
        for ep in &opts.frontend_bind {
            front
                .bind(ep)
                .map_err(|source| endpoint("bind", ep, source))?;
        }
        connect_all(&front, &opts.frontend_connect)?;
        for ep in &opts.backend {
            back.bind(ep)
                .map_err(|source| endpoint("bind", ep, source))?;
        }
        Ok(Self {
            front,
            back,
            gate,
            _ctx: ctx,
            stats: ProxyStats::default(),
            dropped_streams: HashMap::new(),
            frames: Vec::with_capacity(2),
        })
    }

    pub fn stats(&self) -> ProxyStats {
        let mut streams: Vec<_> = self.dropped_streams.iter().map(|(&s, &n)| (s, n)).collect();
        streams.sort_unstable();
        ProxyStats {
            dropped_streams: streams
                .into_iter()
                .map(|((publisher, kind, bucket), dropped)| StreamDrops {
                    publisher: sequence::publisher_name(publisher),
                    kind: sequence::kind_name(kind),
                    bucket,
                    dropped,
                })
                .collect(),
            ..self.stats.clone()
        }
    }

    /// What the CURVE gatekeeper counted (with keys).
    pub fn auth_stats(&self) -> Option<AuthStats> {
        self.gate.as_ref().map(Gatekeeper::stats)
    }

    /// Waits up to `wait_ms` for traffic on either side, then passes subscriptions on and moves up to
    /// [`BATCH`] messages. Returns how many messages it moved (or dropped).
    pub fn step(&mut self, wait_ms: i64) -> Result<usize, BusError> {
        let mut items = [
            self.front.as_poll_item(zmq::POLLIN),
            self.back.as_poll_item(zmq::POLLIN),
        ];
        match zmq::poll(&mut items, wait_ms) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        self.pass_subscriptions()?;
        let mut moved = 0;
        while moved < BATCH && self.take_message()? {
            self.hand_on()?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Subscription requests from the backend's subscribers, passed upstream as they came.
    fn pass_subscriptions(&mut self) -> Result<(), BusError> {
        loop {
            let msg = match self.back.recv_msg(zmq::DONTWAIT) {
                Ok(m) => m,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            match msg.first() {
                Some(1) => self.stats.subscriptions += 1,
                Some(0) => self.stats.unsubscriptions += 1,
                _ => {}
            }
            self.front.send(msg, zmq::DONTWAIT)?;
        }
    }

    /// Reads every frame of the next frontend message into `frames`; false when none is waiting.
    fn take_message(&mut self) -> Result<bool, BusError> {
        self.frames.clear();
        let first = match self.front.recv_msg(zmq::DONTWAIT) {
            Ok(m) => m,
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut more = first.get_more();
        self.frames.push(first);
        // libzmq delivers a message's frames together: the rest are there already
        while more {
            let m = loop {
                match self.front.recv_msg(0) {
                    Err(zmq::Error::EINTR) => continue,
                    other => break other?,
                }
            };
            more = m.get_more();
            self.frames.push(m);
        }
        self.stats.received += 1;
        self.stats.received_bytes += self.frames.iter().map(|f| f.len() as u64).sum::<u64>();
        Ok(true)
    }

    /// Sends the frames taken to the backend, or counts the message dropped if a subscriber's queue is full.
    fn hand_on(&mut self) -> Result<(), BusError> {
        let last = self.frames.len() - 1;
        let mut frames = self.frames.drain(..);
        let mut i = 0;
        while let Some(frame) = frames.next() {
            let flags = zmq::DONTWAIT | if i < last { zmq::SNDMORE } else { 0 };
            match self.back.send(frame, flags) {
                Ok(()) => {}
                // only the first frame (the topic) can be refused: once it is in, libzmq takes the rest
                Err(zmq::Error::EAGAIN) if i == 0 => {
                    let body = frames.next();
                    self.stats.dropped_full += 1;
                    count_stream(&mut self.dropped_streams, body.as_deref());
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
            i += 1;
        }
        self.stats.forwarded += 1;
        Ok(())
    }
}

/// Counts a dropped message against its publisher's stream, when its body is an envelope.
fn count_stream(streams: &mut HashMap<Stream, u64>, body: Option<&[u8]>) {
    if let Some(e) = body.and_then(|b| Envelope::new_checked(b).ok()) {
        let stream = (
            e.publisher(),
            e.kind_code(),
            envelope::bucket(&e.src_field()),
        );
        *streams.entry(stream).or_default() += 1;
    }
}

fn endpoint(op: &'static str, ep: &str, source: zmq::Error) -> BusError {
    BusError::Endpoint {
        op,
        endpoint: ep.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{Publisher, Recv, Subscriber};

    fn ipc(name: &str) -> String {
        format!(
            "ipc:///tmp/sekiwake-proxy-{name}-{}.sock",
            std::process::id()
        )
    }

    /// A proxy that binds both sides on ipc endpoints named after `name`: (proxy, frontend, backend).
    fn proxy(name: &str, hwm: u32) -> (Proxy, String, String) {
        let (front, back) = (ipc(&format!("{name}-front")), ipc(&format!("{name}-back")));
        let p = Proxy::open(&ProxyOptions {
            frontend_bind: vec![front.clone()],
            backend: vec![back.clone()],
            hwm,
            ..ProxyOptions::default()
        })
        .unwrap();
        (p, front, back)
    }

    /// Steps the proxy until `done` or 5 s.
    fn step_until(p: &mut Proxy, mut done: impl FnMut(&mut Proxy) -> bool) {
        let end = Instant::now() + Duration::from_secs(5);
        while !done(p) && Instant::now() < end {
            p.step(10).unwrap();
        }
    }

    #[test]
    fn messages_go_through_unchanged_and_subscriptions_go_upstream() {
        let (mut p, front, back) = proxy("pass", 1000);
        let mut publisher =
            Publisher::connect(std::slice::from_ref(&front), 1000, &Curve::default()).unwrap();
        let sub = Subscriber::connect(
            std::slice::from_ref(&back),
            &["syslog/".into()],
            1000,
            &Curve::default(),
        )
        .unwrap();
        // the subscription crosses the proxy and reaches the publisher
        step_until(&mut p, |_| publisher.poll_subscriptions() >= 1);
        assert_eq!(publisher.poll_subscriptions(), 1);
        assert_eq!(p.stats().subscriptions, 1);
        publisher
            .publish(b"sflow/b01/192.0.2.1/", b"filtered upstream")
            .unwrap();
        publisher
            .publish(b"syslog/b01/192.0.2.1/", b"\x00\xffbody")
            .unwrap();
        step_until(&mut p, |p| p.stats().forwarded >= 1);
        match sub.recv(5000).unwrap() {
            Recv::Message(m) => {
                assert_eq!(&m.topic[..], b"syslog/b01/192.0.2.1/");
                assert_eq!(&m.body[..], b"\x00\xffbody");
            }
            _ => panic!("nothing came through the proxy"),
        }
        let s = p.stats();
        assert_eq!((s.received, s.forwarded, s.dropped_full), (1, 1, 0));
        assert_eq!(s.received_bytes, (21 + 6) as u64);
    }

    #[test]
    fn a_full_subscriber_queue_is_counted_not_waited_for() {
        let (mut p, front, back) = proxy("full", 10);
        let mut publisher =
            Publisher::connect(std::slice::from_ref(&front), 100_000, &Curve::default()).unwrap();
        // subscribed, never reading
        let _sub =
            Subscriber::connect(std::slice::from_ref(&back), &[], 10, &Curve::default()).unwrap();
        step_until(&mut p, |_| publisher.poll_subscriptions() >= 1);
        let header = envelope::Header {
            src: "192.0.2.10".parse().unwrap(),
            publisher: 7,
            ..envelope::Header::for_kind(wire::kind::Kind::Syslog)
        };
        let mut body = Vec::new();
        header.encode(&[b'x'; 16 * 1024], &mut body);
        let mut sent = 0u64;
        for _ in 0..2_000 {
            if publisher.publish(b"t/", &body).unwrap() == crate::Sent::Sent {
                sent += 1;
            }
            p.step(0).unwrap();
        }
        step_until(&mut p, |p| p.stats().received >= sent);
        let s = p.stats();
        assert_eq!(s.received, sent);
        assert_eq!(s.received, s.forwarded + s.dropped_full);
        assert!(s.dropped_full > 0, "{s:?}");
        // every drop is counted against the envelope's stream, for the ledger
        let bucket = envelope::exporter_bucket("192.0.2.10".parse().unwrap());
        let expected = StreamDrops {
            publisher: "0000000000000007".into(),
            kind: "syslog".into(),
            bucket,
            dropped: s.dropped_full,
        };
        assert_eq!(s.dropped_streams, [expected]);
    }
}
