//! Datagram generators for every kind sekiwake carries. Pure code: each call writes one datagram into a
//! buffer. Every datagram carries a sequence number where its format has one (NetFlow/IPFIX/sFlow header
//! sequences, SNMP request-id and a varbind, `seq=N` in syslog text), so receivers can count loss and
//! reordering. Per-exporter state (sequences, template timers) lives in [`Exporter`].
#![forbid(unsafe_code)]

pub mod flows;
pub mod netflow;
pub mod rng;
pub mod sflow;
pub mod snmp;
pub mod syslog;

use std::net::Ipv4Addr;
use std::str::FromStr;

pub use rng::Rng;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    Syslog,
    NetflowV5,
    NetflowV9,
    Ipfix,
    Sflow,
    SnmptrapV1,
    SnmptrapV2c,
    Snmpinform,
}

impl GenKind {
    pub const ALL: [GenKind; 8] = [
        GenKind::Syslog,
        GenKind::NetflowV5,
        GenKind::NetflowV9,
        GenKind::Ipfix,
        GenKind::Sflow,
        GenKind::SnmptrapV1,
        GenKind::SnmptrapV2c,
        GenKind::Snmpinform,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GenKind::Syslog => "syslog",
            GenKind::NetflowV5 => "netflow-v5",
            GenKind::NetflowV9 => "netflow-v9",
            GenKind::Ipfix => "ipfix",
            GenKind::Sflow => "sflow",
            GenKind::SnmptrapV1 => "snmptrap-v1",
            GenKind::SnmptrapV2c => "snmptrap-v2c",
            GenKind::Snmpinform => "snmpinform",
        }
    }

    /// The kind capture publishes these datagrams as.
    pub fn kind(self) -> wire::kind::Kind {
        use wire::kind::Kind;
        match self {
            GenKind::Syslog => Kind::Syslog,
            GenKind::NetflowV5 => Kind::NetflowV5,
            GenKind::NetflowV9 => Kind::NetflowV9,
            GenKind::Ipfix => Kind::Ipfix,
            GenKind::Sflow => Kind::Sflow,
            GenKind::SnmptrapV1 | GenKind::SnmptrapV2c | GenKind::Snmpinform => Kind::Snmptrap,
        }
    }
}

impl FromStr for GenKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GenKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = GenKind::ALL.iter().map(|k| k.name()).collect();
                format!("`{s}` is not a generator kind ({})", names.join(", "))
            })
    }
}

/// What the traffic shows: ordinary background, or one of the events `detect` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pattern {
    /// Random but realistic flows, messages and traps.
    #[default]
    Background,
    /// Flows (or samples) from the attacker to the target, each to another destination port (TCP SYN).
    PortScan,
    /// Flows from the attacker to port 22 of other hosts of the target's /16 (TCP SYN).
    HostScan,
    /// Big UDP flows from many sources to the target.
    UdpFlood,
    /// Small TCP SYN-only flows from many sources to the target's port 443.
    SynFlood,
    /// Syslog and traps: one interface going down and up in turn.
    LinkFlap,
}

impl Pattern {
    pub const ALL: [Pattern; 6] = [
        Pattern::Background,
        Pattern::PortScan,
        Pattern::HostScan,
        Pattern::UdpFlood,
        Pattern::SynFlood,
        Pattern::LinkFlap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pattern::Background => "background",
            Pattern::PortScan => "port-scan",
            Pattern::HostScan => "host-scan",
            Pattern::UdpFlood => "udp-flood",
            Pattern::SynFlood => "syn-flood",
            Pattern::LinkFlap => "link-flap",
        }
    }

    /// The kinds that can show it.
    pub fn fits(self, kind: GenKind) -> bool {
        let flows = matches!(
            kind,
            GenKind::NetflowV5 | GenKind::NetflowV9 | GenKind::Ipfix | GenKind::Sflow
        );
        match self {
            Pattern::Background => true,
            Pattern::LinkFlap => !flows,
            _ => flows,
        }
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pattern::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
                format!("`{s}` is not a pattern ({})", names.join(", "))
            })
    }
}

