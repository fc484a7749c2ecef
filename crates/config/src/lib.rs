//! The TOML configuration shared by every role. Parsed and validated once: every value that reaches a role
//! is already of a type that cannot hold a bad value. Errors name the file, the line and the key.
//! This crate knows the sections and their rules, nothing of the roles that read them.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use wire::classify::Classifier;
use wire::kind::Family;

pub use envelope::{KindSelector, Shard};
pub use runtime::StatsConfig;

mod error;
mod forward;
mod sections;

pub use error::ConfigError;
use error::{find_key_line, nth_line, toml_error};
pub use forward::*;

pub const DEFAULT_PUBLISH: &str = "tcp://127.0.0.1:5556";

/// The file's sections. The ones here are shared by several roles; a role may read a section of its own
/// with [`Config::section`], named when the file is loaded ([`Config::load_with`]). Any other top-level key
/// is refused.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub capture: CaptureConfig,
    #[serde(default)]
    pub bus: BusConfig,
    #[serde(default)]
    pub forward: ForwardConfig,
    #[serde(default)]
    pub stats: StatsConfig,
    #[serde(default)]
    pub decode: DecodeConfig,
    #[serde(default)]
    pub run: RunConfig,
    /// The text the configuration was read from, for the sections roles read themselves.
    #[serde(skip)]
    source: Option<sections::Source>,
}

/// How a process runs: after opening its privileged sockets, capture and forward become `user`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// The unprivileged user to become (its uid, primary gid, no other group).
    pub user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interfaces to capture on (`lo`, `eth0`, `any`).
    pub interfaces: Vec<String>,
    /// A pcap/pcapng file to replay instead of live capture.
    pub pcap: Option<String>,
    /// Replay the file at its recorded pace.
    pub pace: bool,
    /// UDP listener addresses (sekiwake as the collector's address).
    pub listen: Vec<SocketAddr>,
    /// Ports per family; a family given here replaces its default ports.
    pub ports: BTreeMap<FamilyName, Vec<Port>>,
    /// Source ports whose datagrams are never published (a forwarder's own output).
    pub ignore_source_ports: Vec<u16>,
    /// libpcap kernel buffer per interface, in MiB.
    pub buffer_mib: u32,
    /// Bytes captured per frame. In immediate mode the kernel ring holds `buffer / min(snaplen, MTU)` frames,
    /// so on `lo` (MTU 64 KiB) a smaller snaplen holds many more; longer frames are counted as `truncated`.
    pub snaplen: u32,
    /// libpcap immediate mode (default): each packet handed over as it arrives. `false` lets the kernel batch
    /// packets into blocks handed over when full or after `block_timeout_ms`: fewer wake-ups, less CPU and a
    /// denser ring, at up to that much added latency.
    pub immediate: bool,
    pub block_timeout_ms: u32,
    pub defrag: DefragSection,
    /// A datagram on a watched port whose payload does not fit the port's kind: published flagged under that
    /// kind (`relay`, the default: a relay is no stricter than the collector behind it) or not (`drop`).
    /// Counted by reason either way.
    pub mismatched: Mismatched,
    /// Listener mode: this engine ID (hex, 5 to 32 bytes) makes capture the authoritative SNMPv3 engine that
    /// informs sent to its listeners are addressed to, with `snmp_users` as its users.
    pub snmp_engine_id: Option<String>,
    pub snmp_users: Vec<SnmpUser>,
}

/// The SNMPv3 engine capture's listeners answer informs as.
#[derive(Debug, Clone)]
pub struct SnmpEngine {
    pub id: Vec<u8>,
    pub users: Vec<wire::snmp::UsmUser>,
}

