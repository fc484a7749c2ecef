//! `sekiwake keygen --out PREFIX`: a CURVE key pair for the bus, `PREFIX.key` (the secret key, mode 0600) and
//! `PREFIX.pub` (the public key, to hand to the other side's allow-list or `curve_server_public_key_file`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bus::curve::{encode_key, generate};

use crate::context::{Context, RoleConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Writes PREFIX.key (secret, mode 0600) and PREFIX.pub.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

impl RoleConfig for Args {}

pub fn main(args: Args, ctx: &Context) -> Result<ExitCode> {
    ctx.refuse_config()?;
    let (public, secret) = generate().context("generating a CURVE key pair")?;
    let (key, public_file) = (with_suffix(&args.out, "key"), with_suffix(&args.out, "pub"));
    let header = "# sekiwake CURVE";
    write(
        &key,
        &format!(
            "{header} secret key: keep it here (bus.curve_secret_key_file)\n{}\n",
            encode_key(&secret)
        ),
        0o600,
        args.force,
    )?;
    write(
        &public_file,
        &format!(
            "{header} public key: for an allow-list (bus.curve_allowed_clients) or a client's \
             bus.curve_server_public_key_file\n{}\n",
            encode_key(&public)
        ),
        0o644,
        args.force,
    )?;
    println!("{}\n{}", key.display(), public_file.display());
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates `path` with `mode` from the start (a secret key is never readable by others, not even for a
/// moment); an existing file is refused unless `force`.
fn write(path: &Path, text: &str, mode: u32, force: bool) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(mode);
    match force {
        true => opts.create(true).truncate(true),
        false => opts.create_new(true),
    };
    let mut f = opts
        .open(path)
        .with_context(|| format!("{} (--force replaces it)", path.display()))?;
    // a replaced file keeps its old mode: set it
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .with_context(|| path.display().to_string())?;
    f.write_all(text.as_bytes())
        .with_context(|| path.display().to_string())?;
    Ok(())
}
