//! The forward section: destinations (UDP, spoofed UDP, TCP, TLS), groups, and routing rules.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use sinks::stream::{
    Destination as StreamUrl, Framing, StreamConfig, StreamError, TlsOptions,
    Transport as StreamTransport,
};

use serde::Deserialize;
use wire::kind::Kind;

use envelope::KindSelector;

/// The source port every forwarder sends from by default, and capture ignores by default (loop guard).
pub const DEFAULT_GUARD_PORT: u16 = 51400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// Source port of every forwarded plain-UDP datagram (the loop guard capture ignores). 0: any port.
    pub source_port: u16,
    /// `all` (default): every matching rule adds its destinations, until a `drop` rule matches.
    /// `first`: the first matching rule decides.
    pub rules_mode: RulesMode,
    /// Where datagrams go.
    pub destination: Vec<Destination>,
    /// Named sets of destinations: fan out to all, or load-balance.
    pub group: Vec<Group>,
    /// Routing rules, in order. A destination's `kinds` adds an implicit rule after these.
    pub rule: Vec<Rule>,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            source_port: DEFAULT_GUARD_PORT,
            rules_mode: RulesMode::All,
            destination: Vec::new(),
            group: Vec::new(),
            rule: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RulesMode {
    #[default]
    All,
    First,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// What rules and groups call it; default: the URL.
    pub name: Option<String>,
    /// `udp://HOST:PORT[?spoof[&mtu=N]]`, `tcp://HOST:PORT[?framing=lf]`, `tls://HOST:PORT` (IPv6 hosts in
    /// brackets).
    pub url: DestinationUrl,
    /// Kinds sent there (an implicit rule): kind names, `netflow` (v5 and v9) or `all`.
    #[serde(default)]
    pub kinds: Vec<KindSelector>,
    /// Send 1 datagram in N (v9/IPFIX templates always go). 1: all.
    #[serde(default = "one")]
    pub sample: u32,
    /// Add the original sender to what is sent (syslog structured data, SNMP snmpTrapAddress.0); not with
    /// `?spoof`, which keeps the sender anyway.
    #[serde(default)]
    pub tag: bool,
    /// Translate SNMPv1 traps into SNMPv2c traps (RFC 3584 §3.1: snmpTrapAddress.0, snmpTrapCommunity.0 and
    /// snmpTrapEnterprise.0 added where the v1 trap lacks them; each with a request-id of its own). A v1 trap
    /// that cannot be translated is sent as it came, counted in `v1_untranslated`.
    #[serde(default)]
    pub v1_to_v2c: bool,
    /// Plain UDP: how SNMPv2c informs are delivered. `inform` (default): as an inform of this forwarder's own
    /// (its own request-id), sent again with backoff until the destination acknowledges it; `trap`: as a v2c
    /// trap. `?spoof` destinations relay informs byte-exact (the receiver answers the original sender).
    #[serde(default)]
    pub informs: InformMode,
    /// `informs = "inform"`: the wait for the destination's Response before the first resend (doubling after
    /// each, default 1000 ms), and how many times an inform is sent at most (default 6: given up after about
    /// 31 s).
    pub inform_timeout_ms: Option<u32>,
    pub inform_sends: Option<u32>,
    /// Plain UDP: `NAME:AUTH:AUTHPASS[:PRIV:PRIVPASS]` (as `--snmp-user`): informs go to this destination as
    /// SNMPv3 informs of this user, at the highest level its passwords allow, with keys localised to the
    /// engine ID the destination reports when probed (RFC 3414 4).
    pub snmp_user: Option<String>,
    /// `informs = "trap"` with `snmp_user`: the engine ID (hex, 5 to 32 bytes) this forwarder sends SNMPv3
    /// traps to this destination from (a trap's sender is its authoritative engine: the receiver's
    /// `createUser -e` names it).
    pub snmp_engine_id: Option<String>,
    /// `informs = "trap"` without `snmp_user`: the community of the v2c traps made from SNMPv3 informs (a v2c
    /// inform keeps its own). Default `public`.
    pub community: Option<String>,
    /// TCP/TLS: messages and bytes held while the destination is away.
    pub queue_messages: Option<usize>,
    pub queue_bytes: Option<usize>,
    /// TLS: CA file to verify the server (default: the system's roots), client certificate and key, and
    /// the name to verify (default: the URL's host).
    pub tls_ca: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_server_name: Option<String>,
}