impl CaptureConfig {
    /// The SNMPv3 engine listeners answer informs as; `None` without an engine ID.
    pub fn snmp_engine(&self) -> Result<Option<SnmpEngine>, String> {
        let Some(hex) = &self.snmp_engine_id else {
            return match self.snmp_users.is_empty() {
                true => Ok(None),
                false => Err("SNMPv3 users need snmp_engine_id, the engine they belong to".into()),
            };
        };
        let id = parse_engine_id(hex)?;
        if id.len() < 5 {
            return Err(format!(
                "snmp_engine_id `{hex}` is shorter than 5 bytes (RFC 3411 SnmpEngineID)"
            ));
        }
        // the engine's users are its own: an engine ID given with one has no place here
        let users = self
            .snmp_users
            .iter()
            .map(|u| {
                SnmpUser::usm(u).map(|u| wire::snmp::UsmUser {
                    engine_id: None,
                    ..u
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        wire::snmp::Usm::check(&users).map_err(|e| e.to_string())?;
        Ok(Some(SnmpEngine { id, users }))
    }
}

/// What capture does with a payload that does not fit its port's kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mismatched {
    #[default]
    Relay,
    Drop,
}

impl std::str::FromStr for Mismatched {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relay" => Ok(Mismatched::Relay),
            "drop" => Ok(Mismatched::Drop),
            _ => Err(format!("`{s}`: expected relay or drop")),
        }
    }
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            pcap: None,
            pace: false,
            listen: Vec::new(),
            ports: BTreeMap::new(),
            ignore_source_ports: vec![DEFAULT_GUARD_PORT],
            buffer_mib: 64,
            snaplen: 65535,
            immediate: true,
            block_timeout_ms: 2,
            defrag: DefragSection::default(),
            mismatched: Mismatched::Relay,
            snmp_engine_id: None,
            snmp_users: Vec::new(),
        }
    }
}

/// IP reassembly limits; an absent key keeps the reassembler's own default (docs/ARCHITECTURE.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefragSection {
    /// Bytes of fragments held at most (default 32 MiB).
    pub max_bytes: Option<usize>,
    /// Incomplete datagrams held at most (default 8192).
    pub max_datagrams: Option<usize>,
    /// Seconds an incomplete datagram is kept (default 30).
    pub timeout_secs: Option<u32>,
}

impl CaptureConfig {
    /// The port table: defaults, with every family named in the configuration replaced by its ports there.
    pub fn classifier(&self) -> Classifier {
        let mut c = Classifier::empty();
        for f in Family::ALL {
            let configured = self.ports.iter().find(|(name, _)| name.family() == f);
            match configured {
                Some((_, ports)) => ports.iter().for_each(|p| c.set(p.0, f)),
                None => f.default_ports().iter().for_each(|&p| c.set(p, f)),
            }
        }
        c.set_relay_mismatched(self.mismatched == Mismatched::Relay);
        c
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// Where capture publishes.
    pub publish: Endpoint,
    /// Where capture connects to publish instead (proxies' frontends).
    pub connect: Vec<Endpoint>,
    /// Where subscribers (forward, tap) connect.
    pub subscribe: Vec<Endpoint>,
    /// High-water mark, in messages per subscriber: past it, capture drops and counts.
    pub hwm: u32,
    /// Publisher id in every envelope (default: random per process).
    pub publisher_id: Option<u64>,
    /// The part of the bus a subscriber takes, `"I/N"`: the buckets with `bucket mod N == I`.
    pub shard: Shard,
    /// CURVE: this process's secret key (`sekiwake keygen`); setting it turns CURVE on for every bus socket.
    pub curve_secret_key_file: Option<String>,
    /// CURVE: the public key of the server(s) this process connects to (a capture or a proxy).
    pub curve_server_public_key_file: Option<String>,
    /// CURVE: the client keys this process's bound sockets let in: a file (one key a line) or a directory
    /// of `.pub` files; read again on SIGHUP.
    pub curve_allowed_clients: Option<String>,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            publish: Endpoint(DEFAULT_PUBLISH.into()),
            connect: Vec::new(),
            subscribe: Vec::new(),
            hwm: 100_000,
            publisher_id: None,
            shard: Shard::default(),
            curve_secret_key_file: None,
            curve_server_public_key_file: None,
            curve_allowed_clients: None,
        }
    }
}

/// Record decoding (`sekiwake decode`, `sekiwake tap --decode`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Print NetFlow v9 / IPFIX templates as records of their own (`record` = `template`).
    pub templates: bool,
    /// Templates held at most over all exporters; the least recently refreshed one makes room.
    pub max_templates: usize,
    /// A template not refreshed for this many seconds is forgotten.
    pub template_expiry_secs: u64,
    /// SNMPv3 users: their authenticated (and encrypted) traps and informs are decoded.
    pub snmp_users: Vec<SnmpUser>,
}

