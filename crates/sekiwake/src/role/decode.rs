//! `sekiwake decode --pcap FILE`: the datagrams of a capture file as records, one JSON line each.

use std::collections::BTreeMap;
use std::io;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use capture::{Body, FileSource, LoopGuard, Sources, Status};
use config::{parse_port, Config, FamilyName, Port};
use envelope::FLAG_MISMATCHED;
use records::Printer;
use serde::Serialize;

use crate::cli::{apply_ports, port_help, RecordArgs};
use crate::context::{Context, RoleConfig};
use crate::frames;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pcap/pcapng file to decode.
    #[arg(long)]
    pub pcap: String,
    #[arg(long = "port", value_parser = parse_port, help = port_help())]
    pub ports: Vec<(FamilyName, Port)>,
    #[command(flatten)]
    pub records: RecordArgs,
}

impl RoleConfig for Args {}

impl Args {
    pub fn apply(&self, cfg: &mut Config) {
        cfg.capture.pcap = Some(self.pcap.clone());
        apply_ports(&self.ports, &mut cfg.capture);
        self.records.apply(cfg);
    }
}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.apply(&mut cfg);
    let summary = run(&cfg)?;
    eprintln!("decode: done: {}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// What `decode` did, printed on stderr at the end.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub frames: u64,
    pub datagrams: u64,
    /// Frames that were not telemetry datagrams on a watched port (not UDP, other ports, malformed headers).
    pub skipped: u64,
    /// Of `skipped`: on a watched port but not fitting its kind, with `capture.mismatched = "drop"` (with the
    /// default, `relay`, they are decoded as far as they go and counted in `records.mismatched`).
    pub mismatched_dropped: u64,
    /// Frames that passed at least one encapsulation (PPPoE, MPLS, IP-in-IP, GRE, ERSPAN, VXLAN), and per kind.
    pub tunnelled: u64,
    pub encapsulations: BTreeMap<&'static str, u64>,
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
    // A file holds what it holds: nothing in it is this host's own forwarding.
    let guard = LoopGuard::new(Vec::new(), Vec::new());
    let mut frames = frames::parser(&cfg.capture, cfg.capture.classifier(), guard);
    let stdout = io::stdout();
    let out = io::BufWriter::new(stdout.lock());
    let mut printer = Printer::new(cfg.decode.options(), out).context("decode.snmp_users")?;
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
                mismatched: c.class.flags & FLAG_MISMATCHED != 0,
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
        mismatched_dropped: s.mismatched_dropped,
        tunnelled: s.tunnelled,
        encapsulations: frames::encapsulations(&s),
        records: printer.stats(),
        templates: printer.template_stats(),
    })
}
