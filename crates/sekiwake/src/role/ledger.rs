//! `sekiwake ledger FILE...`: who lost which datagrams, from the stats files (`--stats FILE`) of captures,
//! proxies and subscribers. The arithmetic lives in the `ledger` crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use ledger::{Ledger, Report};

use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Stats files of the roles on the path (capture, proxy, forward, tap, detect), final ones: every
    /// incarnation of a restarted subscriber writes its own. Other roles' files are skipped.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the ledger as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

impl RoleConfig for Args {}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    ctx.refuse_config()?;
    let mut reports = Vec::new();
    for file in &args.files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        match Report::from_json(&text) {
            Ok(Some(r)) => reports.push(r),
            Ok(None) => tracing::info!(
                "ledger: {} is no capture, proxy or subscriber report: skipped",
                file.display()
            ),
            Err(e) => bail!("{}: not a stats file: {e}", file.display()),
        }
    }
    let ledger = Ledger::of(&reports);
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&ledger)?),
        false => print!("{}", ledger.render()),
    }
    Ok(ExitCode::SUCCESS)
}