/// One SNMPv3 (USM) user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpUser {
    pub name: String,
    /// Net-SNMP's names in lower case: `md5`, `sha` (HMAC-96), `sha224`, `sha256`, `sha384`, `sha512`
    /// (RFC 7860); with `auth_password`.
    pub auth_protocol: Option<AuthName>,
    pub auth_password: Option<String>,
    /// `des`, `aes` (AES-128), `aes192`, `aes256` (key extension of Net-SNMP), `aes192c`, `aes256c` (Cisco's);
    /// with `priv_password`, and only with authentication.
    pub priv_protocol: Option<PrivName>,
    pub priv_password: Option<String>,
    /// Hex (`0x` optional): these passwords apply to this authoritative engine only; without, to every
    /// engine.
    pub engine_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthName {
    Md5,
    Sha,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivName {
    Des,
    Aes,
    Aes192,
    Aes256,
    Aes192c,
    Aes256c,
}

impl AuthName {
    const NAMES: &'static str = "md5, sha, sha224, sha256, sha384, sha512";

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "md5" => Self::Md5,
            "sha" => Self::Sha,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => return None,
        })
    }

    fn protocol(self) -> wire::snmp::AuthProtocol {
        use wire::snmp::AuthProtocol as A;
        match self {
            Self::Md5 => A::HmacMd5,
            Self::Sha => A::HmacSha,
            Self::Sha224 => A::HmacSha224,
            Self::Sha256 => A::HmacSha256,
            Self::Sha384 => A::HmacSha384,
            Self::Sha512 => A::HmacSha512,
        }
    }
}

impl PrivName {
    const NAMES: &'static str = "des, aes, aes192, aes256, aes192c, aes256c";

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "des" => Self::Des,
            "aes" => Self::Aes,
            "aes192" => Self::Aes192,
            "aes256" => Self::Aes256,
            "aes192c" => Self::Aes192c,
            "aes256c" => Self::Aes256c,
            _ => return None,
        })
    }

    fn protocol(self) -> wire::snmp::PrivProtocol {
        use wire::snmp::PrivProtocol as P;
        match self {
            Self::Des => P::Des,
            Self::Aes => P::Aes128Cfb,
            Self::Aes192 => P::Aes192Cfb,
            Self::Aes256 => P::Aes256Cfb,
            Self::Aes192c => P::Aes192CfbCisco,
            Self::Aes256c => P::Aes256CfbCisco,
        }
    }
}

/// An engine ID in hex, with or without `0x`: 1 to 32 bytes.
pub fn parse_engine_id(s: &str) -> Result<Vec<u8>, String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let bad = || format!("engine_id `{s}` is not 1 to 32 bytes of hex");
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || digits.len() > 2 * wire::snmp::MAX_ENGINE_ID_LEN
    {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

impl SnmpUser {
    /// The USM user, or what is missing.
    pub fn usm(&self) -> Result<wire::snmp::UsmUser, String> {
        let auth = match (self.auth_protocol, &self.auth_password) {
            (None, None) => None,
            (Some(p), Some(pw)) => Some((p.protocol(), pw.clone().into_bytes())),
            _ => return Err("auth_protocol and auth_password go together".into()),
        };
        let privacy = match (self.priv_protocol, &self.priv_password) {
            (None, None) => None,
            (Some(p), Some(pw)) => Some((p.protocol(), pw.clone().into_bytes())),
            _ => return Err("priv_protocol and priv_password go together".into()),
        };
        Ok(wire::snmp::UsmUser {
            name: self.name.clone().into_bytes(),
            engine_id: self.engine_id.as_deref().map(parse_engine_id).transpose()?,
            auth,
            privacy,
        })
    }

    /// `NAME[:AUTH:AUTHPASS[:PRIV:PRIVPASS[:ENGINEID]]]`, for the command line; an empty field is absent
    /// (`NAME:sha:AUTHPASS:::ENGINEID` binds an authNoPriv user to one engine).
    pub fn parse_flag(s: &str) -> Result<SnmpUser, String> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let field = |i: usize| parts.get(i).copied().filter(|p| !p.is_empty());
        let word = |i: usize| field(i).map(str::to_owned);
        let proto = |i: usize| field(i).map(str::to_ascii_lowercase);
        let auth_protocol =
            match proto(1) {
                None => None,
                Some(o) => Some(AuthName::parse(&o).ok_or_else(|| {
                    format!("`{o}` is not an auth protocol ({})", AuthName::NAMES)
                })?),
            };
        let priv_protocol =
            match proto(3) {
                None => None,
                Some(o) => Some(PrivName::parse(&o).ok_or_else(|| {
                    format!("`{o}` is not a privacy protocol ({})", PrivName::NAMES)
                })?),
            };
        let u = SnmpUser {
            name: parts[0].to_owned(),
            auth_protocol,
            auth_password: word(2),
            priv_protocol,
            priv_password: word(4),
            engine_id: word(5),
        };
        u.usm()?;
        Ok(u)
    }
}

