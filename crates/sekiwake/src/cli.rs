//! Flag groups several roles take. Each role's own flags live in its module (`role::<name>::Args`), the
//! global `-c FILE` in main.rs; flags override the configuration file.

use std::net::{SocketAddr, ToSocketAddrs};

use clap::Args;
use config::{CaptureConfig, Config, Endpoint, FamilyName, Port, Shard, SnmpUser};

#[derive(Args, Debug, Default)]
pub struct StatsArgs {
    /// Write the counters as JSON to FILE (every --stats-interval seconds and at exit).
    #[arg(long = "stats")]
    pub stats_file: Option<String>,
    #[arg(long)]
    pub stats_interval: Option<u32>,
    /// Seconds between counter log lines.
    #[arg(long)]
    pub log_interval: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
}

/// Where a bus-reading role (tap, detect) subscribes, and its receive queue.
#[derive(clap::Args, Debug)]
pub struct SubscribeArgs {
    /// Bus endpoint (repeatable); default: bus.subscribe from the configuration, else bus.publish
    /// (tcp://127.0.0.1:5556).
    #[arg(long)]
    pub subscribe: Vec<Endpoint>,
    /// High-water mark of the receive queue, in messages (default: bus.hwm).
    #[arg(long)]
    pub hwm: Option<u32>,
    /// Take only shard I of N of the bus (default: bus.shard, else all of it).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

impl SubscribeArgs {
    pub fn apply(&self, cfg: &mut Config) {
        if !self.subscribe.is_empty() {
            cfg.bus.subscribe = self.subscribe.clone();
        }
        if cfg.bus.subscribe.is_empty() {
            cfg.bus.subscribe = vec![cfg.bus.publish.clone()];
        }
        if let Some(h) = self.hwm {
            cfg.bus.hwm = h;
        }
        if let Some(s) = self.shard {
            cfg.bus.shard = s;
        }
    }
}

impl StatsArgs {
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(f) = &self.stats_file {
            cfg.stats.file = Some(f.clone());
        }
        if let Some(i) = self.stats_interval {
            cfg.stats.file_interval_secs = i;
        }
        if let Some(i) = self.log_interval {
            cfg.stats.log_interval_secs = i;
        }
    }

    pub fn duration(&self) -> Option<std::time::Duration> {
        self.duration.map(std::time::Duration::from_secs_f64)
    }
}

/// What the record decoder prints.
#[derive(Args, Debug, Default)]
pub struct RecordArgs {
    /// Also print NetFlow v9 / IPFIX templates (`record` = `template`).
    #[arg(long)]
    pub templates: bool,
    /// SNMPv3 user (repeatable): NAME[:AUTH:AUTHPASS[:PRIV:PRIVPASS[:ENGINEID]]]; AUTH md5, sha, sha224,
    /// sha256, sha384, sha512; PRIV des, aes, aes192, aes256, aes192c, aes256c; ENGINEID in hex binds the
    /// user to that engine (empty fields are absent: NAME:sha:AUTHPASS:::ENGINEID).
    #[arg(long = "snmp-user", value_parser = SnmpUser::parse_flag)]
    pub snmp_users: Vec<SnmpUser>,
}

impl RecordArgs {
    pub fn apply(&self, cfg: &mut Config) {
        cfg.decode.templates |= self.templates;
        cfg.decode
            .snmp_users
            .extend(self.snmp_users.iter().cloned());
    }
}

/// Ports named on the command line replace that family's ports from the configuration.
pub fn apply_ports(ports: &[(FamilyName, Port)], c: &mut CaptureConfig) {
    let mut replaced = Vec::new();
    for (fam, port) in ports {
        if !replaced.contains(fam) {
            replaced.push(*fam);
            c.ports.insert(*fam, Vec::new());
        }
        c.ports.entry(*fam).or_default().push(*port);
    }
}

pub fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{s}` is not HOST:PORT"))
}

/// Help for `--port KIND=PORT`, with the port families named from their one list.
pub fn port_help() -> String {
    let families: Vec<&str> = wire::kind::Family::ALL.iter().map(|f| f.name()).collect();
    format!(
        "KIND=PORT (repeatable), KIND one of {}; replaces that kind's default ports",
        families.join(", ")
    )
}

/// Help for a kind selector flag, with the kinds named from their one list.
pub fn kinds_help(what: &str) -> String {
    format!("{what}: {}", config::KindSelector::names())
}

/// The CURVE keys `bus.curve_*` name, read and checked; errors name the configuration file, the key's line
/// and the key, then what is wrong with the key file.
pub fn curve(cfg: &Config) -> Result<bus::curve::Curve, config::ConfigError> {
    use bus::curve::{read_allowed, read_key, Curve};
    let b = &cfg.bus;
    let fail = |key: &str, e: &dyn std::fmt::Display| {
        cfg.error_at(&format!("bus.{key}"), key, e.to_string())
    };
    fn path(p: &Option<String>) -> Option<&std::path::Path> {
        p.as_deref().map(std::path::Path::new)
    }
    let keys = match path(&b.curve_secret_key_file) {
        Some(p) => {
            let secret = read_key(p).map_err(|e| fail("curve_secret_key_file", &e))?;
            let public =
                bus::curve::public_of(&secret).map_err(|e| fail("curve_secret_key_file", &e))?;
            Some((public, secret))
        }
        None => None,
    };
    let server_public = path(&b.curve_server_public_key_file)
        .map(read_key)
        .transpose()
        .map_err(|e| fail("curve_server_public_key_file", &e))?;
    if let Some(p) = path(&b.curve_allowed_clients) {
        read_allowed(p).map_err(|e| fail("curve_allowed_clients", &e))?;
    }
    if keys.is_none() && (server_public.is_some() || b.curve_allowed_clients.is_some()) {
        return Err(fail(
            "curve_secret_key_file",
            &"CURVE needs this process's own secret key too (sekiwake keygen)",
        ));
    }
    Ok(Curve {
        keys,
        server_public,
        allowed_clients: path(&b.curve_allowed_clients).map(std::path::Path::to_path_buf),
    })
}
