//! The subscriber skeleton every subscribing role (forward, tap, and the roles to come) runs on: connect to
//! the publishers, take messages in batches, check each envelope, track every publisher's sequence numbers,
//! keep the counters all subscribers share, report them, reload on SIGHUP, and stop cleanly — calling the
//! role's [`Handler`] once per batch. The role only says what it does with envelopes.
//!
//! Conservation: `received = bad_envelope + alerts + ` what the handler was given; `bus_gaps` counts
//! sequence numbers publishers gave to datagrams this subscriber never got. Alert events (topic `alert/`,
//! published by `detect`) are not envelopes: they go to [`Handler::alert`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use envelope::{Envelope, KindSelector, Shard};
use runtime::{Reporter, Stop, Summary};
use serde::Serialize;

use crate::curve::Curve;
use crate::sequence::{self, Gaps, StreamCount};
use crate::socket::{BusError, Received, Recv, Subscriber};

/// Messages taken off the bus per batch.
pub const BATCH: usize = 512;
/// How long one wait for the first message of a batch lasts: the longest a stop, a reload or a report waits.
const IDLE_WAIT_MS: i64 = 100;
/// Problems logged one by one; past this they are only counted.
const MAX_WARNINGS: u64 = 10;

/// What to subscribe to, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Publishers (or proxies) to connect to.
    pub endpoints: Vec<String>,
    /// The kinds taken (none: everything).
    pub kinds: Vec<KindSelector>,
    /// The buckets taken: shard I of N takes those with `bucket mod N == I`.
    pub shard: Shard,
    /// Keys, when the bus runs CURVE.
    pub curve: Curve,
    /// High-water mark of the receive queue, in messages.
    pub hwm: u32,
    /// At stop, how long to keep handling what the bus already handed to this process.
    pub drain: Duration,
    /// Call [`Handler::reload`] on SIGHUP.
    pub reload_on_sighup: bool,
}

/// The counters every subscriber keeps, under the same names in every stats file.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BusStats {
    /// Messages taken off the bus.
    pub received: u64,
    /// Messages that were not a topic and a valid envelope (not handed to the role).
    pub bad_envelope: u64,
    /// Sequence numbers skipped by publishers: datagrams lost on the bus before they reached us.
    pub bus_gaps: u64,
    /// Distinct publishers seen.
    pub publishers: usize,
    /// Alert events (topic `alert/...`, a JSON body) handed to [`Handler::alert`].
    pub alerts: u64,
    /// The shard of the bus this subscriber takes (`0/1`: all of it).
    pub shard: Shard,
    /// The kinds taken (`all`, `netflow` or a kind's name), for the ledger.
    pub kinds: Vec<String>,
    /// What arrived of each publisher's (kind, bucket) stream: `sekiwake ledger` sets it against what the
    /// publishers numbered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamReport>,
}

/// One stream in a subscriber's report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StreamReport {
    /// The publisher's id, as capture logs it (16 hex digits).
    pub publisher: String,
    /// The kind's name (its code for a kind this build does not know).
    pub kind: String,
    pub bucket: u8,
    pub received: u64,
    /// Sequence numbers skipped between the first and the last one received.
    pub missing: u64,
}

impl From<StreamCount> for StreamReport {
    fn from(c: StreamCount) -> Self {
        let (publisher, kind, bucket) = c.stream;
        Self {
            publisher: sequence::publisher_name(publisher),
            kind: sequence::kind_name(kind),
            bucket,
            received: c.received,
            missing: c.missing,
        }
    }
}

/// The topic prefix of alert events.
pub const ALERT_TOPIC: &[u8] = b"alert/";

/// What a subscriber reports: the role's name, the shared bus counters and the role's own counters, side by
/// side in one JSON object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report<C> {
    pub role: &'static str,
    #[serde(flatten)]
    pub bus: BusStats,
    #[serde(flatten)]
    pub counters: C,
}

impl<C: Summary> Summary for Report<C> {
    fn line(&self) -> String {
        format!(
            "received={} bad_envelope={} bus_gaps={} publishers={} {}",
            self.bus.received,
            self.bus.bad_envelope,
            self.bus.bus_gaps,
            self.bus.publishers,
            self.counters.line()
        )
    }
}

/// One envelope of a batch, checked: the topic it came under and the envelope.
pub struct Delivered<'a> {
    pub topic: &'a [u8],
    pub envelope: Envelope<&'a [u8]>,
}