impl Default for DecodeConfig {
    fn default() -> Self {
        let l = wire::netflow::cache::Limits::default();
        Self {
            templates: false,
            max_templates: l.max_templates,
            template_expiry_secs: l.expiry_secs,
            snmp_users: Vec::new(),
        }
    }
}

impl DecodeConfig {
    /// The decoder's options. Users were checked when the configuration was read.
    pub fn options(&self) -> records::Options {
        records::Options {
            snmp_users: self
                .snmp_users
                .iter()
                .filter_map(|u| u.usm().ok())
                .collect(),
            templates: self.templates,
            limits: wire::netflow::cache::Limits {
                max_templates: self.max_templates,
                expiry_secs: self.template_expiry_secs,
            },
        }
    }
}

/// A bus endpoint: `tcp://HOST:PORT` or `ipc://PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Endpoint(pub String);

impl TryFrom<String> for Endpoint {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let tcp_ok = |r: &str| {
            r.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && (port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0))
            })
        };
        let ok = s.strip_prefix("tcp://").is_some_and(tcp_ok)
            || s.strip_prefix("ipc://").is_some_and(|r| !r.is_empty());
        if ok {
            Ok(Endpoint(s))
        } else {
            Err(format!(
                "`{s}` is not a bus endpoint (tcp://HOST:PORT or ipc://PATH)"
            ))
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Endpoint::try_from(s.to_owned())
    }
}

/// A family name as used in `[capture.ports]` and `--port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct FamilyName(pub u8);

impl FamilyName {
    pub fn family(self) -> Family {
        Family::ALL[usize::from(self.0)]
    }
}

impl TryFrom<String> for FamilyName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Family::ALL
            .iter()
            .position(|f| f.name() == s)
            .map(|i| FamilyName(i as u8))
            .ok_or_else(|| {
                let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
                format!("`{s}` is not a port kind ({})", names.join(", "))
            })
    }
}

/// A UDP port, 1..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct Port(pub u16);

impl TryFrom<u32> for Port {
    type Error = String;
    fn try_from(p: u32) -> Result<Self, String> {
        match u16::try_from(p) {
            Ok(p) if p > 0 => Ok(Port(p)),
            _ => Err(format!("{p} is not a port (1..65535)")),
        }
    }
}

/// `KIND=PORT`, as given to `capture --port`.
pub fn parse_port(s: &str) -> Result<(FamilyName, Port), String> {
    let (kind, port) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected KIND=PORT"))?;
    let port: u32 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    Ok((
        FamilyName::try_from(kind.to_owned())?,
        Port::try_from(port)?,
    ))
}