fn one() -> u32 {
    1
}

/// How a destination gets SNMPv2c informs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InformMode {
    #[default]
    Inform,
    Trap,
}

impl Destination {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url.text)
    }

    /// The engine ID SNMPv3 traps go there from, if configured.
    pub fn trap_engine_id(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(hex) = &self.snmp_engine_id else {
            return Ok(None);
        };
        let id = crate::parse_engine_id(hex)?;
        match id.len() >= 5 {
            true => Ok(Some(id)),
            false => Err(format!(
                "`{hex}` is shorter than 5 bytes (RFC 3411 SnmpEngineID)"
            )),
        }
    }

    /// The SNMPv3 user informs go there as, if any.
    pub fn usm_user(&self) -> Result<Option<wire::snmp::UsmUser>, String> {
        let Some(spec) = &self.snmp_user else {
            return Ok(None);
        };
        let user = crate::SnmpUser::parse_flag(spec)?.usm()?;
        if user.engine_id.is_some() {
            return Err("an engine ID has no place here: the destination's is discovered".into());
        }
        wire::snmp::Usm::check(std::slice::from_ref(&user)).map_err(|e| e.to_string())?;
        Ok(Some(user))
    }
}

/// A group of destinations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    /// Destination names.
    pub members: Vec<String>,
    #[serde(default)]
    pub mode: GroupMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupMode {
    /// Every member gets every datagram.
    #[default]
    All,
    /// Members take turns.
    RoundRobin,
    /// One exporter's datagrams stay on one member (the next live one if it is down).
    Hash,
}

/// One routing rule: when every given condition holds, send `to` (destinations or groups), or `drop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, rename = "match")]
    pub when: Match,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub drop: bool,
}

/// Conditions of a rule. Each list matches when the datagram has one of its values; an empty list (or an
/// absent key) matches everything. Fields a datagram does not carry (a syslog facility of a flow) do not match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Match {
    pub kinds: Vec<KindSelector>,
    /// Addresses or CIDR prefixes of the exporter (the datagram's source).
    pub exporters: Vec<Cidr>,
    /// Syslog facility numbers (0..23) or names (`kern`, `user`, `local0`...).
    pub facilities: Vec<Facility>,
    /// Syslog severities: numbers (0..7) or names (`emerg`...`debug`).
    pub severities: Vec<Severity>,
    /// Syslog HOSTNAME, exactly.
    pub hosts: Vec<String>,
    /// Syslog APP-NAME / TAG, exactly.
    pub apps: Vec<String>,
    /// A regular expression the syslog message text must match.
    pub message: Option<Pattern>,
    /// SNMP trap OID prefixes (`1.3.6.1.6.3.1.1.5` matches linkDown, linkUp...).
    pub trap_oids: Vec<OidPrefix>,
    pub communities: Vec<String>,
    /// SNMP versions: `1`, `2c`, `3`.
    pub snmp_versions: Vec<SnmpVersion>,
    /// NetFlow v9 source ids / IPFIX observation domains.
    pub domains: Vec<u32>,
}

/// An address or prefix, `192.0.2.0/24`, `2001:db8::/32`, `192.0.2.7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn contains(&self, a: IpAddr) -> bool {
        match (self.addr, a.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.len),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.len),
            _ => false,
        }
    }
}

