//! Where alert events go. Each target is a sink with its own thread and a bounded queue: detection hands an
//! event to every sink without waiting (a full queue drops the event for that sink and counts it), and a
//! sink that is down keeps retrying the event at the head of its queue with a capped backoff, so nothing
//! within the queue bound is lost and no sink slows detection or another sink.
//!
//! Conservation per sink: `offered = sent + dropped_full + rejected + unsent_at_exit + queued`.

mod format;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::UdpSocket;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use detect::alert::State;
use detect::Alert;
use serde::Serialize;

/// Where alerts go, as written after `--alerts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(String),
    Webhook(String),
    /// The Alertmanager's base URL (`http://host:9093`); alerts go to `/api/v2/alerts`.
    Alertmanager(String),
    /// `host:port` of a syslog server over UDP (RFC 5424 messages).
    Syslog(String),
    /// A ZeroMQ endpoint to bind: alerts are published under `alert/<type>/<exporter>/`.
    Bus(String),
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (scheme, rest) = s.split_once(':').unwrap_or((s, ""));
        let need = |what: &str| match rest.is_empty() {
            true => Err(format!("`{s}`: {scheme} needs {what} after `{scheme}:`")),
            false => Ok(rest.to_owned()),
        };
        match scheme {
            "stdout" if rest.is_empty() => Ok(Target::Stdout),
            "file" => need("a path").map(Target::File),
            "webhook" => need("a URL")
                .and_then(|u| http_url(s, u))
                .map(Target::Webhook),
            "alertmanager" => need("a URL")
                .and_then(|u| http_url(s, u))
                .map(Target::Alertmanager),
            "syslog" => {
                let addr = need("udp://HOST:PORT")?;
                let hostport = addr.strip_prefix("udp://").ok_or_else(|| {
                    format!("`{s}`: only syslog over UDP: syslog:udp://HOST:PORT")
                })?;
                Ok(Target::Syslog(hostport.to_owned()))
            }
            "bus" => need("an endpoint (tcp://127.0.0.1:5560)").map(Target::Bus),
            _ => Err(format!(
                "`{s}`: not an alert target (stdout, file:PATH, webhook:URL, alertmanager:URL, \
                 syslog:udp://HOST:PORT, bus:ENDPOINT)"
            )),
        }
    }
}

fn http_url(whole: &str, u: String) -> Result<String, String> {
    match u.starts_with("http://") || u.starts_with("https://") {
        true => Ok(u),
        false => Err(format!(
            "`{whole}`: the URL must start with http:// or https://"
        )),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Stdout => write!(f, "stdout"),
            Target::File(p) => write!(f, "file:{p}"),
            Target::Webhook(u) => write!(f, "webhook:{u}"),
            Target::Alertmanager(u) => write!(f, "alertmanager:{u}"),
            Target::Syslog(a) => write!(f, "syslog:udp://{a}"),
            Target::Bus(e) => write!(f, "bus:{e}"),
        }
    }
}

/// How sinks queue and retry.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events each sink holds while its target is slow or down.
    pub queue: usize,
    /// One delivery attempt's limit (HTTP).
    pub timeout: Duration,
    /// The longest wait between two retries.
    pub max_backoff: Duration,
    /// Alertmanager forgets a firing alert that is not re-sent (its resolve_timeout, 5 min by default):
    /// open alerts are posted again this often.
    pub keepalive: Duration,
    /// The bus sink's keys, when the bus runs CURVE (its publisher is a server like capture's).
    pub curve: bus::curve::Curve,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue: 1000,
            timeout: Duration::from_secs(5),
            max_backoff: Duration::from_secs(5),
            keepalive: Duration::from_secs(60),
            curve: bus::curve::Curve::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error("{target}: {message}")]
    Open { target: String, message: String },
}

/// One sink's counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SinkStats {
    pub target: String,
    pub offered: u64,
    pub sent: u64,
    /// The queue was full: the event never reached this sink.
    pub dropped_full: u64,
    /// The target refused the event for good (HTTP 4xx other than 408 and 429).
    pub rejected: u64,
    /// Still queued when the process stopped and its grace period ran out.
    pub unsent_at_exit: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    pub queued: u64,
}

