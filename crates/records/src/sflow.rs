//! sFlow v5 records: one per flow sample (with its sampled packet decoded) and one per counter sample.

use std::net::IpAddr;

use serde::Serialize;
use wire::sflow::{
    self, CounterRecord, CounterSample, EthCounters, FlowRecord, FlowSample, IfCounters, Processor,
    Sample, SampledPacket,
};

use crate::value::mac;
use crate::Body;

/// The datagram header every sFlow record repeats.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Agent {
    pub version: u32,
    pub agent: IpAddr,
    pub sub_agent_id: u32,
    /// Datagram sequence number.
    pub sequence: u32,
    pub uptime_ms: u32,
}

/// Which sample of the agent, and from where.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Source {
    pub sample_sequence: u32,
    pub source_id_type: u32,
    pub source_id_index: u32,
    pub expanded: bool,
}

/// A record of a format this decoder does not read, kept as a mention.
#[derive(Debug, Clone, Serialize)]
pub struct Other {
    pub enterprise: u32,
    pub format: u32,
    pub length: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SflowFlow {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(flatten)]
    pub source: Source,
    pub sampling_rate: u32,
    pub sample_pool: u32,
    pub drops: u32,
    pub input: u32,
    pub output: u32,
    #[serde(flatten)]
    pub packet: Packet,
    #[serde(flatten)]
    pub extended: Extended,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_records: Vec<Other>,
}

/// What the sampled packet says (from the raw header record, or from sampled IPv4/IPv6/Ethernet records).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Packet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_protocol: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripped: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ether_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// Why the sampled header could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_error: Option<String>,
}

/// Extended switch, router and gateway data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extended {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_vlan: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_vlan: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_priority: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_priority: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_mask: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_mask: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_as: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_peer_as: Option<u32>,
}

/// A sample of an enterprise or format not read here (such as the discarded-packet sample, enterprise 0 format
/// 5): said, with its size, rather than dropped without a word.
#[derive(Debug, Clone, Serialize)]
pub struct SflowOther {
    #[serde(flatten)]
    pub agent: Agent,
    pub enterprise: u32,
    pub format: u32,
    pub length: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SflowCounters {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(flatten)]
    pub source: Source,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub generic: Option<IfCounters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethernet: Option<EthCounters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor: Option<Processor>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_records: Vec<Other>,
}

/// Every sample of a datagram; the first malformed sample or record ends it with an error (what came
/// before it is out already).
pub fn samples(p: &[u8], out: &mut impl FnMut(Body)) -> Result<(), wire::WireError> {
    let d = sflow::parse(p)?;
    let agent = Agent {
        version: sflow::VERSION,
        agent: d.agent,
        sub_agent_id: d.sub_agent_id,
        sequence: d.sequence,
        uptime_ms: d.uptime_ms,
    };
    for s in d.samples() {
        match s? {
            Sample::Flow(f) => out(Body::SflowFlow(flow(agent, &f)?)),
            Sample::Counters(c) => out(Body::SflowCounters(counters(agent, &c)?)),
            Sample::Unknown {
                enterprise,
                format,
                data,
            } => out(Body::SflowOther(SflowOther {
                agent,
                enterprise,
                format,
                length: data.len(),
            })),
        }
    }
    Ok(())
}

fn flow(agent: Agent, f: &FlowSample<'_>) -> Result<SflowFlow, wire::WireError> {
    let mut r = SflowFlow {
        agent,
        source: Source {
            sample_sequence: f.sequence,
            source_id_type: f.source_id_type,
            source_id_index: f.source_id_index,
            expanded: f.expanded,
        },
        sampling_rate: f.sampling_rate,
        sample_pool: f.sample_pool,
        drops: f.drops,
        input: f.input.value,
        output: f.output.value,
        packet: Packet::default(),
        extended: Extended::default(),
        other_records: Vec::new(),
    };
    for rec in f.records() {
        flow_record(&mut r, rec?);
    }
    Ok(r)
}