fn prefix_eq(net: &[u8], a: &[u8], len: u8) -> bool {
    let (whole, bits) = (usize::from(len / 8), len % 8);
    let mask = (0xff00u16 >> bits) as u8;
    net[..whole] == a[..whole] && (bits == 0 || (net[whole] & mask) == (a[whole] & mask))
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an address or CIDR prefix");
        let (a, len) = s
            .split_once('/')
            .map_or((s.as_str(), None), |(a, l)| (a, Some(l)));
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(bad)?,
        };
        Ok(Cidr { addr, len })
    }
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// A number or a name from `names`.
fn code(v: NameOrNumber, names: &[&str], what: &str) -> Result<u8, String> {
    let n = match &v {
        NameOrNumber::Number(n) => usize::try_from(*n).ok(),
        NameOrNumber::Name(s) => names.iter().position(|n| n == s),
    };
    n.filter(|n| *n < names.len())
        .map(|n| n as u8)
        .ok_or_else(|| {
            format!(
                "`{v}` is not a syslog {what} (0..{} or {})",
                names.len() - 1,
                names.join(", ")
            )
        })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NameOrNumber {
    Number(i64),
    Name(String),
}

impl fmt::Display for NameOrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOrNumber::Number(n) => write!(f, "{n}"),
            NameOrNumber::Name(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NameOrNumber")]
pub struct Facility(pub u8);

impl TryFrom<NameOrNumber> for Facility {
    type Error = String;
    fn try_from(v: NameOrNumber) -> Result<Self, String> {
        code(v, &FACILITIES, "facility").map(Facility)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NameOrNumber")]
pub struct Severity(pub u8);

impl TryFrom<NameOrNumber> for Severity {
    type Error = String;
    fn try_from(v: NameOrNumber) -> Result<Self, String> {
        code(v, &SEVERITIES, "severity").map(Severity)
    }
}

/// A compiled regular expression.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Pattern(pub regex::bytes::Regex);

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        regex::bytes::RegexBuilder::new(&s)
            .size_limit(1 << 20)
            .build()
            .map(Pattern)
            .map_err(|e| format!("`{s}` is not a regular expression: {e}"))
    }
}

/// Dotted OID arcs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct OidPrefix(pub Vec<u32>);

impl TryFrom<String> for OidPrefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.trim_start_matches('.')
            .split('.')
            .map(|a| a.parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map(OidPrefix)
            .map_err(|_| format!("`{s}` is not an OID (dotted numbers)"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SnmpVersion {
    #[serde(rename = "1")]
    V1,
    #[serde(rename = "2c")]
    V2c,
    #[serde(rename = "3")]
    V3,
}

/// How a destination is reached: one variant per kind of URL, each read by its own parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `udp://HOST:PORT`: plain UDP from our own socket (bound to `forward.source_port`).
    Udp(SocketAddr),
    /// `udp://HOST:PORT?spoof[&mtu=N]`: UDP with the exporter's address as source (raw sockets); `mtu` caps
    /// the packet size below the path MTU.
    Spoof { addr: SocketAddr, mtu: Option<u16> },
    /// `tcp://` or `tls://HOST:PORT[?framing=lf|octet-counting]`: syslog over a stream (RFC 6587, RFC 5425),
    /// read by the stream sink's own parser. The host is resolved at each connect.
    Stream(StreamUrl),
}

/// A destination URL, checked at load time (UDP hosts are resolved then; TCP/TLS hosts at each connect).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DestinationUrl {
    pub text: String,
    pub scheme: Scheme,
}

impl TryFrom<String> for DestinationUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("`{s}`: expected udp://, tcp:// or tls://HOST:PORT"))?;
        let scheme = match scheme {
            "udp" => parse_udp(rest),
            "tcp" | "tls" => parse_stream(&s),
            other => Err(format!(
                "`{other}://` is not a destination scheme (udp, tcp, tls)"
            )),
        }
        .map_err(|m| format!("`{s}`: {m}"))?;
        Ok(DestinationUrl { text: s, scheme })
    }
}