#[derive(Default)]
struct Counters {
    offered: AtomicU64,
    sent: AtomicU64,
    dropped_full: AtomicU64,
    rejected: AtomicU64,
    unsent_at_exit: AtomicU64,
    retries: AtomicU64,
}

/// Why one delivery failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth retrying: the target is down, slow or busy.
    Transient(String),
    /// The target will never take this event.
    Rejected(String),
}

/// What a sink does with one event (on its own thread).
trait Deliver: Send {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure>;
    /// Called when the queue has been empty for a while.
    fn idle(&mut self) {}
}

struct Sink {
    target: Target,
    queue: Option<SyncSender<Arc<Alert>>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

/// Every sink of a detect process.
pub struct Sinks {
    sinks: Vec<Sink>,
    /// Set at close: a sink stops retrying once its grace period is over.
    closing: Arc<AtomicBool>,
    deadline: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Sinks {
    /// Opens every target (a file that cannot be created, a bus endpoint that cannot be bound or an
    /// unresolvable syslog server fails here, before anything runs).
    pub fn start(targets: &[Target], opts: Options) -> Result<Sinks, AlertsError> {
        let closing = Arc::new(AtomicBool::new(false));
        let deadline = Arc::new(std::sync::Mutex::new(None));
        let mut sinks = Vec::new();
        for t in targets {
            let deliver = open(t, &opts).map_err(|message| AlertsError::Open {
                target: t.to_string(),
                message,
            })?;
            let (tx, rx) = mpsc::sync_channel(opts.queue.max(1));
            let counters = Arc::new(Counters::default());
            let run = Runner {
                rx,
                deliver,
                counters: counters.clone(),
                closing: closing.clone(),
                deadline: deadline.clone(),
                max_backoff: opts.max_backoff,
            };
            let thread = std::thread::Builder::new()
                .name(format!("alerts-{}", scheme(t)))
                .spawn(move || run.run())
                .map_err(|e| AlertsError::Open {
                    target: t.to_string(),
                    message: e.to_string(),
                })?;
            sinks.push(Sink {
                target: t.clone(),
                queue: Some(tx),
                counters,
                thread: Some(thread),
            });
        }
        Ok(Sinks {
            sinks,
            closing,
            deadline,
        })
    }

    /// Hands `a` to every sink without waiting.
    pub fn send(&self, a: Alert) {
        let a = Arc::new(a);
        for s in &self.sinks {
            s.counters.offered.fetch_add(1, Ordering::Relaxed);
            let Some(q) = &s.queue else { continue };
            match q.try_send(a.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    s.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks.iter().map(Sink::stats).collect()
    }

    /// Lets every sink deliver what it holds for up to `grace`, then stops them; what is left is counted
    /// as `unsent_at_exit`.
    pub fn close(mut self, grace: Duration) -> Vec<SinkStats> {
        if let Ok(mut d) = self.deadline.lock() {
            *d = Some(Instant::now() + grace);
        }
        self.closing.store(true, Ordering::Relaxed);
        for s in &mut self.sinks {
            s.queue = None;
        }
        for s in &mut self.sinks {
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
        self.stats()
    }
}

impl Sink {
    fn stats(&self) -> SinkStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = SinkStats {
            target: self.target.to_string(),
            offered: get(&c.offered),
            sent: get(&c.sent),
            dropped_full: get(&c.dropped_full),
            rejected: get(&c.rejected),
            unsent_at_exit: get(&c.unsent_at_exit),
            retries: get(&c.retries),
            queued: 0,
        };
        let done = s.sent + s.dropped_full + s.rejected + s.unsent_at_exit;
        SinkStats {
            queued: s.offered.saturating_sub(done),
            ..s
        }
    }
}

fn scheme(t: &Target) -> &'static str {
    match t {
        Target::Stdout => "stdout",
        Target::File(_) => "file",
        Target::Webhook(_) => "webhook",
        Target::Alertmanager(_) => "alertmanager",
        Target::Syslog(_) => "syslog",
        Target::Bus(_) => "bus",
    }
}

fn open(t: &Target, opts: &Options) -> Result<Box<dyn Deliver>, String> {
    Ok(match t {
        Target::Stdout => Box::new(Lines(Box::new(std::io::stdout()))),
        Target::File(p) => {
            let f = File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| e.to_string())?;
            Box::new(Lines(Box::new(f)))
        }
        Target::Webhook(url) => Box::new(Webhook {
            agent: agent(opts),
            url: url.clone(),
        }),
        Target::Alertmanager(url) => Box::new(Alertmanager {
            agent: agent(opts),
            url: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            open: HashMap::new(),
            keepalive: opts.keepalive,
            last_keepalive: Instant::now(),
        }),
        Target::Syslog(hostport) => {
            let sock = UdpSocket::bind(if hostport.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            })
            .map_err(|e| e.to_string())?;
            sock.connect(hostport.as_str()).map_err(|e| e.to_string())?;
            Box::new(Syslog {
                sock,
                host: format::hostname(),
            })
        }
        Target::Bus(endpoint) => {
            let publisher =
                bus::Publisher::bind(endpoint, 10_000, &opts.curve).map_err(|e| e.to_string())?;
            Box::new(BusSink { publisher })
        }
    })
}

fn agent(opts: &Options) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// One sink's thread.
struct Runner {
    rx: mpsc::Receiver<Arc<Alert>>,
    deliver: Box<dyn Deliver>,
    counters: Arc<Counters>,
    closing: Arc<AtomicBool>,
    deadline: Arc<std::sync::Mutex<Option<Instant>>>,
    max_backoff: Duration,
}

impl Runner {
    fn run(mut self) {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(500)) {
                // at exit, past the grace period: what is left is unsent, however quickly it would go
                Ok(_) if self.past_deadline() => {
                    self.counters.unsent_at_exit.fetch_add(1, Ordering::Relaxed);
                    self.give_up();
                    return;
                }
                Ok(a) => {
                    if !self.deliver_until_done(&a) {
                        self.give_up();
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.deliver.idle(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn past_deadline(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
            && self
                .deadline
                .lock()
                .ok()
                .and_then(|d| *d)
                .is_none_or(|d| Instant::now() >= d)
    }

    /// Retries transient failures until the event is delivered or refused; false if the grace period at
    /// exit ran out first (the event is then unsent).
    fn deliver_until_done(&mut self, a: &Alert) -> bool {
        let mut backoff = Duration::from_millis(100);
        let mut warned = false;
        loop {
            match self.deliver.deliver(a) {
                Ok(()) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(Failure::Rejected(why)) => {
                    tracing::warn!("alerts: event {} refused: {why}", a.id);
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(Failure::Transient(why)) => {
                    if !warned {
                        tracing::warn!("alerts: delivery failed, retrying: {why}");
                        warned = true;
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
            }
            let until = Instant::now() + backoff;
            while Instant::now() < until {
                if self.past_deadline() {
                    self.counters.unsent_at_exit.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20).min(backoff));
            }
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }

    /// Counts what is still queued as unsent.
    fn give_up(&mut self) {
        let left = self.rx.try_iter().count() as u64;
        self.counters
            .unsent_at_exit
            .fetch_add(left, Ordering::Relaxed);
    }
}

/// JSON lines (stdout, a file).
struct Lines(Box<dyn Write + Send>);

impl Deliver for Lines {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure> {
        let mut line = serde_json::to_vec(a).map_err(|e| Failure::Rejected(e.to_string()))?;
        line.push(b'\n');
        self.0
            .write_all(&line)
            .and_then(|()| self.0.flush())
            .map_err(|e| Failure::Transient(e.to_string()))
    }
}

/// What an HTTP status means for a retry.
fn http_outcome(status: u16, body: impl FnOnce() -> String) -> Result<(), Failure> {
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(Failure::Transient(format!("HTTP {status}"))),
        400..=499 => Err(Failure::Rejected(format!("HTTP {status}: {}", body()))),
        _ => Err(Failure::Transient(format!("HTTP {status}"))),
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<(), Failure> {
    match agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
    {
        Ok(mut r) => {
            let status = r.status().as_u16();
            http_outcome(status, || {
                r.body_mut()
                    .read_to_string()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect()
            })
        }
        Err(e) => Err(Failure::Transient(e.to_string())),
    }
}

/// The alert's JSON, POSTed.
struct Webhook {
    agent: ureq::Agent,
    url: String,
}

impl Deliver for Webhook {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure> {
        let body = serde_json::to_vec(a).map_err(|e| Failure::Rejected(e.to_string()))?;
        post(&self.agent, &self.url, &body)
    }
}

/// Alertmanager's v2 API: a list of alerts with labels, annotations, startsAt and (at the end) endsAt.
struct Alertmanager {
    agent: ureq::Agent,
    url: String,
    /// Firing alerts by id, as last posted, and when their last event came: all of them are posted again
    /// every `keepalive`, and one without an event for `STALE` is forgotten (its end was lost: dropped from
    /// a full queue, or refused).
    open: HashMap<String, (serde_json::Value, Instant)>,
    keepalive: Duration,
    last_keepalive: Instant,
}

/// An open alert without an event for this long is no longer re-posted: Alertmanager resolves it.
const STALE: Duration = Duration::from_secs(3600);

impl Alertmanager {
    /// Posts every open alert again when a keepalive is due, whether or not other events keep coming.
    fn keep_alive(&mut self) {
        if self.last_keepalive.elapsed() < self.keepalive {
            return;
        }
        self.last_keepalive = Instant::now();
        self.open.retain(|_, (_, at)| at.elapsed() < STALE);
        if self.open.is_empty() {
            return;
        }
        let all: Vec<&serde_json::Value> = self.open.values().map(|(v, _)| v).collect();
        if let Ok(body) = serde_json::to_vec(&all) {
            // A failed keepalive is tried again at the next one.
            let _ = post(&self.agent, &self.url, &body);
        }
    }
}

impl Deliver for Alertmanager {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure> {
        let posted = format::alertmanager(a);
        let body = serde_json::to_vec(&[&posted]).map_err(|e| Failure::Rejected(e.to_string()))?;
        post(&self.agent, &self.url, &body)?;
        match a.state {
            State::End => self.open.remove(&a.id),
            State::Start | State::Update => {
                self.open.insert(a.id.clone(), (posted, Instant::now()))
            }
        };
        self.keep_alive();
        Ok(())
    }

    fn idle(&mut self) {
        self.keep_alive();
    }
}

/// RFC 5424 over UDP.
struct Syslog {
    sock: UdpSocket,
    host: String,
}

impl Deliver for Syslog {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure> {
        let line = format::syslog(a, &self.host).map_err(Failure::Rejected)?;
        match self.sock.send(line.as_bytes()) {
            Ok(_) => Ok(()),
            // too big for a datagram: sending it again will not help
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                Err(Failure::Rejected(e.to_string()))
            }
            Err(e) => Err(Failure::Transient(e.to_string())),
        }
    }
}

/// Published on a bound ZeroMQ socket, under `alert/<type>/<exporter>/`.
struct BusSink {
    publisher: bus::Publisher,
}

impl Deliver for BusSink {
    fn deliver(&mut self, a: &Alert) -> Result<(), Failure> {
        let body = serde_json::to_vec(a).map_err(|e| Failure::Rejected(e.to_string()))?;
        match self.publisher.publish(format::topic(a).as_bytes(), &body) {
            Ok(bus::Sent::Sent) => Ok(()),
            // One subscriber that does not read must not hold up the others: its share is counted.
            Ok(bus::Sent::Full) => {
                Err(Failure::Rejected("a bus subscriber's queue is full".into()))
            }
            Err(e) => Err(Failure::Transient(e.to_string())),
        }
    }

    fn idle(&mut self) {
        // subscription messages pile up in an XPUB socket unless read
        self.publisher.poll_subscriptions();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        for s in [
            "stdout",
            "file:/tmp/alerts.jsonl",
            "webhook:http://127.0.0.1:8080/hook",
            "alertmanager:http://127.0.0.1:9093",
            "syslog:udp://127.0.0.1:514",
            "bus:tcp://127.0.0.1:5560",
        ] {
            let t: Target = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        for bad in [
            "stdout:x",
            "file:",
            "webhook:ftp://x",
            "syslog:tcp://h:1",
            "pager:x",
            "bus",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn http_statuses() {
        assert!(http_outcome(200, String::new).is_ok());
        assert!(matches!(
            http_outcome(400, String::new),
            Err(Failure::Rejected(_))
        ));
        assert!(matches!(
            http_outcome(429, String::new),
            Err(Failure::Transient(_))
        ));
        assert!(matches!(
            http_outcome(503, String::new),
            Err(Failure::Transient(_))
        ));
    }
}