fn flow_record(r: &mut SflowFlow, rec: FlowRecord<'_>) {
    let (p, x) = (&mut r.packet, &mut r.extended);
    match rec {
        FlowRecord::RawHeader(h) => {
            (p.header_protocol, p.frame_length, p.stripped) =
                (Some(h.protocol), Some(h.frame_length), Some(h.stripped));
            match h.decode() {
                Ok(s) => sampled(p, &s),
                Err(e) => p.header_error = Some(e.to_string()),
            }
        }
        FlowRecord::EthernetFrame {
            src_mac,
            dst_mac,
            ether_type,
            ..
        } => {
            p.src_mac.get_or_insert_with(|| mac(&src_mac));
            p.dst_mac.get_or_insert_with(|| mac(&dst_mac));
            p.ether_type.get_or_insert(ether_type);
        }
        FlowRecord::Ipv4(ip) | FlowRecord::Ipv6(ip) => {
            p.src_addr.get_or_insert(ip.src);
            p.dst_addr.get_or_insert(ip.dst);
            p.protocol.get_or_insert(ip.protocol);
            p.src_port.get_or_insert(ip.src_port);
            p.dst_port.get_or_insert(ip.dst_port);
            p.ip_length.get_or_insert(ip.length);
        }
        FlowRecord::ExtendedSwitch {
            src_vlan,
            src_priority,
            dst_vlan,
            dst_priority,
        } => {
            (x.src_vlan, x.src_priority, x.dst_vlan, x.dst_priority) = (
                Some(src_vlan),
                Some(src_priority),
                Some(dst_vlan),
                Some(dst_priority),
            );
        }
        FlowRecord::ExtendedRouter {
            next_hop,
            src_mask,
            dst_mask,
        } => {
            (x.next_hop, x.src_mask, x.dst_mask) = (Some(next_hop), Some(src_mask), Some(dst_mask));
        }
        FlowRecord::ExtendedGateway(g) => {
            (x.as_number, x.src_as, x.src_peer_as) =
                (Some(g.as_number), Some(g.src_as), Some(g.src_peer_as));
            x.next_hop.get_or_insert(g.next_hop);
        }
        FlowRecord::Unknown {
            enterprise,
            format,
            data,
        } => r.other_records.push(Other {
            enterprise,
            format,
            length: data.len(),
        }),
    }
}

fn sampled(p: &mut Packet, s: &SampledPacket) {
    p.src_mac = s.src_mac.as_ref().map(mac);
    p.dst_mac = s.dst_mac.as_ref().map(mac);
    p.vlan = s.vlan;
    p.ether_type = s.ether_type.map(u32::from);
    if let Some(ip) = &s.ip {
        p.ip_version = Some(ip.version);
        (p.src_addr, p.dst_addr) = (Some(ip.src), Some(ip.dst));
        p.protocol = Some(u32::from(ip.protocol));
        p.tos = Some(u32::from(ip.tos));
        p.ttl = Some(ip.ttl);
        p.ip_length = Some(ip.total_length);
    }
    p.src_port = s.src_port.map(u32::from);
    p.dst_port = s.dst_port.map(u32::from);
    p.tcp_flags = s.tcp_flags.map(u32::from);
    (p.icmp_type, p.icmp_code) = (s.icmp_type, s.icmp_code);
}

fn counters(agent: Agent, c: &CounterSample<'_>) -> Result<SflowCounters, wire::WireError> {
    let mut r = SflowCounters {
        agent,
        source: Source {
            sample_sequence: c.sequence,
            source_id_type: c.source_id_type,
            source_id_index: c.source_id_index,
            expanded: c.expanded,
        },
        generic: None,
        ethernet: None,
        processor: None,
        other_records: Vec::new(),
    };
    for rec in c.records() {
        match rec? {
            CounterRecord::Generic(g) => r.generic = Some(g),
            CounterRecord::Ethernet(e) => r.ethernet = Some(e),
            CounterRecord::Processor(p) => r.processor = Some(p),
            CounterRecord::Unknown {
                enterprise,
                format,
                data,
            } => r.other_records.push(Other {
                enterprise,
                format,
                length: data.len(),
            }),
        }
    }
    Ok(r)
}
