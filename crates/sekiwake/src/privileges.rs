//! Dropping root once the privileged sockets are open: capture opens its packet sockets and low ports, forward
//! its raw sockets, then each becomes an unprivileged user (`--user`, `run.user`), keeping only the
//! capabilities it still needs: none for capture, CAP_NET_RAW for a forwarder with spoofing destinations (a
//! reload may open another raw socket).
//!
//! glibc applies setgroups/setgid/setuid to every thread of the process; capabilities are per thread: the
//! threads already running (libzmq's, destinations') lose them all with the change of user, and this thread
//! keeps exactly `keep` (threads it starts later inherit that).

use anyhow::{bail, Context as _, Result};
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid, User};

/// Becomes `user` (its uid, primary gid and only that group), keeping the capabilities `keep` in this
/// thread's permitted and effective sets and none inheritable or ambient. Not root: only the same user is
/// accepted (nothing to drop).
pub fn drop_to(user: &str, keep: &[Capability]) -> Result<()> {
    let u = User::from_name(user)
        .with_context(|| format!("looking up user {user}"))?
        .with_context(|| format!("no user {user} on this host"))?;
    if !Uid::effective().is_root() {
        if Uid::effective() == u.uid {
            return Ok(());
        }
        bail!(
            "running as uid {}: only root can become {user}",
            Uid::effective()
        );
    }
    if u.uid.is_root() {
        bail!("--user {user} is root: nothing would be dropped");
    }
    nix::sys::prctl::set_keepcaps(!keep.is_empty()).context("prctl(PR_SET_KEEPCAPS)")?;
    nix::unistd::setgroups(&[u.gid]).context("setgroups")?;
    nix::unistd::setgid(u.gid).context("setgid")?;
    nix::unistd::setuid(u.uid).context("setuid")?;
    let kept: CapsHashSet = keep.iter().copied().collect();
    caps::set(None, CapSet::Permitted, &kept).context("capset (permitted)")?;
    caps::set(None, CapSet::Effective, &kept).context("capset (effective)")?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).context("capset (inheritable)")?;
    caps::clear(None, CapSet::Ambient).context("clearing ambient capabilities")?;
    nix::sys::prctl::set_keepcaps(false).context("prctl(PR_SET_KEEPCAPS)")?;
    // a way back to root would make all of this moot
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok()
        || nix::unistd::setgid(Gid::from_raw(0)).is_ok()
    {
        bail!("still able to become root after dropping to {user}");
    }
    tracing::info!(
        "running as {user} (uid {}, gid {}), capabilities: {}",
        u.uid,
        u.gid,
        match keep {
            [] => "none".to_owned(),
            k => k
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    );
    Ok(())
}