impl<'a> AsRef<Envelope<&'a [u8]>> for Delivered<'a> {
    fn as_ref(&self) -> &Envelope<&'a [u8]> {
        &self.envelope
    }
}

/// What a subscribing role does. Its methods run on the subscriber's thread, between two batches.
pub trait Handler {
    /// The role's own counters (the skeleton adds the shared [`BusStats`]).
    type Counters: Serialize + Summary + Clone;
    /// What ends the role: a bus error must convert into it.
    type Error: From<BusError> + std::fmt::Display;

    /// The role's name, for logs.
    fn role(&self) -> &'static str;

    /// One batch of checked envelopes, in the order received. An error ends the role.
    fn batch(&mut self, batch: &[Delivered<'_>]) -> Result<(), Self::Error>;

    /// An alert event (topic `alert/<type>/<exporter>/`, the alert's JSON as body), after the batch it came in.
    fn alert(&mut self, _topic: &[u8], _body: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Nothing arrived for a while (a good moment to flush output).
    fn idle(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// SIGHUP: apply a new configuration, changing the subscription through `sub` if needed. An error leaves
    /// the running configuration as it was. Returns what to log.
    fn reload(&mut self, _sub: &mut Subscription<'_>) -> Result<String, Self::Error> {
        Ok("nothing to reload".to_owned())
    }

    /// A snapshot of the role's counters.
    fn counters(&mut self) -> Self::Counters;

    /// The final counters, after the role delivered what it holds.
    fn close(self) -> Self::Counters;
}

/// The subscription as a reload may change it.
pub struct Subscription<'a> {
    socket: &'a Subscriber,
    shard: Shard,
    prefixes: &'a mut Vec<String>,
    gaps: &'a mut Gaps,
    kinds: &'a mut Vec<String>,
}

impl Subscription<'_> {
    /// The shard taken; it stays for the life of the subscriber.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Takes `kinds` from now on (on the same shard). New topics are added before old ones go, so nothing
    /// both cover is missed.
    pub fn change(&mut self, kinds: &[KindSelector]) -> Result<(), BusError> {
        let new = envelope::shard_prefixes(kinds, self.shard);
        self.socket.resubscribe(self.prefixes, &new)?;
        if new != *self.prefixes {
            // Streams that were not subscribed a moment ago would look like gaps.
            self.gaps.restart();
        }
        *self.prefixes = new;
        *self.kinds = kind_names(kinds);
        Ok(())
    }
}

/// The state the skeleton keeps for a role.
struct Subscribed {
    socket: Subscriber,
    prefixes: Vec<String>,
    gaps: Gaps,
    stats: BusStats,
    batch: Vec<Received>,
}

impl Subscribed {
    fn connect(opts: &Options) -> Result<Self, BusError> {
        let prefixes = envelope::shard_prefixes(&opts.kinds, opts.shard);
        Ok(Self {
            socket: Subscriber::connect(&opts.endpoints, &prefixes, opts.hwm, &opts.curve)?,
            prefixes,
            gaps: Gaps::default(),
            stats: BusStats {
                shard: opts.shard,
                kinds: kind_names(&opts.kinds),
                ..BusStats::default()
            },
            batch: Vec::with_capacity(BATCH),
        })
    }

    fn stats(&self) -> BusStats {
        BusStats {
            bus_gaps: self.gaps.missing(),
            publishers: self.gaps.publishers(),
            streams: self.gaps.streams().into_iter().map(Into::into).collect(),
            ..self.stats.clone()
        }
    }

    /// Waits up to `wait` ms for the first message, then takes whatever else is queued, up to [`BATCH`].
    fn fill(&mut self, mut wait: i64) -> Result<(), BusError> {
        while self.batch.len() < BATCH {
            match self.socket.recv(wait)? {
                Recv::Message(m) => self.batch.push(m),
                Recv::Malformed => {
                    self.stats.received += 1;
                    self.bad(|| "a message that is not two frames (topic, envelope)".into());
                }
                Recv::Idle => break,
            }
            wait = 0;
        }
        Ok(())
    }

    /// Counts a bad message; only the first few are worth a log line (and the text it takes to write one).
    fn bad(&mut self, why: impl FnOnce() -> String) {
        if self.stats.bad_envelope < MAX_WARNINGS {
            tracing::warn!("subscriber: {}", why());
        }
        self.stats.bad_envelope += 1;
    }

    /// One receive-and-handle round; returns how many messages it took off the bus.
    fn round<H: Handler>(&mut self, handler: &mut H, wait: i64) -> Result<usize, H::Error> {
        self.fill(wait)?;
        let batch = std::mem::take(&mut self.batch);
        let n = batch.len();
        if n == 0 {
            self.batch = batch;
            return handler.idle().map(|()| 0);
        }
        let mut good = Vec::with_capacity(n);
        let mut alerts = Vec::new();
        for m in &batch {
            self.stats.received += 1;
            if m.topic.starts_with(ALERT_TOPIC) {
                self.stats.alerts += 1;
                alerts.push(m);
                continue;
            }
            match Envelope::new_checked(&m.body[..]) {
                Ok(e) => {
                    let stream = (
                        e.publisher(),
                        e.kind_code(),
                        envelope::bucket(&e.src_field()),
                    );
                    self.gaps.see(stream, e.sequence());
                    good.push(Delivered {
                        topic: &m.topic,
                        envelope: e,
                    });
                }
                Err(err) => self.bad(|| {
                    let topic = String::from_utf8_lossy(&m.topic);
                    format!("bad envelope on {topic}: {err}")
                }),
            }
        }
        let mut handled = handler.batch(&good);
        for m in alerts {
            handled = handled.and_then(|()| handler.alert(&m.topic, &m.body));
        }
        drop(good);
        self.batch = batch;
        self.batch.clear();
        handled.map(|()| n)
    }

    fn reload<H: Handler>(&mut self, handler: &mut H) {
        let mut sub = Subscription {
            socket: &self.socket,
            shard: self.stats.shard,
            prefixes: &mut self.prefixes,
            gaps: &mut self.gaps,
            kinds: &mut self.stats.kinds,
        };
        match handler.reload(&mut sub) {
            Ok(what) => tracing::info!("{}: configuration reloaded: {what}", handler.role()),
            Err(e) => tracing::error!(
                "{}: reload refused, the running configuration stays: {e:#}",
                handler.role()
            ),
        }
    }
}

/// The kinds a subscription takes, by name (`all` when none was named).
fn kind_names(kinds: &[KindSelector]) -> Vec<String> {
    match kinds.is_empty() {
        true => vec![KindSelector::All.to_string()],
        false => kinds.iter().map(ToString::to_string).collect(),
    }
}

/// What a subscription takes, for the log: the prefixes, or for a shard (which has one prefix per kind and
/// bucket) the kinds and buckets.
fn subscription_text(opts: &Options, prefixes: &[String]) -> String {
    let kinds = match opts.kinds.is_empty() {
        true => "every kind".to_owned(),
        false => opts
            .kinds
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    };
    match (opts.shard.is_whole(), prefixes.is_empty()) {
        (true, true) => kinds,
        (true, false) => prefixes.join(" "),
        (false, _) => format!(
            "{kinds}, shard {}: the {} buckets b mod {} = {}",
            opts.shard,
            opts.shard.buckets().count(),
            opts.shard.count(),
            opts.shard.index()
        ),
    }
}

/// Runs `handler` on the bus until `stop` (or an error), then drains what the bus already handed over for
/// up to `opts.drain`, and returns the final counters (also given to `reporter`).
pub fn run<H: Handler>(
    opts: &Options,
    mut handler: H,
    stop: &Stop<'_>,
    reporter: &mut Reporter<Report<H::Counters>>,
) -> Result<Report<H::Counters>, H::Error> {
    let mut s = Subscribed::connect(opts)?;
    tracing::info!(
        "{}: subscribed to {} ({})",
        handler.role(),
        opts.endpoints.join(", "),
        subscription_text(opts, &s.prefixes)
    );
    let hup = Arc::new(AtomicBool::new(false));
    if opts.reload_on_sighup {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .map_err(|e| BusError::Signal(e.to_string()))?;
    }
    let mut failure = None;
    while !stop.requested() && failure.is_none() {
        failure = s.round(&mut handler, IDLE_WAIT_MS).err();
        if hup.swap(false, Ordering::Relaxed) {
            s.reload(&mut handler);
        }
        if reporter.due() {
            let snap = Report {
                role: handler.role(),
                bus: s.stats(),
                counters: handler.counters(),
            };
            reporter.report(snap.role, &snap);
        }
    }
    let drain_until = Instant::now() + opts.drain;
    while failure.is_none() && Instant::now() < drain_until {
        match s.round(&mut handler, 0) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => failure = Some(e),
        }
    }
    let report = Report {
        role: handler.role(),
        bus: s.stats(),
        counters: handler.close(),
    };
    reporter.finish(report.role, &report);
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::thread;

    use envelope::Header;
    use runtime::StatsConfig;
    use wire::kind::Kind;

    use super::*;
    use crate::Publisher;

    /// Counts what it is given; the test reads `seen` to know when everything arrived.
    struct Counting {
        seen: Arc<AtomicU64>,
        sequences: Vec<u64>,
    }

    #[derive(Clone, Serialize)]
    struct Seen {
        handled: usize,
    }

    impl Summary for Seen {
        fn line(&self) -> String {
            format!("handled={}", self.handled)
        }
    }

    impl Handler for Counting {
        type Counters = Seen;
        type Error = BusError;
        fn role(&self) -> &'static str {
            "test"
        }
        fn batch(&mut self, batch: &[Delivered<'_>]) -> Result<(), BusError> {
            for d in batch {
                assert!(d.topic.starts_with(b"syslog/"));
                self.sequences.push(d.envelope.sequence());
            }
            self.seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        }
        fn counters(&mut self) -> Seen {
            Seen {
                handled: self.sequences.len(),
            }
        }
        fn close(mut self) -> Seen {
            self.counters()
        }
    }

    fn envelope(publisher: u64, sequence: u64) -> Vec<u8> {
        let h = Header {
            src: "192.0.2.10".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            publisher,
            sequence,
            ..Header::for_kind(Kind::Syslog)
        };
        let mut body = Vec::new();
        h.encode(b"<13>hello", &mut body);
        body
    }

    #[test]
    fn counts_gaps_and_bad_envelopes_and_hands_over_the_rest() {
        let ep = format!("ipc:///tmp/sekiwake-skeleton-{}.sock", std::process::id());
        let mut p = Publisher::bind(&ep, 1000, &Curve::default()).unwrap();
        let (flag, seen) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let opts = Options {
            endpoints: vec![ep.clone()],
            kinds: vec![KindSelector::One(Kind::Syslog)],
            shard: Shard::default(),
            curve: Curve::default(),
            hwm: 1000,
            drain: Duration::ZERO,
            reload_on_sighup: false,
        };
        let sub = {
            let (flag, seen) = (flag.clone(), seen.clone());
            thread::spawn(move || {
                let handler = Counting {
                    seen,
                    sequences: Vec::new(),
                };
                let mut reporter = Reporter::new(&StatsConfig::default(), None);
                run(&opts, handler, &Stop::new(&flag, None), &mut reporter)
            })
        };
        assert_eq!(p.wait_subscribers(1, Duration::from_secs(5)), 1);
        let topic = b"syslog/b27/192.0.2.10/";
        // Publisher 7 skips sequence 2; publisher 8 starts anywhere; one body is no envelope at all.
        for (publisher, seq) in [(7, 0), (7, 1), (7, 3), (8, 100)] {
            p.publish(topic, &envelope(publisher, seq)).unwrap();
        }
        p.publish(topic, b"not an envelope").unwrap();
        p.publish(b"sflow/b27/192.0.2.10/", &envelope(7, 0))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.load(Ordering::Relaxed) < 4 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        thread::sleep(Duration::from_millis(100)); // let the bad one arrive too
        flag.store(true, Ordering::Relaxed);
        let r = sub.join().unwrap().unwrap();
        let want = BusStats {
            received: 5,
            bad_envelope: 1,
            bus_gaps: 1,
            publishers: 2,
            alerts: 0,
            shard: Shard::default(),
            kinds: vec!["syslog".into()],
            streams: [(7, 3, 1), (8, 1, 0)]
                .map(|(publisher, received, missing)| StreamReport {
                    publisher: format!("{publisher:016x}"),
                    kind: "syslog".into(),
                    bucket: envelope::exporter_bucket("192.0.2.10".parse().unwrap()),
                    received,
                    missing,
                })
                .to_vec(),
        };
        assert_eq!(r.bus, want, "the sflow topic is not subscribed");
        assert_eq!(r.counters.handled, 4);
        assert_eq!(r.role, "test");
    }
}
