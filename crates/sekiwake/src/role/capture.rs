//! `sekiwake capture`: read datagrams from the wire (or a file, or a UDP socket), classify them, publish each
//! in an envelope on the bus.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bus::{Publisher, Sent};
use capture::{
    filter, Body, Captured, Decoder, DefragConfig, FileSource, Listener, LiveInterface,
    LiveOptions, LoopGuard, Sources, Status,
};
use envelope::{Header, FLAG_REASSEMBLED};
use wire::classify::Classifier;

use super::Stop;
use crate::config::{CaptureConfig, Config};
use crate::metrics::{BusCounters, CaptureReport, Reporter};

/// How long capture waits for `--wait-subscribers` before starting anyway.
const WAIT_SUBSCRIBERS: Duration = Duration::from_secs(30);
const POLL_MS: u16 = 100;

/// What the command line adds to the configuration for this run.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub wait_subscribers: usize,
    /// Set once the sources are open and the subscribers (if awaited) are there.
    pub ready: Option<Arc<AtomicBool>>,
}

/// The port table: defaults, with every family named in the configuration replaced by its ports there.
pub fn classifier(cfg: &CaptureConfig) -> Classifier {
    let mut c = Classifier::empty();
    for f in wire::kind::Family::ALL {
        let configured = cfg.ports.iter().find(|(name, _)| name.family() == f);
        match configured {
            Some((_, ports)) => ports.iter().for_each(|p| c.set(p.0, f)),
            None => f.default_ports().iter().for_each(|&p| c.set(p, f)),
        }
    }
    c
}

pub(crate) fn defrag_config(cfg: &CaptureConfig) -> DefragConfig {
    DefragConfig {
        max_bytes: cfg.defrag.max_bytes,
        max_datagrams: cfg.defrag.max_datagrams.max(1),
        timeout_ns: u64::from(cfg.defrag.timeout_secs) * 1_000_000_000,
    }
}

