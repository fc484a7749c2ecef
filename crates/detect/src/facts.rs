//! What the detectors read from records: a flow's addresses, size and duration whatever its format, and a
//! link going up or down whether a trap or a syslog message says so.

use std::net::IpAddr;

use records::netflow::{Flow, V5Flow};
use records::sflow::SflowFlow;
use records::snmp::Trap;
use records::value::Value;

/// One flow (or one sFlow packet sample), scaled by its sampling rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowFacts {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub packets: f32,
    pub bytes: f32,
    /// A TCP flow with SYN and without ACK: half-open connections, what a SYN flood is made of.
    pub syn: bool,
    /// Seconds the flow lasted (0 for a packet sample).
    pub duration: f32,
    /// Scaled up from a sample (a rate above 1): one record stands for many packets, so a few records say
    /// little about a second's traffic.
    pub sampled: bool,
}

const SYN: u16 = 0x02;
const ACK: u16 = 0x10;

fn syn_only(protocol: u8, flags: u16) -> bool {
    protocol == 6 && flags & SYN != 0 && flags & ACK == 0
}

impl FlowFacts {
    pub fn v5(f: &V5Flow) -> FlowFacts {
        let rate = f.sampling_rate.unwrap_or(1).max(1) as f32;
        FlowFacts {
            src: f.src_addr.into(),
            dst: f.dst_addr.into(),
            src_port: f.src_port,
            dst_port: f.dst_port,
            protocol: f.protocol,
            packets: f.packets as f32 * rate,
            bytes: f.bytes as f32 * rate,
            syn: syn_only(f.protocol, u16::from(f.tcp_flags)),
            duration: v5_duration(f.first_ms, f.last_ms),
            sampled: rate > 1.0,
        }
    }

    /// A v9/IPFIX flow, if it names both addresses.
    pub fn template_based(f: &Flow) -> Option<FlowFacts> {
        let c = &f.common;
        let rate = f.sampling_rate.unwrap_or(1).max(1) as f32;
        let protocol = c.protocol.unwrap_or(0) as u8;
        let flags = match field(f, "tcpControlBits") {
            Some(Value::Unsigned(n)) => *n as u16,
            _ => 0,
        };
        Some(FlowFacts {
            src: c.src_addr?,
            dst: c.dst_addr?,
            src_port: c.src_port.unwrap_or(0) as u16,
            dst_port: c.dst_port.unwrap_or(0) as u16,
            protocol,
            packets: c.packets.unwrap_or(0) as f32 * rate,
            bytes: c.bytes.unwrap_or(0) as f32 * rate,
            syn: syn_only(protocol, flags),
            duration: seconds(duration_ms(f).unwrap_or(0)),
            sampled: rate > 1.0,
        })
    }

    /// An sFlow packet sample, if its header was IP: it stands for `sampling_rate` packets.
    pub fn sflow(f: &SflowFlow) -> Option<FlowFacts> {
        let p = &f.packet;
        let rate = f.sampling_rate.max(1) as f32;
        let protocol = p.protocol.unwrap_or(0) as u8;
        Some(FlowFacts {
            src: p.src_addr?,
            dst: p.dst_addr?,
            src_port: p.src_port.unwrap_or(0) as u16,
            dst_port: p.dst_port.unwrap_or(0) as u16,
            protocol,
            packets: rate,
            bytes: p.frame_length.unwrap_or(0) as f32 * rate,
            syn: syn_only(protocol, p.tcp_flags.unwrap_or(0) as u16),
            duration: 0.0,
            sampled: rate > 1.0,
        })
    }

    /// A flow that looks like a server's answer (from a well-known port to an ephemeral one): not counted
    /// as the source probing ports or hosts.
    pub fn is_reply(&self) -> bool {
        self.src_port < 1024 && self.dst_port >= 1024
    }
}

/// The longest a flow is taken to last: a lying record must not spread its packets over days.
const MAX_DURATION_MS: u64 = 3_600_000;

fn seconds(ms: u64) -> f32 {
    ms.min(MAX_DURATION_MS) as f32 / 1000.0
}

/// End minus start in uptime milliseconds; across an uptime wrap the difference is still right, but an end
/// before the start (more than half the counter apart) is a record that lies: no duration.
fn v5_duration(first_ms: u32, last_ms: u32) -> f32 {
    match last_ms.wrapping_sub(first_ms) {
        d if d > u32::MAX / 2 => 0.0,
        d => seconds(u64::from(d)),
    }
}

fn field<'a>(f: &'a Flow, name: &str) -> Option<&'a Value> {
    f.fields.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// End minus start, from whichever pair of elements the template has.
fn duration_ms(f: &Flow) -> Option<u64> {
    let ms = |name| match field(f, name) {
        Some(Value::Time(t)) => Some(t.unix_ms()),
        Some(Value::Unsigned(n)) => Some(*n),
        _ => None,
    };
    let pair = |a, b, scale: u64| Some(ms(b)?.checked_sub(ms(a)?)? * scale);
    pair("flowStartMilliseconds", "flowEndMilliseconds", 1)
        .or_else(|| pair("flowStartSysUpTime", "flowEndSysUpTime", 1))
        .or_else(|| pair("flowStartMicroseconds", "flowEndMicroseconds", 1))
        .or_else(|| pair("flowStartNanoseconds", "flowEndNanoseconds", 1))
        .or_else(|| pair("flowStartSeconds", "flowEndSeconds", 1))
        .or_else(|| match field(f, "flowDurationMilliseconds") {
            Some(Value::Unsigned(n)) => Some(*n),
            _ => None,
        })
}

