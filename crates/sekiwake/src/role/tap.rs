//! `sekiwake tap`: one JSON line per envelope on stdout — a person's window on the bus — or, with
//! `--decode`, one per record. The smallest subscriber: the skeleton does the bus, tap only prints.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bus::subscriber::{self, Delivered, Handler};
use config::{Config, KindSelector};
use envelope::{Envelope, FLAG_INFORM, FLAG_MISMATCHED, FLAG_REASSEMBLED};
use records::Printer;
use runtime::{Reporter, Summary};
use serde::Serialize;
use wire::kind::Kind;

use crate::cli::{kinds_help, RecordArgs, StatsArgs, SubscribeArgs};
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub bus: SubscribeArgs,
    #[arg(long, help = kinds_help("Only these kinds (repeatable)"))]
    pub kind: Vec<KindSelector>,
    /// Decode each datagram into records (flows, messages, traps...) instead of printing the envelope.
    #[arg(long)]
    pub decode: bool,
    #[command(flatten)]
    pub records: RecordArgs,
    #[command(flatten)]
    pub stats: StatsArgs,
}

impl RoleConfig for Args {}

impl Args {
    pub fn apply(&self, cfg: &mut Config) {
        self.bus.apply(cfg);
        self.records.apply(cfg);
        self.stats.apply(cfg);
    }
}

/// Tap's own counters (the skeleton adds `received`, `bad_envelope`, `bus_gaps`, `publishers`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TapReport {
    /// Envelopes printed (with --decode: envelopes decoded).
    pub printed: u64,
    /// Alert events printed (`detect`'s bus sink).
    pub alert_lines: u64,
    /// With --decode: what the decoder made of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<records::Stats>,
}

impl Summary for TapReport {
    fn line(&self) -> String {
        format!("printed={}", self.printed)
    }
}

#[derive(Serialize)]
struct Line<'a> {
    topic: &'a str,
    kind: &'a str,
    variant: &'a str,
    exporter: String,
    exporter_port: u16,
    destination: String,
    destination_port: u16,
    timestamp_ns: u64,
    publisher: u64,
    sequence: u64,
    interface: &'a str,
    reassembled: bool,
    inform: bool,
    /// The payload does not fit its port's kind (published so that a relay is no stricter than its collector).
    mismatched: bool,
    length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_text: Option<String>,
    payload_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn line<'a>(topic: &'a str, e: &'a Envelope<&'a [u8]>) -> Line<'a> {
    let kind = e.kind();
    let payload = e.payload();
    Line {
        topic,
        kind: kind.map_or("unknown", Kind::name),
        variant: kind.map_or("unknown", |k| k.variant_name(e.variant())),
        exporter: e.src().to_string(),
        exporter_port: e.src_port(),
        destination: e.dst().to_string(),
        destination_port: e.dst_port(),
        timestamp_ns: e.timestamp_ns(),
        publisher: e.publisher(),
        sequence: e.sequence(),
        interface: e.interface(),
        reassembled: e.flags() & FLAG_REASSEMBLED != 0,
        inform: e.flags() & FLAG_INFORM != 0,
        mismatched: e.flags() & FLAG_MISMATCHED != 0,
        length: payload.len(),
        payload_text: (kind == Some(Kind::Syslog))
            .then(|| String::from_utf8_lossy(payload).into_owned()),
        payload_hex: hex(payload),
    }
}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.apply(&mut cfg);
    let opts = subscriber::Options {
        endpoints: cfg.bus.subscribe.iter().map(|e| e.0.clone()).collect(),
        kinds: args.kind.clone(),
        shard: cfg.bus.shard,
        curve: crate::cli::curve(&cfg)?,
        hwm: cfg.bus.hwm,
        drain: std::time::Duration::ZERO,
        reload_on_sighup: false,
    };
    let stop = ctx.stop(args.stats.duration());
    let mut reporter = Reporter::new(&cfg.stats, None);
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    match args.decode {
        true => {
            let printer = Printer::new(cfg.decode.options(), out).context("decode.snmp_users")?;
            subscriber::run(&opts, Tap::new(Decoded(printer)), &stop, &mut reporter)?
        }
        false => subscriber::run(&opts, Tap::new(Raw(out)), &stop, &mut reporter)?,
    };
    Ok(ExitCode::SUCCESS)
}

/// What tap does with each envelope.
trait Output {
    fn envelope(&mut self, topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()>;
    /// Where other lines go (alert events).
    fn writer(&mut self) -> &mut dyn Write;
    fn flush(&mut self) -> std::io::Result<()>;
    fn records(&self) -> Option<records::Stats> {
        None
    }
}

struct Raw<W: Write>(W);

impl<W: Write> Output for Raw<W> {
    fn writer(&mut self) -> &mut dyn Write {
        &mut self.0
    }
    fn envelope(&mut self, topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, &line(topic, e))?;
        self.0.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct Decoded<W: Write>(Printer<W>);

impl<W: Write> Output for Decoded<W> {
    fn writer(&mut self) -> &mut dyn Write {
        self.0.writer()
    }
    fn envelope(&mut self, _topic: &str, e: &Envelope<&[u8]>) -> std::io::Result<()> {
        let Some(kind) = e.kind() else { return Ok(()) };
        self.0.datagram(&records::Datagram {
            kind,
            exporter: e.src(),
            received_ns: e.timestamp_ns(),
            payload: e.payload(),
            mismatched: e.flags() & FLAG_MISMATCHED != 0,
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
    fn records(&self) -> Option<records::Stats> {
        Some(self.0.stats())
    }
}

struct Tap<O: Output> {
    out: O,
    printed: u64,
    alerts: u64,
}

impl<O: Output> Tap<O> {
    fn new(out: O) -> Self {
        Self {
            out,
            printed: 0,
            alerts: 0,
        }
    }
}

impl<O: Output> Handler for Tap<O> {
    type Counters = TapReport;
    type Error = anyhow::Error;

    fn role(&self) -> &'static str {
        "tap"
    }

    fn batch(&mut self, batch: &[Delivered<'_>]) -> Result<()> {
        for d in batch {
            self.out
                .envelope(&String::from_utf8_lossy(d.topic), &d.envelope)
                .context("writing to stdout")?;
            self.printed += 1;
        }
        Ok(())
    }

    /// An alert event from `detect`'s bus sink: `{"topic": ..., "alert": {...}}`, the body as it came when
    /// it is not JSON.
    fn alert(&mut self, topic: &[u8], body: &[u8]) -> Result<()> {
        let alert = serde_json::from_slice::<serde_json::Value>(body)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned().into());
        let line = serde_json::json!({ "topic": String::from_utf8_lossy(topic), "alert": alert });
        let w = self.out.writer();
        serde_json::to_writer(&mut *w, &line).context("writing to stdout")?;
        w.write_all(b"\n").context("writing to stdout")?;
        self.alerts += 1;
        Ok(())
    }

    /// Output is flushed when the bus goes quiet, so a person watching sees every line.
    fn idle(&mut self) -> Result<()> {
        self.out.flush().context("writing to stdout")
    }

    fn counters(&mut self) -> TapReport {
        TapReport {
            printed: self.printed,
            alert_lines: self.alerts,
            records: self.out.records(),
        }
    }

    fn close(mut self) -> TapReport {
        if let Err(e) = self.out.flush() {
            tracing::warn!("tap: writing to stdout: {e}");
        }
        self.counters()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_digits() {
        assert_eq!(super::hex(&[0, 0x7f, 0xff]), "007fff");
    }
}
