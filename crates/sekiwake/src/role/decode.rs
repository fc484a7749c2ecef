//! `sekiwake decode --pcap FILE`: the datagrams of a capture file as records, one JSON line each. The
//! [`Printer`] is shared with `tap --decode`.

use std::io::{self, Write};

use anyhow::{Context, Result};
use capture::{Body, FileSource, LoopGuard, Sources, Status};
use serde::Serialize;

use crate::config::{Config, DecodeConfig};

/// Problems logged one by one; past this they are only counted.
const MAX_WARNINGS: u64 = 100;

/// Decodes datagrams and writes their records as JSON lines.
pub struct Printer<W: Write> {
    decoder: records::Decoder,
    out: W,
    problems: u64,
}

impl<W: Write> Printer<W> {
    pub fn new(cfg: &DecodeConfig, out: W) -> Result<Self> {
        Ok(Self {
            decoder: records::Decoder::new(cfg.options()).context("decode.snmp_users")?,
            out,
            problems: 0,
        })
    }

    pub fn datagram(&mut self, d: &records::Datagram<'_>) -> io::Result<()> {
        let (out, mut failed) = (&mut self.out, None);
        let r = self.decoder.decode(d, &mut |rec| {
            if failed.is_none() {
                failed = records::write_json(out, &rec).err();
            }
        });
        if let Err(problems) = r {
            self.warn(d, &problems);
        }
        failed.map_or(Ok(()), Err)
    }

    fn warn(&mut self, d: &records::Datagram<'_>, problems: &[records::DecodeError]) {
        for p in problems {
            if self.problems < MAX_WARNINGS {
                tracing::warn!("decode: {} from {}: {p}", d.kind, d.exporter);
            }
            self.problems += 1;
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn stats(&self) -> records::Stats {
        self.decoder.stats
    }

    pub fn template_stats(&self) -> wire::netflow::cache::CacheStats {
        self.decoder.template_stats()
    }
}

/// What `decode` did, printed on stderr at the end.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub frames: u64,
    pub datagrams: u64,
    /// Frames that were not telemetry datagrams on a watched port (not UDP, other ports, malformed headers).
    pub skipped: u64,
    pub records: records::Stats,
    /// v9/IPFIX templates learned, refreshed, changed, withdrawn, expired and evicted.
    pub templates: wire::netflow::cache::CacheStats,
}

pub fn run(cfg: &Config) -> Result<Summary> {
    let path = cfg
        .capture
        .pcap
        .as_deref()
        .context("decode needs --pcap FILE")?;
    let mut source = Sources::File(FileSource::open(path, false)?);
    let classifier = super::capture::classifier(&cfg.capture);
    let defrag = super::capture::defrag_config(&cfg.capture);
    // A file holds what it holds: nothing in it is this host's own forwarding.
    let mut frames =
        capture::Decoder::new(classifier, defrag, LoopGuard::new(Vec::new(), Vec::new()));
    let stdout = io::stdout();
    let mut printer = Printer::new(&cfg.decode, io::BufWriter::new(stdout.lock()))?;
    let mut failed = None;
    loop {
        let status = source.poll(0, &mut |pkt| {
            let captured = match pkt.body {
                Body::Frame { link, data, .. } => frames.frame(link, pkt.ts_ns, data),
                Body::Udp { src, dst, payload } => frames.datagram(pkt.ts_ns, src, dst, payload),
            };
            let Some(c) = captured else { return };
            let d = records::Datagram {
                kind: c.class.kind,
                exporter: c.src.ip(),
                received_ns: c.ts_ns,
                payload: c.payload,
            };
            if failed.is_none() {
                failed = printer.datagram(&d).err();
            }
        })?;
        if let Some(e) = failed.take() {
            return Err(e).context("writing records");
        }
        if status == Status::Ended {
            break;
        }
    }
    printer.flush().context("writing records")?;
    let s = frames.stats();
    Ok(Summary {
        frames: s.frames,
        datagrams: s.captured_total(),
        skipped: s.frames - s.captured_total().min(s.frames),
        records: printer.stats(),
        templates: printer.template_stats(),
    })
}