/// An interface that went up or down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `if/<ifIndex>` from traps, `if/<name>` from syslog.
    pub interface: String,
    pub up: bool,
}

const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
const LINK_UP: &str = "1.3.6.1.6.3.1.1.5.4";
/// ifIndex, ifAdminStatus, ifOperStatus columns: the instance is the ifIndex.
const IF_COLUMNS: [&str; 3] = [
    "1.3.6.1.2.1.2.2.1.1.",
    "1.3.6.1.2.1.2.2.1.7.",
    "1.3.6.1.2.1.2.2.1.8.",
];

impl Link {
    /// linkDown/linkUp (v2c/v3 OIDs; v1 generic traps 2 and 3 are mapped to them by the decoder).
    pub fn from_trap(t: &Trap) -> Option<Link> {
        let up = match t.trap_oid.as_deref()? {
            LINK_DOWN => false,
            LINK_UP => true,
            _ => return None,
        };
        let index = t.varbinds.iter().find_map(|v| {
            IF_COLUMNS.iter().find_map(|c| {
                let rest = v.oid.strip_prefix(c)?;
                rest.parse::<u32>().ok()
            })
        });
        let interface = match index {
            Some(i) => format!("if/{i}"),
            None => "if/?".to_owned(),
        };
        Some(Link { interface, up })
    }

    /// Cisco/Arista `%LINK-3-UPDOWN` and `%LINEPROTO-5-UPDOWN` ("Interface X, changed state to down"),
    /// Juniper `SNMP_TRAP_LINK_DOWN`/`_UP` ("ifIndex N, ... ifName X"), Linux drivers ("eth0 NIC Link is Down").
    pub fn from_syslog(message: &str) -> Option<Link> {
        if let Some(at) = message.find("changed state to ") {
            let state = &message[at + "changed state to ".len()..];
            let up = state.starts_with("up");
            if !up && !state.starts_with("down") && !state.starts_with("administratively down") {
                return None;
            }
            let name = message[..at].rsplit_once("Interface ")?.1;
            let name = name.trim_end_matches([',', ' ']);
            return Some(Link {
                interface: interface(name),
                up,
            });
        }
        if let Some(at) = message.find("SNMP_TRAP_LINK_") {
            let up = message[at..].starts_with("SNMP_TRAP_LINK_UP");
            let name = message
                .split_once("ifName ")
                .map(|(_, n)| n.split([',', ' ']).next().unwrap_or(n))
                .or_else(|| {
                    message
                        .split_once("ifIndex ")
                        .map(|(_, n)| n.split([',', ' ']).next().unwrap_or(n))
                })?;
            return Some(Link {
                interface: interface(name),
                up,
            });
        }
        let at = message.find(" NIC Link is ")?;
        let up = message[at + " NIC Link is ".len()..].starts_with("Up");
        let name = message[..at].rsplit(' ').next()?;
        Some(Link {
            interface: interface(name.trim_end_matches(':')),
            up,
        })
    }
}

/// `if/NAME`, the name cut to 64 bytes: it comes from a message and ends up in keys and alerts.
fn interface(name: &str) -> String {
    format!("if/{}", crate::templates::cut(name, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_from_syslog() {
        let cases = [
            ("%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down", "if/GigabitEthernet0/1", false),
            ("%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/2, changed state to up", "if/Gi0/2", true),
            ("%LINK-5-CHANGED: Interface Ethernet3, changed state to administratively down", "if/Ethernet3", false),
            ("mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex 545, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/0", "if/ge-0/0/0", false),
            ("mib2d[1234]: SNMP_TRAP_LINK_UP: ifIndex 545, ifAdminStatus up(1), ifOperStatus up(1), ifName ge-0/0/0", "if/ge-0/0/0", true),
            ("kernel: e1000e: eth0 NIC Link is Down", "if/eth0", false),
            ("kernel: e1000e: eth1 NIC Link is Up 1000 Mbps Full Duplex", "if/eth1", true),
        ];
        for (m, name, up) in cases {
            let l = Link::from_syslog(m).unwrap_or_else(|| panic!("{m}"));
            assert_eq!((l.interface.as_str(), l.up), (name, up), "{m}");
        }
        assert!(Link::from_syslog("%SYS-5-CONFIG_I: Configured from console").is_none());
        assert!(Link::from_syslog("changed state to down").is_none());
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(v5_duration(9_000, 10_000), 1.0);
        assert_eq!(
            v5_duration(u32::MAX - 499, 500),
            1.0,
            "across the uptime wrap"
        );
        assert_eq!(v5_duration(10_000, 9_000), 0.0, "an end before the start");
        assert_eq!(v5_duration(0, u32::MAX / 2), 3600.0);
    }

    #[test]
    fn syn_only_flows() {
        assert!(syn_only(6, 0x02));
        assert!(!syn_only(6, 0x12));
        assert!(!syn_only(17, 0x02));
    }
}