impl Config {
    /// Loads a file that holds only the shared sections.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, &[])
    }

    /// Loads a file that may also hold the sections named in `role_sections`.
    pub fn load_with(path: &Path, role_sections: &[&str]) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: "-".into(),
            message: e.to_string(),
        })?;
        Self::parse_with(&file, &text, role_sections)
    }

    /// What only this host can tell, for `check-config`: the files the configuration names (TLS CA, client
    /// certificate and key) can be read. `path` is the file `self` was loaded from (for the line numbers).
    pub fn check_files(&self, path: &Path) -> Result<(), ConfigError> {
        let Err(p) = self.forward.check_files() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Err(ConfigError {
            file: path.display().to_string(),
            line: nth_line(&text, &p.needle, 1),
            key: p.key,
            message: p.message,
        })
    }

    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        Self::parse_with(file, text, &[])
    }

    pub fn parse_with(
        file: &str,
        text: &str,
        role_sections: &[&str],
    ) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(text);
        let mut cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            toml_error(file, text, key, e.into_inner())
        })?;
        sections::only_known(file, text, role_sections)?;
        cfg.check(file, text)?;
        cfg.source = Some(sections::Source::new(file, text));
        Ok(cfg)
    }

    /// A role's own section, `[name]`: its defaults when absent. Errors name the file, line and key.
    pub fn section<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, ConfigError> {
        match &self.source {
            Some(src) => sections::read(src, name),
            None => Ok(T::default()),
        }
    }

    /// An error about a role's own section that serde could not see: the file, the line where `name =` is
    /// written, and the dotted key (`detect.ceiling[0].networks`).
    pub fn error_at(&self, key: &str, name: &str, message: String) -> ConfigError {
        let (file, line) = match &self.source {
            Some(s) => (s.file().to_owned(), find_key_line(s.text(), name)),
            None => ("(command line)".to_owned(), None),
        };
        ConfigError {
            file,
            line,
            key: key.to_owned(),
            message,
        }
    }

    /// Rules that span several values, or that serde alone cannot say.
    fn check(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        let fail = |key: String, needle: &str, message: String| ConfigError {
            file: file.to_owned(),
            line: find_key_line(text, needle),
            key,
            message,
        };
        let c = &self.capture;
        if c.pcap.is_some() && (!c.interfaces.is_empty() || !c.listen.is_empty()) {
            let m = "a pcap file replay cannot be combined with interfaces or listeners".to_owned();
            return Err(fail("capture.pcap".into(), "pcap", m));
        }
        if !c.ports.is_empty() && c.classifier().watched().next().is_none() {
            return Err(fail(
                "capture.ports".into(),
                "[capture.ports]",
                "no port is watched".into(),
            ));
        }
        if let Err(m) = c.snmp_engine() {
            let key = match c.snmp_engine_id {
                Some(_) => "capture.snmp_engine_id",
                None => "capture.snmp_users",
            };
            return Err(fail(key.into(), key.trim_start_matches("capture."), m));
        }
        for (i, u) in self.decode.snmp_users.iter().enumerate() {
            let checked = u.usm().and_then(|one| {
                wire::snmp::Usm::check(std::slice::from_ref(&one)).map_err(|e| e.to_string())
            });
            checked.map_err(|message| ConfigError {
                file: file.to_owned(),
                line: nth_line(text, "[[decode.snmp_users]]", i + 1),
                key: format!("decode.snmp_users[{i}]"),
                message,
            })?;
        }
        if let Err(e) = wire::snmp::Usm::check(&self.decode.options().snmp_users) {
            return Err(fail(
                "decode.snmp_users".into(),
                "[[decode.snmp_users]]",
                e.to_string(),
            ));
        }
        if self.decode.max_templates == 0 {
            let m =
                "at least one template must fit, or no v9/IPFIX flow could be decoded".to_owned();
            return Err(fail("decode.max_templates".into(), "max_templates", m));
        }
        if self.bus.hwm == 0 {
            let m = "0 means no limit in ZeroMQ: capture could never drop and its memory would grow without bound"
                .to_owned();
            return Err(fail("bus.hwm".into(), "hwm", m));
        }
        self.forward.check().map_err(|p| ConfigError {
            line: match p.occurrence {
                1 => find_key_line(text, &p.needle).or_else(|| nth_line(text, &p.needle, 1)),
                n => nth_line(text, &p.needle, n),
            },
            ..fail(p.key, "", p.message)
        })?;
        self.check_loop_guard(file, text)
    }

    /// A file that configures both capture and forward describes one host: forward's source port must be one
    /// capture ignores, or what forward sends would be captured again.
    fn check_loop_guard(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        let same_host = !self.capture.interfaces.is_empty() && !self.forward.destination.is_empty();
        let port = self.forward.source_port;
        if same_host && (port == 0 || !self.capture.ignore_source_ports.contains(&port)) {
            return Err(ConfigError {
                file: file.to_owned(),
                line: find_key_line(text, "source_port"),
                key: "forward.source_port".into(),
                message: format!(
                    "{port} is not in capture.ignore_source_ports: capture would publish what forward sends (a loop)"
                ),
            });
        }
        self.check_spoof_loop(file, text)
    }

    /// Spoofed datagrams carry the exporter's source port, not the loop guard's: on one host, capture must not
    /// watch the port a spoofed destination receives on.
    fn check_spoof_loop(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        if self.capture.interfaces.is_empty() {
            return Ok(());
        }
        let watched = self.capture.classifier();
        for (i, d) in self.forward.destination.iter().enumerate() {
            if let Scheme::Spoof { addr: a, .. } = d.url.scheme {
                if watched.family(a.port()).is_some() {
                    return Err(ConfigError {
                        file: file.to_owned(),
                        line: nth_line(text, &d.url.text, 1),
                        key: format!("forward.destination[{i}].url"),
                        message: format!(
                            "port {} is captured on this host: spoofed datagrams sent there would be captured again (a loop)",
                            a.port()
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configs_parse() {
        for f in ["all-in-one.toml", "capture.toml", "forward.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples")
                .join(f);
            Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn err(text: &str) -> String {
        Config::parse("x.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err("[capture]\ninterfaces = [\"lo\"]\nbogus = 1\n");
        assert!(
            e.starts_with("x.toml:3: key `capture") && e.contains("bogus"),
            "{e}"
        );
        let e = err("[bus]\n\npublish = \"http://x\"\n");
        assert!(
            e.starts_with("x.toml:3: key `bus.publish`") && e.contains("not a bus endpoint"),
            "{e}"
        );
        let e = err("[capture.ports]\nsyslog = [70000]\n");
        assert!(
            e.starts_with("x.toml:2: key `capture.ports.syslog") && e.contains("not a port"),
            "{e}"
        );
        let e = err("[capture.ports]\nsyslg = [514]\n");
        assert!(
            e.starts_with("x.toml:2:") && e.contains("not a port kind"),
            "{e}"
        );
        let e = err("[[forward.destination]]\nurl = \"udp://127.0.0.1:9\"\nkinds = [\"sylog\"]\n");
        assert!(
            e.starts_with("x.toml:3: key `forward.destination[0].kinds"),
            "{e}"
        );
        for bad in [
            "tcp://127.0.0.1:notaport",
            "tcp://:5556",
            "tcp://127.0.0.1:0",
            "ipc://",
            "tcp://host",
        ] {
            let e = err(&format!("[bus]\npublish = \"{bad}\"\n"));
            assert!(e.starts_with("x.toml:2: key `bus.publish`"), "{bad}: {e}");
        }
        let e = err("[bus]\nhwm = \"many\"\n");
        assert!(e.starts_with("x.toml:2: key `bus.hwm`"), "{e}");
        let dup = "[[forward.destination]]\nurl = \"udp://127.0.0.1:9\"\nkinds = [\"all\"]\n\
                   [[forward.destination]]\nurl = \"udp://127.0.0.1:9\"\nkinds = [\"syslog\"]\n";
        assert!(
            err(dup).starts_with("x.toml:5: key `forward.destination[1].url`"),
            "{}",
            err(dup)
        );
        let e = err("[bus]\nhwm = 0\n");
        assert!(e.starts_with("x.toml:2: key `bus.hwm`"), "{e}");
        let e = err("[capture]\npcap = \"f.pcap\"\ninterfaces = [\"lo\"]\n");
        assert!(e.starts_with("x.toml:2: key `capture.pcap`"), "{e}");
        let e = err(
            "[capture.ports]\nsyslog = []\nnetflow = []\nipfix = []\nsflow = []\nsnmptrap = []\n",
        );
        assert!(
            e.starts_with("x.toml:1: key `capture.ports`: no port"),
            "{e}"
        );
        let e = err("[[forward.destination]]\nurl = \"udp://127.0.0.1:9\"\nkinds = []\n");
        assert!(
            e.starts_with("x.toml:2: key `forward.destination[0].kinds`: no `kinds` and no rule"),
            "{e}"
        );
        let looped = "[capture]\ninterfaces = [\"lo\"]\n[forward]\nsource_port = 0\n\
                      [[forward.destination]]\nurl = \"udp://127.0.0.1:9\"\nkinds = [\"all\"]\n";
        assert!(
            err(looped).starts_with("x.toml:4: key `forward.source_port`"),
            "{}",
            err(looped)
        );
    }

    #[test]
    fn an_snmp_engine_and_v3_destinations_are_checked_at_load() {
        let err = |text: &str| Config::parse("x.toml", text).unwrap_err().to_string();
        let engine = "[capture]\nsnmp_engine_id = \"80001f8804736b7731\"\n\
                      [[capture.snmp_users]]\nname = \"alice\"\nauth_protocol = \"sha256\"\n\
                      auth_password = \"authpass1\"\npriv_protocol = \"aes\"\npriv_password = \"privpass1\"\n";
        let cfg = Config::parse("x.toml", engine).unwrap();
        let e = cfg.capture.snmp_engine().unwrap().unwrap();
        assert_eq!((e.id.len(), e.users.len()), (9, 1));
        let e = err("[capture]\nlisten = [\"127.0.0.1:162\"]\nsnmp_engine_id = \"8000\"\n");
        assert!(
            e.starts_with("x.toml:3: key `capture.snmp_engine_id`") && e.contains("5 bytes"),
            "{e}"
        );
        let e = err("[[capture.snmp_users]]\nname = \"a\"\nauth_protocol = \"sha\"\nauth_password = \"authpass1\"\n");
        assert!(
            e.contains("key `capture.snmp_users`") && e.contains("snmp_engine_id"),
            "{e}"
        );
        let short = engine.replace("privpass1", "short");
        assert!(err(&short).contains("shorter than 8"), "{}", err(&short));
        let dest = |user: &str, url: &str| {
            format!("[[forward.destination]]\nurl = \"{url}\"\nkinds = [\"snmptrap\"]\nsnmp_user = \"{user}\"\n")
        };
        let ok = dest("bob:md5:authpass1:des:privpass1", "udp://127.0.0.1:162");
        assert!(Config::parse("x.toml", &ok).is_ok());
        let e = err(&dest(
            "bob:md5:authpass1:des:privpass1:80000000aa",
            "udp://127.0.0.1:162",
        ));
        assert!(
            e.starts_with("x.toml:4: key `forward.destination[0].snmp_user`")
                && e.contains("discovered"),
            "{e}"
        );
        let e = err(&dest("bob:md5:authpass1", "udp://127.0.0.1:162?spoof"));
        assert!(e.contains("plain udp://"), "{e}");
        let e = err(&dest("bob:md4:authpass1", "udp://127.0.0.1:162"));
        assert!(e.contains("not an auth protocol"), "{e}");
        let trap = format!("{ok}informs = \"trap\"\n");
        let e = err(&trap);
        assert!(
            e.starts_with("x.toml:4: key `forward.destination[0].snmp_user`")
                && e.contains("snmp_engine_id"),
            "{e}"
        );
        assert!(Config::parse(
            "x.toml",
            &format!("{trap}snmp_engine_id = \"80001f8804666f7277\"\n")
        )
        .is_ok());
        let e = err(&format!("{trap}snmp_engine_id = \"0x80\"\n"));
        assert!(
            e.starts_with("x.toml:6: key `forward.destination[0].snmp_engine_id`"),
            "{e}"
        );
    }

    #[test]
    fn snmp_users_take_every_algorithm_and_an_engine() {
        use wire::snmp::{AuthProtocol as A, PrivProtocol as P};
        let flag = |s: &str| SnmpUser::parse_flag(s).and_then(|u| u.usm());
        let u = flag("u:SHA512:authpass1:aes256c:privpass1:0x8000000001020304").unwrap();
        assert_eq!(u.auth.unwrap().0, A::HmacSha512);
        assert_eq!(u.privacy.unwrap().0, P::Aes256CfbCisco);
        assert_eq!(u.engine_id.unwrap(), [0x80, 0, 0, 0, 1, 2, 3, 4]);
        let u = flag("u:sha224:authpass1:::80000000aa").unwrap();
        assert_eq!(
            (u.privacy, u.engine_id),
            (None, Some(vec![0x80, 0, 0, 0, 0xaa]))
        );
        for (name, want) in [
            ("md5", A::HmacMd5),
            ("sha", A::HmacSha),
            ("sha256", A::HmacSha256),
            ("sha384", A::HmacSha384),
        ] {
            assert_eq!(
                flag(&format!("u:{name}:authpass1"))
                    .unwrap()
                    .auth
                    .unwrap()
                    .0,
                want
            );
        }
        for (name, want) in [
            ("des", P::Des),
            ("aes", P::Aes128Cfb),
            ("aes192", P::Aes192Cfb),
            ("aes256", P::Aes256Cfb),
            ("aes192c", P::Aes192CfbCisco),
        ] {
            let u = flag(&format!("u:sha:authpass1:{name}:privpass1")).unwrap();
            assert_eq!(u.privacy.unwrap().0, want);
        }
        let e = flag("u:sha1:authpass1").unwrap_err();
        assert!(
            e.contains("md5, sha, sha224, sha256, sha384, sha512"),
            "{e}"
        );
        assert!(flag("u:sha:authpass1:3des:privpass1")
            .unwrap_err()
            .contains("aes192c"));
        assert!(flag("u:sha:authpass1:aes:privpass1:0x80zz")
            .unwrap_err()
            .contains("engine_id"));
        assert!(flag("u:sha:authpass1:aes:privpass1:0x").is_err());
        assert!(flag(&format!(
            "u:sha:authpass1:aes:privpass1:{}",
            "ab".repeat(33)
        ))
        .is_err());

        let text = "[[decode.snmp_users]]\nname = \"a\"\nauth_protocol = \"sha256\"\n\
                    auth_password = \"authpass1\"\npriv_protocol = \"aes256\"\npriv_password = \"privpass1\"\n\
                    engine_id = \"0x8000000001020304\"\n\
                    [[decode.snmp_users]]\nname = \"a\"\nauth_protocol = \"sha\"\nauth_password = \"authpass1\"\n";
        let cfg = Config::parse("x.toml", text).unwrap();
        let users = cfg.decode.options().snmp_users;
        assert_eq!(users.len(), 2, "one user name, bound and unbound");
        let bad = text.replace("0x8000000001020304", "nothex");
        let e = err(&bad);
        assert!(
            e.starts_with("x.toml:1: key `decode.snmp_users[0]`: engine_id `nothex`"),
            "{e}"
        );
        let e = err(&text.replace("\"aes256\"", "\"aes512\""));
        assert!(e.starts_with("x.toml:5:") && e.contains("aes512"), "{e}");
        let twice = format!("{text}engine_id = \"8000000001020304\"\n");
        let e = err(&twice);
        assert!(
            e.contains("decode.snmp_users") && e.contains("defined twice"),
            "{e}"
        );
    }

    #[test]
    fn flags_parse_like_the_file() {
        use wire::kind::Kind;
        let d = parse_to("netflow=udp://[::1]:2055").unwrap();
        assert_eq!(d.url.scheme, Scheme::Udp("[::1]:2055".parse().unwrap()));
        assert!(d.kinds[0].matches(Some(Kind::NetflowV9)));
        assert!(!d.kinds[0].matches(Some(Kind::Ipfix)));
        assert!(parse_to("syslog=tcp://127.0.0.1:1").is_ok());
        assert!(parse_to("syslog=ftp://127.0.0.1:1").is_err());
        assert!(parse_to("syslog").is_err());
        assert_eq!(parse_port("sflow=6343").unwrap().1, Port(6343));
        assert!(parse_port("sflow=0").is_err());
        assert!(parse_port("netflow-v9=1").is_err());
        assert!(KindSelector::All.matches(None));
        assert!(!KindSelector::One(Kind::Syslog).matches(None));
    }

    #[test]
    fn check_files_names_a_missing_tls_file() {
        let dir = std::env::temp_dir().join(format!("sekiwake-check-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "not looked into").unwrap();
        let conf = dir.join("f.toml");
        let text = |key: &str| {
            format!(
                "[[forward.destination]]\nurl = \"tls://127.0.0.1:6514\"\nkinds = [\"syslog\"]\n\
                 tls_ca = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{key}\"\n",
                ca.display(),
                ca.display()
            )
        };
        std::fs::write(&conf, text(&ca.display().to_string())).unwrap();
        let cfg = Config::load(&conf).unwrap();
        assert!(cfg.check_files(&conf).is_ok());
        std::fs::write(&conf, text("/nonexistent/client.key")).unwrap();
        let cfg = Config::load(&conf).unwrap();
        let e = cfg.check_files(&conf).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        let want = "f.toml:6: key `forward.destination[0].tls_key`: client key file /nonexistent/client.key:";
        assert!(e.contains(want), "{e}");
    }

    #[test]
    fn spoofing_to_a_captured_port_on_one_host_is_a_loop() {
        let text = "[capture]\ninterfaces = [\"lo\"]\n[capture.ports]\nsyslog = [15514]\n\
                    [[forward.destination]]\nurl = \"udp://127.0.0.1:15514?spoof\"\nkinds = [\"syslog\"]\n";
        let e = Config::parse("x.toml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml:6: key `forward.destination[0].url`: port 15514 is captured"),
            "{e}"
        );
        let elsewhere = text.replace("15514?spoof", "15515?spoof");
        assert!(Config::parse("x.toml", &elsewhere).is_ok());
    }

    #[test]
    fn stream_destinations_take_syslog_only() {
        let text =
            "[[forward.destination]]\nurl = \"tcp://127.0.0.1:6514\"\nkinds = [\"netflow\"]\n";
        let e = Config::parse("x.toml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml:3: key `forward.destination[0].kinds`: tcp:// and tls://"),
            "{e}"
        );
        assert!(Config::parse("x.toml", &text.replace("netflow", "syslog")).is_ok());
    }
}
