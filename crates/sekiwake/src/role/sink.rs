//! `sekiwake sink`: a collector that only counts — batched receive (recvmmsg) on one or more UDP sockets.
//! Benchmarks and tests measure every system against this same receiver.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use capture::{Body, Listener, Sources};
use config::Config;
use runtime::{Reporter, Stop, Summary};
use serde::Serialize;

use crate::cli::StatsArgs;
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// ADDR:PORT to receive on (repeatable).
    #[arg(long, required = true)]
    pub listen: Vec<SocketAddr>,
    #[command(flatten)]
    pub stats: StatsArgs,
}

impl RoleConfig for Args {}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.stats.apply(&mut cfg);
    run(&cfg, &args.listen, &ctx.stop(args.stats.duration()), None)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SinkReport {
    pub role: &'static str,
    pub received: u64,
    pub bytes: u64,
    /// Datagrams longer than the receive buffer (cannot happen below 64 KiB).
    pub truncated: u64,
}

impl Summary for SinkReport {
    fn line(&self) -> String {
        format!(
            "received={} bytes={} truncated={}",
            self.received, self.bytes, self.truncated
        )
    }
}

pub fn run(
    cfg: &Config,
    listen: &[SocketAddr],
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<SinkReport>>>,
) -> Result<SinkReport> {
    let listeners = listen
        .iter()
        .map(|&a| Listener::bind(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sources = Sources::Live {
        interfaces: Vec::new(),
        listeners,
    };
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let mut r = SinkReport {
        role: "sink",
        ..Default::default()
    };
    while !stop.requested() {
        sources.poll(100, &mut |p| {
            if let Body::Udp { payload, .. } = p.body {
                r.received += 1;
                r.bytes += payload.len() as u64;
            }
        })?;
        if reporter.due() {
            r.truncated = sources.pcap_stats().truncated;
            reporter.report("sink", &r);
        }
    }
    r.truncated = sources.pcap_stats().truncated;
    reporter.finish("sink", &r);
    Ok(r)
}
