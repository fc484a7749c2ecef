//! `sekiwake check-config FILE`: load and validate a configuration file, and read the files it names.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    file: PathBuf,
    /// Do not read the files the configuration names: for a file meant for another host.
    #[arg(long)]
    no_files: bool,
}

impl RoleConfig for Args {}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    ctx.refuse_config()?;
    let cfg = ctx.load_checked(&args.file)?;
    if !args.no_files {
        cfg.check_files(&args.file)?;
        crate::cli::curve(&cfg)?;
    }
    println!("{}: ok", args.file.display());
    Ok(ExitCode::SUCCESS)
}