fn open_sources(
    cfg: &CaptureConfig,
    classifier: &Classifier,
    guard: &LoopGuard,
) -> Result<Sources> {
    if let Some(path) = &cfg.pcap {
        if !cfg.interfaces.is_empty() || !cfg.listen.is_empty() {
            bail!("a pcap file replay cannot be combined with interfaces or listeners");
        }
        return Ok(Sources::File(FileSource::open(path, cfg.pace)?));
    }
    if cfg.interfaces.is_empty() && cfg.listen.is_empty() {
        bail!(
            "nothing to capture: give an interface (-i), a file (--pcap) or a listener (--listen)"
        );
    }
    let bpf = filter::build(classifier, guard);
    let buffer = i32::try_from(u64::from(cfg.buffer_mib) << 20).unwrap_or(i32::MAX);
    let opts = LiveOptions {
        buffer,
        snaplen: i32::try_from(cfg.snaplen).unwrap_or(i32::MAX),
        immediate: cfg.immediate,
        block_timeout_ms: i32::try_from(cfg.block_timeout_ms).unwrap_or(1000),
    };
    let interfaces = cfg
        .interfaces
        .iter()
        .map(|i| LiveInterface::open(i, &bpf, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let listeners = cfg
        .listen
        .iter()
        .map(|&a| {
            if classifier.family(a.port()).is_none() {
                bail!(
                    "listener {a}: port {} is not mapped to a kind; add --port KIND={}",
                    a.port(),
                    a.port()
                );
            }
            Ok(Listener::bind(a)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Sources::Live {
        interfaces,
        listeners,
    })
}

/// Turns captured datagrams into envelopes and publishes them.
struct Publishing {
    publisher: Publisher,
    id: u64,
    /// Next sequence number per (kind, bucket): a subscriber to whole kinds or buckets sees no holes
    /// unless the bus dropped.
    sequences: Box<[[u64; envelope::BUCKETS as usize]; 6]>,
    body: Vec<u8>,
    topic: Vec<u8>,
    counters: BusCounters,
}

impl Publishing {
    fn publish(&mut self, c: &Captured<'_>, iface: &str) {
        let bucket = envelope::exporter_bucket(c.src.ip());
        let seq = &mut self.sequences[c.class.kind.index()][usize::from(bucket)];
        let header = Header {
            kind: c.class.kind.code(),
            variant: c.class.variant,
            flags: c.class.flags | if c.reassembled { FLAG_REASSEMBLED } else { 0 },
            src: c.src.ip(),
            dst: c.dst.ip(),
            src_port: c.src.port(),
            dst_port: c.dst.port(),
            publisher: self.id,
            sequence: *seq,
            timestamp_ns: c.ts_ns,
            interface: envelope::interface_field(iface),
        };
        *seq += 1;
        header.encode(c.payload, &mut self.body);
        envelope::write_topic(c.class.kind.name(), c.src.ip(), bucket, &mut self.topic);
        match self.publisher.publish(&self.topic, &self.body) {
            Ok(Sent::Sent) => self.counters.published += 1,
            Ok(Sent::Full) => self.counters.hwm_dropped += 1,
            Err(e) => {
                if self.counters.failed == 0 {
                    tracing::error!("publish: {e}");
                }
                self.counters.failed += 1;
            }
        }
    }
}

/// A random-enough publisher id: time and pid mixed (no crate needed for 64 bits that only must differ).
fn random_id() -> u64 {
    let t = capture::now_ns();
    let x = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64 finaliser
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn run(
    cfg: &Config,
    opts: &RunOptions,
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<CaptureReport>>>,
) -> Result<CaptureReport> {
    let classifier = classifier(&cfg.capture);
    let guard = LoopGuard::for_this_host(cfg.capture.ignore_source_ports.clone());
    let mut sources = open_sources(&cfg.capture, &classifier, &guard)?;
    let publisher = Publisher::bind(&cfg.bus.publish.0, cfg.bus.hwm.min(i32::MAX as u32) as i32)
        .with_context(|| format!("publish on {}", cfg.bus.publish.0))?;
    let mut p = Publishing {
        publisher,
        id: cfg.bus.publisher_id.unwrap_or_else(random_id),
        sequences: Box::new([[0; envelope::BUCKETS as usize]; 6]),
        body: Vec::with_capacity(65536 + envelope::HEADER_LEN),
        topic: Vec::with_capacity(64),
        counters: BusCounters::default(),
    };
    tracing::info!(
        "capture: publishing on {} as publisher {:016x}; filter: {}",
        cfg.bus.publish.0,
        p.id,
        filter::build(&classifier, &guard)
    );
    if opts.wait_subscribers > 0 {
        let n = p
            .publisher
            .wait_subscribers(opts.wait_subscribers, WAIT_SUBSCRIBERS);
        tracing::info!("capture: {n} subscription(s) seen, starting");
    }
    if let Some(r) = &opts.ready {
        r.store(true, Ordering::Relaxed);
    }
    let mut decoder = Decoder::new(classifier, defrag_config(&cfg.capture), guard);
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let is_file = cfg.capture.pcap.is_some();
    let mut last_ts = 0u64;
    let mut failure = None;
    // Batched mode for listeners: after a wake-up with data, let datagrams gather for the block timeout, as
    // the kernel does for libpcap's blocks.
    let gather = (!cfg.capture.immediate && !cfg.capture.listen.is_empty())
        .then(|| Duration::from_millis(u64::from(cfg.capture.block_timeout_ms)));
    loop {
        let mut got = false;
        let status = sources.poll(POLL_MS, &mut |pkt| {
            got = true;
            last_ts = pkt.ts_ns;
            let captured = match pkt.body {
                Body::Frame { data, wire_len, .. } if (data.len() as u64) < u64::from(wire_len) => {
                    decoder.truncated();
                    None
                }
                Body::Frame { link, data, .. } => decoder.frame(link, pkt.ts_ns, data),
                Body::Udp { src, dst, payload } => decoder.datagram(pkt.ts_ns, src, dst, payload),
            };
            if let Some(c) = captured {
                p.publish(&c, pkt.iface);
            }
        });
        if let (true, Some(d)) = (got, gather) {
            std::thread::sleep(d);
        }
        let status = status.unwrap_or_else(|e| {
            tracing::error!("capture: {e}");
            failure = Some(e);
            Status::Ended
        });
        if reporter.due() {
            decoder.expire(if is_file { last_ts } else { capture::now_ns() });
            p.publisher.poll_subscriptions();
            reporter.report(
                "capture",
                &CaptureReport::new(&decoder.stats(), &p.counters, &sources.pcap_stats()),
            );
        }
        if status == Status::Ended || stop.requested() {
            break;
        }
    }
    let report = CaptureReport::new(&decoder.stats(), &p.counters, &sources.pcap_stats());
    reporter.finish("capture", &report);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}
