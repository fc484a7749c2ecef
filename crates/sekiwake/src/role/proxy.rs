//! `sekiwake proxy`: between any number of publishers and subscribers (`bus::proxy`), so that captures and
//! subscribers need to know one address, not each other's. Flags over the `[proxy]` section.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use bus::proxy::{Proxy, ProxyOptions, ProxyStats};
use config::{Config, ConfigError, Endpoint};
use runtime::{Reporter, Summary};
use serde::{Deserialize, Serialize};

use crate::cli::StatsArgs;
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Endpoint to bind for publishers (captures started with --connect); repeatable.
    #[arg(long)]
    pub frontend: Vec<Endpoint>,
    /// Endpoint of a publisher that binds, to connect to; repeatable.
    #[arg(long)]
    pub frontend_connect: Vec<Endpoint>,
    /// Endpoint to bind for subscribers (forward, tap, detect, another proxy); repeatable.
    #[arg(long)]
    pub backend: Vec<Endpoint>,
    /// High-water mark on each side, in messages (default: bus.hwm).
    #[arg(long)]
    pub hwm: Option<u32>,
    #[command(flatten)]
    pub stats: StatsArgs,
}

/// The `[proxy]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Section {
    pub frontend: Vec<Endpoint>,
    pub frontend_connect: Vec<Endpoint>,
    pub backend: Vec<Endpoint>,
}

impl RoleConfig for Args {
    const SECTION: Option<&'static str> = Some("proxy");

    fn check(cfg: &Config) -> Result<(), ConfigError> {
        cfg.section::<Section>("proxy").map(|_| ())
    }
}

/// What the proxy reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyReport {
    pub role: &'static str,
    #[serde(flatten)]
    pub proxy: ProxyStats,
    /// With CURVE: peers let in and refused.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub auth: Option<bus::curve::AuthStats>,
}

impl Summary for ProxyReport {
    fn line(&self) -> String {
        let s = &self.proxy;
        format!(
            "received={} forwarded={} dropped_full={} subscriptions={}",
            s.received, s.forwarded, s.dropped_full, s.subscriptions
        )
    }
}

/// How long one wait for traffic lasts: the longest a stop or a report waits.
const WAIT_MS: i64 = 100;

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut cfg = ctx.load()?;
    args.stats.apply(&mut cfg);
    let opts = options(&args, &cfg)?;
    let stop = ctx.stop(args.stats.duration());
    let mut proxy = Proxy::open(&opts).context("proxy")?;
    tracing::info!(
        "proxy: publishers at {}, subscribers at {}",
        opts.frontend_bind
            .iter()
            .chain(&opts.frontend_connect)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        opts.backend.join(", ")
    );
    let mut reporter = Reporter::new(&cfg.stats, None);
    let report = |p: &Proxy| ProxyReport {
        role: "proxy",
        proxy: p.stats(),
        auth: p.auth_stats(),
    };
    while !stop.requested() {
        proxy.step(WAIT_MS)?;
        if reporter.due() {
            reporter.report("proxy", &report(&proxy));
        }
    }
    // what already arrived is handed on before the sockets close
    while proxy.step(0)? > 0 {}
    reporter.finish("proxy", &report(&proxy));
    Ok(ExitCode::SUCCESS)
}

/// Flags over the section; at least one endpoint on each side.
fn options(args: &Args, cfg: &Config) -> Result<ProxyOptions> {
    let section: Section = cfg.section("proxy")?;
    let pick = |flag: &[Endpoint], file: &[Endpoint]| -> Vec<String> {
        let chosen = if flag.is_empty() { file } else { flag };
        chosen.iter().map(|e| e.0.clone()).collect()
    };
    let opts = ProxyOptions {
        frontend_bind: pick(&args.frontend, &section.frontend),
        frontend_connect: pick(&args.frontend_connect, &section.frontend_connect),
        backend: pick(&args.backend, &section.backend),
        hwm: args.hwm.unwrap_or(cfg.bus.hwm),
        curve: crate::cli::curve(cfg)?,
    };
    if opts.frontend_bind.is_empty() && opts.frontend_connect.is_empty() {
        bail!("no frontend: give --frontend ENDPOINT (or --frontend-connect, or proxy.frontend)");
    }
    if opts.backend.is_empty() {
        bail!("no backend: give --backend ENDPOINT (or proxy.backend)");
    }
    Ok(opts)
}
