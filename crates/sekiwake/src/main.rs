//! sekiwake: capture telemetry datagrams, publish them on a ZeroMQ bus, forward them byte-exact.
//! docs/ARCHITECTURE.md explains how a datagram flows through these modules.

mod cli;
mod config;
mod histogram;
mod metrics;
mod role;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

use cli::{Cli, Cmd};
use config::Config;
use role::Stop;

fn load(path: Option<&std::path::Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// SIGINT and SIGTERM set the flag; every role checks it and shuts down with final counters.
fn signals() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
    }
    Ok(flag)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let signal = signals()?;
    let cfg_path = cli.config.as_deref();
    if cfg_path.is_some()
        && matches!(
            cli.cmd,
            Cmd::Send(_) | Cmd::Demo(_) | Cmd::CheckConfig { .. }
        )
    {
        anyhow::bail!(
            "this command takes no -c/--config (check-config takes the file as its argument)"
        );
    }
    match cli.cmd {
        Cmd::Capture(a) => {
            let mut cfg = load(cfg_path)?;
            a.apply(&mut cfg);
            let opts = role::capture::RunOptions {
                wait_subscribers: a.wait_subscribers,
                ready: None,
            };
            role::capture::run(&cfg, &opts, &Stop::new(&signal, a.stats.duration()), None)?;
        }
        Cmd::Forward(a) => {
            let read = || -> Result<Config> {
                let mut cfg = load(cfg_path)?;
                a.apply(&mut cfg).map_err(anyhow::Error::msg)?;
                Ok(cfg)
            };
            let cfg = read()?;
            let stop = Stop::new(&signal, a.stats.duration());
            role::forward::run(&cfg, &stop, None, Some(&read))?;
        }
        Cmd::Decode(a) => {
            let mut cfg = load(cfg_path)?;
            a.apply(&mut cfg);
            let summary = role::decode::run(&cfg)?;
            eprintln!("decode: done: {}", serde_json::to_string(&summary)?);
        }
        Cmd::Tap(a) => {
            let mut cfg = load(cfg_path)?;
            a.records.apply(&mut cfg);
            let chosen = match (a.subscribe.is_empty(), cfg.bus.subscribe.is_empty()) {
                (false, _) => a.subscribe.clone(),
                (true, false) => cfg.bus.subscribe.clone(),
                (true, true) => vec![cfg.bus.publish.clone()],
            };
            let endpoints: Vec<String> = chosen.iter().map(|e| e.0.clone()).collect();
            let prefixes = tap_prefixes(&a.kind);
            let d = a.duration.map(std::time::Duration::from_secs_f64);
            let decode = a.decode.then_some(&cfg.decode);
            role::tap::run(&endpoints, &prefixes, decode, &Stop::new(&signal, d))?;
        }
        Cmd::Send(a) => {
            let r = role::send::run(&a.options(), &Stop::new(&signal, None))?;
            let json = serde_json::to_string(&r)?;
            eprintln!("send: done: {json}");
            if let Some(f) = &a.stats_file {
                std::fs::write(f, json).with_context(|| format!("writing {f}"))?;
            }
        }
        Cmd::Sink(a) => {
            let mut cfg = load(cfg_path)?;
            a.stats.apply(&mut cfg);
            role::sink::run(
                &cfg,
                &a.listen,
                &Stop::new(&signal, a.stats.duration()),
                None,
            )?;
        }
        Cmd::Demo(a) => {
            let o = role::demo::DemoOptions {
                interface: a.interface,
                rate: a.rate,
                count: a.count,
                size: a.size,
                port: a.port,
                receiver_port: a.receiver_port,
            };
            if !role::demo::run(&o, &signal)? {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::CheckConfig { file, no_files } => {
            let cfg = Config::load(&file)?;
            if !no_files {
                cfg.check_files(&file)?;
            }
            println!("{}: ok", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tap_prefixes(kinds: &[config::KindSelector]) -> Vec<String> {
    use config::KindSelector;
    if kinds.contains(&KindSelector::All) {
        return Vec::new();
    }
    kinds
        .iter()
        .map(|k| match k {
            KindSelector::Netflow => "netflow-".to_owned(),
            other => format!("{other}/"),
        })
        .collect()
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sekiwake: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