/// `HOST:PORT[?spoof[&mtu=N]]`, the host resolved now.
fn parse_udp(rest: &str) -> Result<Scheme, String> {
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (mut spoof, mut mtu) = (false, None);
    for p in query.split('&').filter(|p| !p.is_empty()) {
        match p.split_once('=') {
            None if p == "spoof" => spoof = true,
            Some(("mtu", n)) => {
                mtu = Some(
                    n.parse::<u16>()
                        .ok()
                        .filter(|n| *n >= 576)
                        .ok_or("mtu must be 576..65535")?,
                )
            }
            _ => return Err(format!("unknown parameter `{p}`")),
        }
    }
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or("HOST:PORT does not resolve (IPv6 hosts go in brackets)")?;
    if addr.port() == 0 {
        return Err("port 0".into());
    }
    match (spoof, mtu) {
        (true, mtu) => Ok(Scheme::Spoof { addr, mtu }),
        (false, None) => Ok(Scheme::Udp(addr)),
        (false, Some(_)) => Err("mtu applies only with spoof".into()),
    }
}

/// The stream sink's parser; TLS carries octet-counted frames only (RFC 5425).
fn parse_stream(url: &str) -> Result<Scheme, String> {
    let parsed = StreamUrl::parse(url).map_err(|e| match e {
        StreamError::BadDestination { reason, .. } => reason,
        other => other.to_string(),
    })?;
    if parsed.transport == StreamTransport::Tls && parsed.framing == Framing::Lf {
        return Err("TLS (RFC 5425) always uses octet counting".into());
    }
    Ok(Scheme::Stream(parsed))
}

/// What a destination is once the settings of its scheme are checked: forward opens one sink per variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Udp(SocketAddr),
    Spoof {
        addr: SocketAddr,
        mtu: Option<u16>,
    },
    /// The stream sink's whole configuration: URL, queue bounds, TLS files.
    Stream(Box<StreamConfig>),
}

/// A setting that does not belong to the destination's scheme: the key, a text to find its line by, why.
type Misplaced = (&'static str, &'static str, String);

impl Destination {
    /// The destination's transport with the settings of its scheme; a setting of another scheme is refused.
    pub fn transport(&self) -> Result<Transport, Misplaced> {
        let queue = self.queue_messages.is_some() || self.queue_bytes.is_some();
        let tls = [
            &self.tls_ca,
            &self.tls_cert,
            &self.tls_key,
            &self.tls_server_name,
        ];
        let tls = tls.iter().any(|t| t.is_some());
        match &self.url.scheme {
            Scheme::Stream(url) => self.stream(url, tls),
            _ if queue => Err((
                "queue_messages",
                "queue_",
                "queues apply to tcp:// and tls:// destinations".into(),
            )),
            _ if tls => Err((
                "tls_ca",
                "tls_",
                "TLS settings apply to tls:// destinations".into(),
            )),
            Scheme::Udp(addr) => Ok(Transport::Udp(*addr)),
            Scheme::Spoof { .. } if self.tag => Err((
                "tag",
                "tag",
                "a spoofed destination sees the original sender already: drop `tag`".into(),
            )),
            Scheme::Spoof { addr, mtu } => Ok(Transport::Spoof {
                addr: *addr,
                mtu: *mtu,
            }),
        }
    }

