//! sekiwake: capture telemetry datagrams, publish them on a ZeroMQ bus, forward them byte-exact.
//! docs/ARCHITECTURE.md explains how a datagram flows through these modules and the crates below them.

#![forbid(unsafe_code)]

mod cli;
mod context;
mod frames;
mod privileges;
mod role;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Parser;

use context::{Context, RoleSections};
use role::Cmd;

#[derive(Parser, Debug)]
#[command(
    name = "sekiwake",
    version,
    about = "Capture syslog, NetFlow/IPFIX, sFlow and SNMP traps; publish them on ZeroMQ; forward them byte-exact"
)]
pub struct Cli {
    /// TOML configuration file, read by capture, forward, tap and sink.
    #[arg(short = 'c', long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
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
    let ctx = Context {
        config: cli.config,
        signal: signals()?,
        sections: RoleSections {
            names: role::sections(),
            check: role::check_sections,
        },
    };
    cli.cmd.run(&ctx)
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