/// Settings shared by every generator.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    /// Syslog: fixed message size; `None` draws sizes from a realistic distribution.
    pub size: Option<usize>,
    pub syslog_format: syslog::Format,
    /// NetFlow v9 / IPFIX: resend templates every this many datagrams per observation domain.
    pub template_every: u64,
    /// NetFlow v9 / IPFIX: observation domains (source ids) per exporter.
    pub domains: u32,
    /// Target datagram size for flow exports (NetFlow v9, IPFIX); v5 and sFlow fill toward it too.
    pub target_bytes: usize,
    pub community: String,
    pub pattern: Pattern,
    /// The scanned or flooded address of flow patterns.
    pub target: Ipv4Addr,
    /// The scanning source of the scan patterns.
    pub attacker: Ipv4Addr,
    /// Syslog: this text after the header instead of the `seq=N` field and padding (`{seq}` is replaced by
    /// the sequence number).
    pub message: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            seed: 1,
            size: None,
            syslog_format: syslog::Format::Rfc3164,
            template_every: 100,
            domains: 2,
            target_bytes: 1400,
            community: "public".into(),
            pattern: Pattern::Background,
            target: Ipv4Addr::new(10, 0, 0, 80),
            attacker: Ipv4Addr::new(198, 51, 100, 66),
            message: None,
        }
    }
}

/// What every generator needs for one datagram: the clock, the settings and the exporter's random stream.
pub struct Ctx<'a> {
    pub now_ns: u64,
    pub settings: &'a Settings,
    pub rng: &'a mut Rng,
}

/// The state of one simulated exporter.
pub struct Exporter {
    pub kind: GenKind,
    pub addr: Ipv4Addr,
    /// Datagrams generated by this exporter so far.
    pub datagrams: u64,
    rng: Rng,
    state: netflow::DomainState,
    sflow: sflow::AgentState,
}

impl Exporter {
    pub fn new(kind: GenKind, addr: Ipv4Addr, index: u64, settings: &Settings) -> Self {
        Self {
            kind,
            addr,
            datagrams: 0,
            rng: Rng::new(
                settings.seed ^ (index.wrapping_add(1)).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
            state: netflow::DomainState::new(settings.domains),
            sflow: sflow::AgentState::default(),
        }
    }

    /// Writes this exporter's next datagram; `seq` is the run-wide sequence (unique across exporters) and
    /// `now_ns` the wall clock for timestamps.
    pub fn next(&mut self, seq: u64, now_ns: u64, s: &Settings, out: &mut Vec<u8>) {
        out.clear();
        let n = self.datagrams;
        self.datagrams += 1;
        let cx = &mut Ctx {
            now_ns,
            settings: s,
            rng: &mut self.rng,
        };
        match self.kind {
            GenKind::Syslog => syslog::generate(s, seq, now_ns, cx.rng, out),
            GenKind::NetflowV5 => netflow::v5(&mut self.state, cx, out),
            GenKind::NetflowV9 => netflow::v9(&mut self.state, cx, out),
            GenKind::Ipfix => netflow::ipfix(&mut self.state, cx, out),
            GenKind::Sflow => sflow::datagram(&mut self.sflow, self.addr, n, cx, out),
            GenKind::SnmptrapV1 => snmp::trap_v1(self.addr, seq, cx, out),
            GenKind::SnmptrapV2c => snmp::trap_v2c(false, seq, cx, out),
            GenKind::Snmpinform => snmp::trap_v2c(true, seq, cx, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::classify::confirm;
    use wire::kind::{Family, Kind};

    fn family(k: GenKind) -> (Family, Kind) {
        (k.kind().family(), k.kind())
    }

    #[test]
    fn every_kind_classifies_as_itself_and_is_unique() {
        let s = Settings::default();
        for k in GenKind::ALL {
            let mut e = Exporter::new(k, Ipv4Addr::new(127, 0, 0, 9), 0, &s);
            let mut seen = std::collections::HashSet::new();
            for seq in 0..300 {
                let mut out = Vec::new();
                e.next(
                    seq,
                    1_764_000_000_000_000_000 + seq * 1_000_000,
                    &s,
                    &mut out,
                );
                let (f, want) = family(k);
                let c = confirm(f, &out).unwrap_or_else(|r| {
                    panic!("{} datagram {seq} does not classify: {r:?}", k.name())
                });
                assert_eq!(c.kind, want, "{}", k.name());
                assert!(
                    out.len() <= 1500,
                    "{} datagram of {} bytes",
                    k.name(),
                    out.len()
                );
                assert!(
                    seen.insert(out),
                    "{} datagram {seq} repeats an earlier one",
                    k.name()
                );
            }
        }
    }

    #[test]
    fn names_parse() {
        for k in GenKind::ALL {
            assert_eq!(k.name().parse::<GenKind>(), Ok(k));
        }
        assert!("netflow".parse::<GenKind>().is_err());
    }
}