    fn stream(&self, url: &StreamUrl, tls: bool) -> Result<Transport, Misplaced> {
        if self
            .kinds
            .iter()
            .any(|k| *k != KindSelector::One(Kind::Syslog))
        {
            let m = "tcp:// and tls:// destinations carry syslog only: kinds = [\"syslog\"]".into();
            return Err(("kinds", "kinds", m));
        }
        if url.transport != StreamTransport::Tls && tls {
            return Err((
                "tls_ca",
                "tls_",
                "TLS settings apply to tls:// destinations".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let m = "a client certificate needs its key (tls_cert and tls_key)".into();
            return Err(("tls_cert", "tls_", m));
        }
        let mut c = StreamConfig::new(url.clone());
        c.queue_messages = self.queue_messages.unwrap_or(c.queue_messages);
        c.queue_bytes = self.queue_bytes.unwrap_or(c.queue_bytes);
        c.tls = TlsOptions {
            ca_file: self.tls_ca.as_ref().map(PathBuf::from),
            server_name: self.tls_server_name.clone(),
            client_cert: self.tls_cert.as_ref().map(PathBuf::from),
            client_key: self.tls_key.as_ref().map(PathBuf::from),
        };
        Ok(Transport::Stream(Box::new(c)))
    }
}

/// A forward section that cannot work: the key, a text to find its line by, and why.
pub struct Problem {
    pub key: String,
    pub needle: String,
    /// Which occurrence of `needle` is the culprit (a name given twice: the second).
    pub occurrence: usize,
    pub message: String,
}

fn problem(key: String, needle: &str, message: String) -> Problem {
    Problem {
        key,
        needle: needle.to_owned(),
        occurrence: 1,
        message,
    }
}

impl ForwardConfig {
    /// Names, references and per-scheme options, checked once at load.
    pub fn check(&self) -> Result<(), Problem> {
        self.check_destinations()?;
        self.check_groups()?;
        self.check_rules()?;
        self.check_reachable()
    }

    fn check_destinations(&self) -> Result<(), Problem> {
        let mut names = std::collections::HashSet::new();
        for (i, d) in self.destination.iter().enumerate() {
            let key = |k: &str| format!("forward.destination[{i}].{k}");
            if !names.insert(d.name()) {
                let m = format!(
                    "`{}` is used twice: give one destination several kinds instead",
                    d.name()
                );
                let p = problem(
                    key(if d.name.is_some() { "name" } else { "url" }),
                    d.name(),
                    m,
                );
                return Err(Problem { occurrence: 2, ..p });
            }
            if d.sample == 0 {
                return Err(problem(
                    key("sample"),
                    "sample",
                    "1 in 0 is not a rate: use 1 (all) or more".into(),
                ));
            }
            if let Err((k, needle, m)) = d.transport() {
                return Err(problem(key(k), needle, m));
            }
            if let Err(m) = d.usm_user() {
                return Err(problem(key("snmp_user"), "snmp_user", m));
            }
            if let Err(m) = d.trap_engine_id() {
                return Err(problem(key("snmp_engine_id"), "snmp_engine_id", m));
            }
            let v3_traps = d.informs == InformMode::Trap && d.snmp_user.is_some();
            if v3_traps && d.snmp_engine_id.is_none() {
                let m = "SNMPv3 traps (informs = \"trap\" with snmp_user) need snmp_engine_id, the engine \
                         they are sent from"
                    .into();
                return Err(problem(key("snmp_user"), "snmp_user", m));
            }
            let plain_udp = matches!(d.transport(), Ok(Transport::Udp(_)));
            if d.snmp_user.is_some() && !plain_udp {
                let m = "SNMPv3 informs go to plain udp:// destinations only".into();
                return Err(problem(key("snmp_user"), "snmp_user", m));
            }
        }
        Ok(())
    }

    fn check_groups(&self) -> Result<(), Problem> {
        for (i, g) in self.group.iter().enumerate() {
            let key = |k: &str| format!("forward.group[{i}].{k}");
            if self.destination.iter().any(|d| d.name() == g.name)
                || self.group[..i].iter().any(|o| o.name == g.name)
            {
                return Err(problem(
                    key("name"),
                    &g.name,
                    format!("`{}` names something else already", g.name),
                ));
            }
            if g.members.is_empty() {
                return Err(problem(
                    key("members"),
                    "members",
                    "a group needs members".into(),
                ));
            }
            for m in &g.members {
                if !self.destination.iter().any(|d| d.name() == m) {
                    return Err(problem(
                        key("members"),
                        m,
                        format!("`{m}` is not a destination"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_rules(&self) -> Result<(), Problem> {
        for (i, r) in self.rule.iter().enumerate() {
            let key = |k: &str| format!("forward.rule[{i}].{k}");
            match (r.drop, r.to.is_empty()) {
                (true, false) => {
                    return Err(problem(
                        key("drop"),
                        "drop",
                        "a rule either drops or sends (`to`), not both".into(),
                    ))
                }
                (false, true) => {
                    return Err(problem(
                        key("to"),
                        "[[forward.rule]]",
                        "a rule needs `to` (or `drop = true`)".into(),
                    ))
                }
                _ => {}
            }
            for n in &r.to {
                if !self.destination.iter().any(|d| d.name() == n)
                    && !self.group.iter().any(|g| g.name == *n)
                {
                    let m = format!("`{n}` is neither a destination nor a group");
                    return Err(problem(key("to"), n, m));
                }
            }
        }
        Ok(())
    }

    /// The TLS files the destinations name (CA, client certificate and key) can be read. Not part of `check`:
    /// only `check-config` and forward's start look at files, so a capture on another host can share the file.
    pub fn check_files(&self) -> Result<(), Problem> {
        for (i, d) in self.destination.iter().enumerate() {
            let files = [
                ("tls_ca", &d.tls_ca, "CA"),
                ("tls_cert", &d.tls_cert, "client certificate"),
                ("tls_key", &d.tls_key, "client key"),
            ];
            for (k, path, what) in files {
                let Some(path) = path else { continue };
                if let Err(e) = std::fs::read(path) {
                    let m = format!("{what} file {path}: {e}");
                    return Err(problem(format!("forward.destination[{i}].{k}"), path, m));
                }
            }
        }
        Ok(())
    }

    /// A destination nothing sends to is a mistake worth a refusal.
    fn check_reachable(&self) -> Result<(), Problem> {
        let named = |n: &str| self.rule.iter().any(|r| r.to.iter().any(|t| t == n));
        for (i, d) in self.destination.iter().enumerate() {
            let in_group = self
                .group
                .iter()
                .any(|g| g.members.iter().any(|m| m == d.name()));
            let via_group = self
                .group
                .iter()
                .any(|g| g.members.iter().any(|m| m == d.name()) && named(&g.name));
            if d.kinds.is_empty() && !named(d.name()) && !via_group {
                let m = match in_group {
                    true => "its group is in no rule: nothing would be sent there".into(),
                    false => "no `kinds` and no rule names it: nothing would be sent there".into(),
                };
                return Err(problem(
                    format!("forward.destination[{i}].kinds"),
                    d.name(),
                    m,
                ));
            }
        }
        Ok(())
    }
}

/// `KIND=URL`, as given to `forward --to`.
pub fn parse_to(s: &str) -> Result<Destination, String> {
    let (kind, url) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected KIND=udp://HOST:PORT"))?;
    Ok(Destination {
        name: None,
        url: DestinationUrl::try_from(url.to_owned())?,
        kinds: vec![KindSelector::try_from(kind.to_owned())?],
        sample: 1,
        tag: false,
        v1_to_v2c: false,
        informs: InformMode::Inform,
        inform_timeout_ms: None,
        inform_sends: None,
        snmp_user: None,
        snmp_engine_id: None,
        community: None,
        queue_messages: None,
        queue_bytes: None,
        tls_ca: None,
        tls_cert: None,
        tls_key: None,
        tls_server_name: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = |s: &str| DestinationUrl::try_from(s.to_owned());
        let local = "127.0.0.1:514".parse().unwrap();
        assert_eq!(u("udp://127.0.0.1:514").unwrap().scheme, Scheme::Udp(local));
        assert_eq!(
            u("udp://[::1]:514?spoof&mtu=1400").unwrap().scheme,
            Scheme::Spoof {
                addr: "[::1]:514".parse().unwrap(),
                mtu: Some(1400)
            }
        );
        let lf = u("tcp://collector.example:6514?framing=lf").unwrap().scheme;
        assert!(
            matches!(&lf, Scheme::Stream(s) if s.framing == Framing::Lf && s.host == "collector.example")
        );
        let tls = u("tls://collector.example:6514").unwrap().scheme;
        assert!(matches!(tls, Scheme::Stream(s) if s.transport == StreamTransport::Tls));
        assert!(u("tls://h:6514?framing=lf")
            .unwrap_err()
            .contains("octet counting"));
        assert!(u("udp://127.0.0.1:514?mtu=1400")
            .unwrap_err()
            .contains("only with spoof"));
        assert!(u("udp://127.0.0.1:514?fast")
            .unwrap_err()
            .contains("unknown parameter"));
        assert!(u("http://h:1")
            .unwrap_err()
            .contains("not a destination scheme"));
        assert!(u("tcp://:1").is_err());
        assert!(u("udp://127.0.0.1:0").is_err());
    }

    #[test]
    fn each_scheme_takes_only_its_own_settings() {
        let d = |url: &str| parse_to(&format!("syslog={url}")).unwrap();
        let mut spoof = d("udp://127.0.0.1:514?spoof");
        assert!(matches!(spoof.transport(), Ok(Transport::Spoof { .. })));
        spoof.tag = true;
        assert_eq!(spoof.transport().unwrap_err().0, "tag");
        let mut udp = d("udp://127.0.0.1:514");
        udp.queue_bytes = Some(10);
        assert_eq!(udp.transport().unwrap_err().0, "queue_messages");
        let mut tcp = d("tcp://127.0.0.1:514");
        tcp.queue_messages = Some(5);
        match tcp.transport() {
            Ok(Transport::Stream(c)) => {
                assert_eq!((c.queue_messages, c.queue_bytes), (5, 64 << 20))
            }
            other => panic!("{other:?}"),
        }
        tcp.tls_ca = Some("/ca.pem".into());
        assert_eq!(tcp.transport().unwrap_err().0, "tls_ca");
        let mut tls = d("tls://127.0.0.1:6514");
        tls.tls_cert = Some("/c.pem".into());
        assert_eq!(tls.transport().unwrap_err().0, "tls_cert");
        tls.kinds = vec![KindSelector::All];
        assert_eq!(tls.transport().unwrap_err().0, "kinds");
    }

    #[test]
    fn cidr() {
        let c = |s: &str| Cidr::try_from(s.to_owned()).unwrap();
        assert!(c("10.0.0.0/8").contains("10.200.1.1".parse().unwrap()));
        assert!(!c("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(c("192.0.2.0/25").contains("::ffff:192.0.2.100".parse().unwrap()));
        assert!(!c("192.0.2.0/25").contains("192.0.2.128".parse().unwrap()));
        assert!(c("2001:db8::/32").contains("2001:db8:1::1".parse().unwrap()));
        assert!(c("192.0.2.7").contains("192.0.2.7".parse().unwrap()));
        assert!(c("0.0.0.0/0").contains("203.0.113.1".parse().unwrap()));
        assert!(Cidr::try_from("10.0.0.0/33".to_owned()).is_err());
        assert!(Cidr::try_from("host".to_owned()).is_err());
    }

    #[test]
    fn facility_and_severity_names() {
        assert_eq!(
            Facility::try_from(NameOrNumber::Name("local3".into())),
            Ok(Facility(19))
        );
        assert_eq!(Severity::try_from(NameOrNumber::Number(3)), Ok(Severity(3)));
        assert!(Severity::try_from(NameOrNumber::Number(8)).is_err());
        assert!(Facility::try_from(NameOrNumber::Name("local8".into())).is_err());
    }
}
