//! `sekiwake forward`: the forward library ([`forward::Forwarder`]: rules, groups, destinations) on the
//! subscriber skeleton, with SIGHUP reloading the file and flags.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use bus::subscriber::{self, Delivered, Handler, Report, Subscription};
use config::{parse_to, Config, Destination, Endpoint, Shard};
use forward::{ForwardReport, Forwarder};
use runtime::{Reporter, Stop};

use crate::cli::{kinds_help, StatsArgs};
use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bus endpoint to subscribe to (repeatable).
    #[arg(long)]
    pub subscribe: Vec<Endpoint>,
    #[arg(long = "to", value_parser = parse_to, help = kinds_help("KIND=URL (repeatable), URL udp://, tcp:// or tls://HOST:PORT; KIND"))]
    pub to: Vec<Destination>,
    /// Source port of forwarded datagrams (the loop guard capture ignores); 0 for any.
    #[arg(long)]
    pub source_port: Option<u16>,
    /// Take only shard I of N of the bus (default: bus.shard, else all of it).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Once the destinations' sockets are open, become this user (default: run.user), keeping CAP_NET_RAW
    /// only when a destination spoofs.
    #[arg(long)]
    pub user: Option<String>,

    #[command(flatten)]
    pub stats: StatsArgs,
}

impl RoleConfig for Args {}

impl Args {
    pub fn apply(&self, cfg: &mut Config) -> Result<(), String> {
        if !self.subscribe.is_empty() {
            cfg.bus.subscribe = self.subscribe.clone();
        }
        if !self.to.is_empty() {
            cfg.forward.destination = merge_destinations(&self.to)?;
        }
        if let Some(p) = self.source_port {
            cfg.forward.source_port = p;
        }
        if let Some(s) = self.shard {
            cfg.bus.shard = s;
        }
        if let Some(u) = &self.user {
            cfg.run.user = Some(u.clone());
        }

        self.stats.apply(cfg);
        Ok(())
    }
}

/// Several `--to` naming one address become one destination with several kinds.
fn merge_destinations(to: &[Destination]) -> Result<Vec<Destination>, String> {
    let mut out: Vec<Destination> = Vec::new();
    for d in to {
        match out.iter_mut().find(|o| o.url.text == d.url.text) {
            Some(o) => o.kinds.extend(d.kinds.iter().copied()),
            None => out.push(d.clone()),
        }
    }
    Ok(out)
}

/// At shutdown, how long forward keeps sending what is already queued on its side of the bus.
const DRAIN: Duration = Duration::from_secs(2);

/// Reads the configuration again (file and flags), for SIGHUP.
pub type Reload<'a> = &'a dyn Fn() -> Result<Config>;

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    let read = || -> Result<Config> {
        let mut cfg = ctx.load()?;
        args.apply(&mut cfg).map_err(anyhow::Error::msg)?;
        Ok(cfg)
    };
    let cfg = read()?;
    run(&cfg, &ctx.stop(args.stats.duration()), None, Some(&read))?;
    Ok(ExitCode::SUCCESS)
}

/// The forwarder as a subscriber: each batch's envelopes go to [`Forwarder::forward`].
struct Forwarding<'a> {
    forwarder: Forwarder,
    reload: Option<Reload<'a>>,
}

impl Handler for Forwarding<'_> {
    type Counters = ForwardReport;
    type Error = anyhow::Error;

    fn role(&self) -> &'static str {
        "forward"
    }

    fn batch(&mut self, batch: &[Delivered<'_>]) -> Result<()> {
        self.forwarder.forward(batch);
        Ok(())
    }

    /// Destinations' answers are read and informs resent even when nothing arrives.
    fn idle(&mut self) -> Result<()> {
        self.forwarder.tick();
        Ok(())
    }

    /// Readies the new configuration, moves the subscription, then lets it take over: any failure before
    /// the last step leaves everything as it was.
    fn reload(&mut self, sub: &mut Subscription<'_>) -> Result<String> {
        let Some(read) = self.reload else {
            return Ok("nothing to reload".into());
        };
        let cfg = read()?;
        if cfg.bus.shard != sub.shard() {
            bail!(
                "bus.shard is {}, the running forwarder takes {}: a shard changes only with a restart \
                 (its exporters' streams would move mid-way)",
                cfg.bus.shard,
                sub.shard()
            );
        }
        let prepared = self.forwarder.prepare(&cfg.forward)?;
        sub.change(prepared.kinds())?;
        let n = prepared.destinations();
        self.forwarder.commit(prepared);
        Ok(format!("{n} destination(s)"))
    }

    fn counters(&mut self) -> ForwardReport {
        self.forwarder.snapshot()
    }

    fn close(self) -> ForwardReport {
        self.forwarder.close()
    }
}

pub fn run(
    cfg: &Config,
    stop: &Stop<'_>,
    shared: Option<Arc<Mutex<Report<ForwardReport>>>>,
    reload: Option<Reload<'_>>,
) -> Result<Report<ForwardReport>> {
    if cfg.bus.subscribe.is_empty() {
        bail!("nothing to subscribe to: give --subscribe ENDPOINT (or bus.subscribe)");
    }
    let forwarder = Forwarder::open(&cfg.forward)?;
    if let Some(user) = &cfg.run.user {
        let spoofs = cfg
            .forward
            .destination
            .iter()
            .any(|d| matches!(d.url.scheme, config::Scheme::Spoof { .. }));
        let keep: &[caps::Capability] = match spoofs {
            true => &[caps::Capability::CAP_NET_RAW],
            false => &[],
        };
        crate::privileges::drop_to(user, keep)?;
    }
    tracing::info!(
        "forward: {} destination(s), {} group(s), {} rule(s)",
        forwarder.destinations(),
        forwarder.groups(),
        forwarder.rules()
    );
    let opts = subscriber::Options {
        endpoints: cfg.bus.subscribe.iter().map(|e| e.0.clone()).collect(),
        kinds: forward::kinds(&cfg.forward),
        shard: cfg.bus.shard,
        curve: crate::cli::curve(cfg)?,
        hwm: cfg.bus.hwm,
        drain: DRAIN,
        reload_on_sighup: reload.is_some(),
    };
    let mut reporter = Reporter::new(&cfg.stats, shared);
    let handler = Forwarding { forwarder, reload };
    subscriber::run(&opts, handler, stop, &mut reporter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The role's flags alone, as the command line gives them.
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn to_flags_merge_by_address() {
        let a = Flags::try_parse_from([
            "forward",
            "--subscribe",
            "tcp://127.0.0.1:5556",
            "--to",
            "syslog=udp://127.0.0.1:9",
            "--to",
            "sflow=udp://127.0.0.1:9",
            "--to",
            "all=udp://[::1]:9",
        ])
        .unwrap()
        .args;
        let mut cfg = Config::default();
        a.apply(&mut cfg).unwrap();
        assert_eq!(cfg.forward.destination.len(), 2);
        assert_eq!(cfg.forward.destination[0].kinds.len(), 2);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Flags::try_parse_from(["forward", "--to", "syslog=udp://[::1]"]).is_err());
        assert!(Flags::try_parse_from(["forward", "--subscribe", "http://x"]).is_err());
    }
}
