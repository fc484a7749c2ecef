//! Flow samples (compact format 1, expanded format 3) and their records.

use std::net::IpAddr;

use super::packet::{decode_header, SampledPacket};
use super::view::{address, Entry, Items, View, FLOW_RECORDS};
use super::FlowRecords;
use crate::error::WireError;

const RECORD_RAW_HEADER: u32 = 1;
const RECORD_ETHERNET: u32 = 2;
const RECORD_IPV4: u32 = 3;
const RECORD_IPV6: u32 = 4;
const RECORD_SWITCH: u32 = 1001;
const RECORD_ROUTER: u32 = 1002;
const RECORD_GATEWAY: u32 = 1003;

/// Offsets shared by both sample forms (and counter samples).
pub(super) const SEQUENCE: usize = 0;
pub(super) const SOURCE_ID: usize = 4;

/// Where a flow sample's fields lie: compact or expanded.
struct Layout {
    rate: usize,
    pool: usize,
    drops: usize,
    input: usize,
    output: usize,
    num_records: usize,
    len: usize,
    what: &'static str,
}

const COMPACT: Layout = Layout {
    rate: 8,
    pool: 12,
    drops: 16,
    input: 20,
    output: 24,
    num_records: 28,
    len: 32,
    what: "sFlow: flow sample shorter than 32 bytes",
};
const EXPANDED: Layout = Layout {
    rate: 12,
    pool: 16,
    drops: 20,
    input: 24,
    output: 32,
    num_records: 40,
    len: 44,
    what: "sFlow: expanded flow sample shorter than 44 bytes",
};

const RAW_PROTOCOL: usize = 0;
const RAW_FRAME_LENGTH: usize = 4;
const RAW_STRIPPED: usize = 8;
const RAW_HEADER: usize = 12;
const RAW_FIXED: usize = 16;

const ETH_LENGTH: usize = 0;
const ETH_SRC: usize = 4;
const ETH_DST: usize = 12;
const ETH_TYPE: usize = 20;
const ETH_FIXED: usize = 24;

/// Sampled IPv4/IPv6 data: the addresses start at 8; the fields after them at these offsets from their end.
const IP_LENGTH: usize = 0;
const IP_PROTOCOL: usize = 4;
const IP_SRC: usize = 8;
const IP_SRC_PORT: usize = 0;
const IP_DST_PORT: usize = 4;
const IP_TCP_FLAGS: usize = 8;
const IP_TOS: usize = 12;
const IP_TAIL: usize = 16;

const SWITCH_SRC_VLAN: usize = 0;
const SWITCH_SRC_PRIORITY: usize = 4;
const SWITCH_DST_VLAN: usize = 8;
const SWITCH_DST_PRIORITY: usize = 12;
const SWITCH_FIXED: usize = 16;

/// Extended router and gateway: offsets from the end of the next-hop address.
const ROUTER_SRC_MASK: usize = 0;
const ROUTER_DST_MASK: usize = 4;
const ROUTER_TAIL: usize = 8;
const GATEWAY_AS: usize = 0;
const GATEWAY_SRC_AS: usize = 4;
const GATEWAY_SRC_PEER_AS: usize = 8;
const GATEWAY_TAIL: usize = 12;

/// An interface as a flow sample names it. `format` 0: `value` is an ifIndex (0x3fffffff: unknown);
/// 1: the packet was discarded and `value` is the reason; 2: sent to `value` interfaces (0: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    pub format: u32,
    pub value: u32,
}

/// A flow sample. In the compact form the source id type is the top 8 bits of a word and the index the low
/// 24; interfaces are 2 + 30 bits. The expanded form spends a word on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSample<'a> {
    pub expanded: bool,
    pub sequence: u32,
    /// 0: ifIndex, 1: smonVlanDataSource, 2: entPhysicalEntry.
    pub source_id_type: u32,
    pub source_id_index: u32,
    /// One packet in `sampling_rate` was sampled.
    pub sampling_rate: u32,
    /// Packets that could have been sampled.
    pub sample_pool: u32,
    /// Samples dropped for lack of resources.
    pub drops: u32,
    pub input: Interface,
    pub output: Interface,
    pub num_records: u32,
    records: View<'a>,
}

/// One flow record. `Unknown` keeps a record of another enterprise or format as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowRecord<'a> {
    RawHeader(RawHeader<'a>),
    EthernetFrame {
        length: u32,
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        ether_type: u32,
    },
    Ipv4(IpData),
    Ipv6(IpData),
    ExtendedSwitch {
        src_vlan: u32,
        src_priority: u32,
        dst_vlan: u32,
        dst_priority: u32,
    },
    ExtendedRouter {
        next_hop: IpAddr,
        src_mask: u32,
        dst_mask: u32,
    },
    ExtendedGateway(Gateway<'a>),
    Unknown {
        enterprise: u32,
        format: u32,
        data: &'a [u8],
    },
}

/// The first bytes of a sampled packet (format 1). [`RawHeader::decode`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader<'a> {
    /// 1: Ethernet, 11: IPv4, 12: IPv6 (see [`super::HEADER_ETHERNET`]); others are kept undecoded.
    pub protocol: u32,
    /// The original frame's length, before anything was stripped.
    pub frame_length: u32,
    /// Bytes removed from the frame before sampling (typically the 4-byte FCS).
    pub stripped: u32,
    pub header: &'a [u8],
    /// The datagram offset of `header`.
    offset: usize,
}

/// Sampled IPv4 (format 3) or IPv6 (format 4) data. `tos` is the IPv6 priority for format 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpData {
    /// The IP packet's length.
    pub length: u32,
    pub protocol: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u32,
    pub dst_port: u32,
    pub tcp_flags: u32,
    pub tos: u32,
}

/// Extended gateway (format 1003): the next hop and AS numbers; the AS path, communities and local
/// preference that follow are left undecoded in `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gateway<'a> {
    pub next_hop: IpAddr,
    /// The router's own AS.
    pub as_number: u32,
    pub src_as: u32,
    pub src_peer_as: u32,
    pub tail: &'a [u8],
}

/// The source id: (type, index), packed 8 + 24 bits in the compact form.
pub(super) fn source_id(v: &View<'_>, expanded: bool) -> Result<(u32, u32), WireError> {
    if expanded {
        return Ok((v.u32(SOURCE_ID)?, v.u32(SOURCE_ID + 4)?));
    }
    let w = v.u32(SOURCE_ID)?;
    Ok((w >> 24, w & 0x00ff_ffff))
}

fn interface(v: &View<'_>, at: usize, expanded: bool) -> Result<Interface, WireError> {
    if expanded {
        return Ok(Interface {
            format: v.u32(at)?,
            value: v.u32(at + 4)?,
        });
    }
    let w = v.u32(at)?;
    Ok(Interface {
        format: w >> 30,
        value: w & 0x3fff_ffff,
    })
}

impl<'a> FlowSample<'a> {
    pub(super) fn parse(data: View<'a>, expanded: bool) -> Result<Self, WireError> {
        let l = if expanded { &EXPANDED } else { &COMPACT };
        let v = data.fixed(l.len, l.what)?;
        let (source_id_type, source_id_index) = source_id(&v, expanded)?;
        Ok(Self {
            expanded,
            sequence: v.u32(SEQUENCE)?,
            source_id_type,
            source_id_index,
            sampling_rate: v.u32(l.rate)?,
            sample_pool: v.u32(l.pool)?,
            drops: v.u32(l.drops)?,
            input: interface(&v, l.input, expanded)?,
            output: interface(&v, l.output, expanded)?,
            num_records: v.u32(l.num_records)?,
            records: data.rest(l.len),
        })
    }

    /// The records, in order: at most `num_records`, ending early after the first error.
    pub fn records(&self) -> FlowRecords<'a> {
        Items::new(
            self.records,
            self.num_records,
            &FLOW_RECORDS,
            FlowRecord::decode,
        )
    }
}

impl<'a> FlowRecord<'a> {
    fn decode(e: Entry<'a>) -> Result<Self, WireError> {
        let v = e.data;
        match (e.enterprise, e.format) {
            (0, RECORD_RAW_HEADER) => RawHeader::parse(v).map(Self::RawHeader),
            (0, RECORD_ETHERNET) => ethernet(v),
            (0, RECORD_IPV4) => IpData::parse(v, 4).map(Self::Ipv4),
            (0, RECORD_IPV6) => IpData::parse(v, 16).map(Self::Ipv6),
            (0, RECORD_SWITCH) => switch(v),
            (0, RECORD_ROUTER) => router(v),
            (0, RECORD_GATEWAY) => Gateway::parse(v).map(Self::ExtendedGateway),
            (enterprise, format) => Ok(Self::Unknown {
                enterprise,
                format,
                data: v.bytes(),
            }),
        }
    }
}

impl<'a> RawHeader<'a> {
    fn parse(data: View<'a>) -> Result<Self, WireError> {
        let v = data.fixed(RAW_FIXED, "sFlow: raw header record shorter than 16 bytes")?;
        let what = "sFlow: sampled header length exceeds its record";
        let (header, _) = data.opaque(RAW_HEADER, what)?;
        Ok(Self {
            protocol: v.u32(RAW_PROTOCOL)?,
            frame_length: v.u32(RAW_FRAME_LENGTH)?,
            stripped: v.u32(RAW_STRIPPED)?,
            header: header.bytes(),
            offset: header.offset(0),
        })
    }

    /// Decodes the sampled bytes (see [`decode_header`]); error offsets are datagram offsets.
    pub fn decode(&self) -> Result<SampledPacket, WireError> {
        decode_header(self.protocol, self.header)
            .map_err(|e| WireError::new(e.what, e.offset.saturating_add(self.offset)))
    }
}

fn ethernet(data: View<'_>) -> Result<FlowRecord<'_>, WireError> {
    let v = data.fixed(
        ETH_FIXED,
        "sFlow: Ethernet frame record shorter than 24 bytes",
    )?;
    Ok(FlowRecord::EthernetFrame {
        length: v.u32(ETH_LENGTH)?,
        src_mac: v.mac(ETH_SRC)?,
        dst_mac: v.mac(ETH_DST)?,
        ether_type: v.u32(ETH_TYPE)?,
    })
}

impl IpData {
    /// `addr_len` 4: sampled IPv4 (32 bytes); 16: sampled IPv6 (56 bytes).
    fn parse(data: View<'_>, addr_len: usize) -> Result<Self, WireError> {
        let tail = IP_SRC + 2 * addr_len;
        let what = if addr_len == 4 {
            "sFlow: sampled IPv4 record shorter than 32 bytes"
        } else {
            "sFlow: sampled IPv6 record shorter than 56 bytes"
        };
        let v = data.fixed(tail + IP_TAIL, what)?;
        Ok(Self {
            length: v.u32(IP_LENGTH)?,
            protocol: v.u32(IP_PROTOCOL)?,
            src: v.ip(IP_SRC, addr_len)?,
            dst: v.ip(IP_SRC + addr_len, addr_len)?,
            src_port: v.u32(tail + IP_SRC_PORT)?,
            dst_port: v.u32(tail + IP_DST_PORT)?,
            tcp_flags: v.u32(tail + IP_TCP_FLAGS)?,
            tos: v.u32(tail + IP_TOS)?,
        })
    }
}

fn switch(data: View<'_>) -> Result<FlowRecord<'_>, WireError> {
    let v = data.fixed(
        SWITCH_FIXED,
        "sFlow: extended switch record shorter than 16 bytes",
    )?;
    Ok(FlowRecord::ExtendedSwitch {
        src_vlan: v.u32(SWITCH_SRC_VLAN)?,
        src_priority: v.u32(SWITCH_SRC_PRIORITY)?,
        dst_vlan: v.u32(SWITCH_DST_VLAN)?,
        dst_priority: v.u32(SWITCH_DST_PRIORITY)?,
    })
}

fn router(data: View<'_>) -> Result<FlowRecord<'_>, WireError> {
    let (next_hop, at) = address(&data, 0)?;
    let v = data.sub(at, ROUTER_TAIL, "sFlow: extended router record truncated")?;
    Ok(FlowRecord::ExtendedRouter {
        next_hop,
        src_mask: v.u32(ROUTER_SRC_MASK)?,
        dst_mask: v.u32(ROUTER_DST_MASK)?,
    })
}

impl<'a> Gateway<'a> {
    fn parse(data: View<'a>) -> Result<Self, WireError> {
        let (next_hop, at) = address(&data, 0)?;
        let v = data.sub(at, GATEWAY_TAIL, "sFlow: extended gateway record truncated")?;
        Ok(Self {
            next_hop,
            as_number: v.u32(GATEWAY_AS)?,
            src_as: v.u32(GATEWAY_SRC_AS)?,
            src_peer_as: v.u32(GATEWAY_SRC_PEER_AS)?,
            tail: data.rest(at + GATEWAY_TAIL).bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::super::testing::*;
    use super::super::{parse, Sample};
    use super::*;

    fn only_flow(p: &[u8]) -> FlowSample<'_> {
        let d = parse(p).unwrap();
        let mut s = d.samples();
        let Some(Ok(Sample::Flow(f))) = s.next() else {
            panic!("not a flow sample")
        };
        f
    }

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[test]
    fn compact_flow_sample_with_a_tcp_header() {
        let rec = raw_header(1, 1518, &eth_ipv4_tcp(&[]));
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(1, &flow_sample_body(9, &[rec]))]);
        let f = only_flow(&p);
        assert!(!f.expanded);
        assert_eq!((f.sequence, f.source_id_type, f.source_id_index), (9, 0, 7));
        assert_eq!((f.sampling_rate, f.sample_pool, f.drops), (1000, 5000, 2));
        assert_eq!(
            f.input,
            Interface {
                format: 0,
                value: 3
            }
        );
        assert_eq!(
            f.output,
            Interface {
                format: 2,
                value: 2
            }
        );
        let recs: Vec<_> = f.records().collect();
        let [Ok(FlowRecord::RawHeader(h))] = recs[..] else {
            panic!("{recs:?}")
        };
        assert_eq!(
            (h.protocol, h.frame_length, h.stripped, h.header.len()),
            (1, 1518, 4, 128)
        );
        let pk = h.decode().unwrap();
        let ip = pk.ip.unwrap();
        assert_eq!((ip.src, ip.dst), (v4([10, 1, 2, 3]), v4([192, 0, 2, 9])));
        assert_eq!(
            (ip.protocol, ip.tos, ip.ttl, ip.total_length),
            (6, 0x10, 63, 1500)
        );
        assert_eq!(
            (pk.src_port, pk.dst_port, pk.tcp_flags),
            (Some(40001), Some(443), Some(0x12))
        );
        assert_eq!(pk.src_mac, Some([0, 0x11, 0x22, 0x33, 0x44, 0x55]));
        assert_eq!((pk.vlan, pk.ether_type), (None, Some(0x0800)));
    }

    #[test]
    fn expanded_flow_sample() {
        let rec = raw_header(1, 100, &eth_ipv4_tcp(&[42])[..60]);
        let p = datagram_v4(
            [10, 0, 0, 1],
            1,
            &[sample(3, &expanded_flow_body(4, &[rec]))],
        );
        let f = only_flow(&p);
        assert!(f.expanded);
        assert_eq!(
            (f.sequence, f.source_id_type, f.source_id_index),
            (4, 1, 0x0123_4567)
        );
        assert_eq!((f.sampling_rate, f.sample_pool, f.drops), (512, 9000, 0));
        assert_eq!(
            f.input,
            Interface {
                format: 0,
                value: 0x7000_0001
            }
        );
        assert_eq!(
            f.output,
            Interface {
                format: 1,
                value: 256
            }
        );
        let Some(Ok(FlowRecord::RawHeader(h))) = f.records().next() else {
            panic!()
        };
        let pk = h.decode().unwrap();
        assert_eq!(
            (pk.vlan, pk.src_port, pk.tcp_flags),
            (Some(42), Some(40001), Some(0x12))
        );
    }

    #[test]
    fn other_flow_records() {
        let mut ipv6 = words(&[1280, 17]);
        ipv6.extend(Ipv6Addr::LOCALHOST.octets());
        ipv6.extend(Ipv6Addr::UNSPECIFIED.octets());
        ipv6.extend(words(&[53, 5353, 0, 5]));
        let mut eth = words(&[
            64,
            0x0011_2233,
            0x4455_0000,
            0x6677_8899,
            0xaabb_0000,
            0x86dd,
        ]);
        eth.extend([0xde, 0xad]); // a longer record than the structure: the tail is ignored
        let recs = [
            record(2, &eth),
            record(
                3,
                &words(&[40, 6, 0x0a00_0001, 0x0a00_0002, 1, 2, 0x18, 0x20]),
            ),
            record(4, &ipv6),
            record(1001, &words(&[10, 1, 20, 2])),
            record(1002, &words(&[1, 0xc000_0201, 24, 16])),
            record(1003, &words(&[1, 0xc000_0201, 65000, 64512, 64513, 0, 0])),
            record((9 << 12) | 5, &[1, 2, 3]),
        ];
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(1, &flow_sample_body(1, &recs))]);
        let got: Vec<_> = only_flow(&p).records().map(Result::unwrap).collect();
        let nh = v4([192, 0, 2, 1]);
        let expected = [
            FlowRecord::EthernetFrame {
                length: 64,
                src_mac: [0, 0x11, 0x22, 0x33, 0x44, 0x55],
                dst_mac: [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb],
                ether_type: 0x86dd,
            },
            FlowRecord::Ipv4(IpData {
                length: 40,
                protocol: 6,
                src: v4([10, 0, 0, 1]),
                dst: v4([10, 0, 0, 2]),
                src_port: 1,
                dst_port: 2,
                tcp_flags: 0x18,
                tos: 0x20,
            }),
            FlowRecord::Ipv6(IpData {
                length: 1280,
                protocol: 17,
                src: IpAddr::V6(Ipv6Addr::LOCALHOST),
                dst: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                src_port: 53,
                dst_port: 5353,
                tcp_flags: 0,
                tos: 5,
            }),
            FlowRecord::ExtendedSwitch {
                src_vlan: 10,
                src_priority: 1,
                dst_vlan: 20,
                dst_priority: 2,
            },
            FlowRecord::ExtendedRouter {
                next_hop: nh,
                src_mask: 24,
                dst_mask: 16,
            },
            FlowRecord::ExtendedGateway(Gateway {
                next_hop: nh,
                as_number: 65000,
                src_as: 64512,
                src_peer_as: 64513,
                tail: &[0; 8],
            }),
            FlowRecord::Unknown {
                enterprise: 9,
                format: 5,
                data: &[1, 2, 3],
            },
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn short_record_is_an_error_after_good_ones() {
        let recs = [
            record(1001, &words(&[10, 1, 20, 2])),
            record(3, &words(&[40, 6, 1, 2, 3, 4, 5])),
            record(1001, &words(&[10, 1, 20, 2])),
        ];
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(1, &flow_sample_body(1, &recs))]);
        let got: Vec<_> = only_flow(&p).records().collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        let e = got[1].unwrap_err();
        assert_eq!(e.what, "sFlow: sampled IPv4 record shorter than 32 bytes");
        assert_eq!(e.offset, 28 + 8 + 32 + 24 + 8);
    }

    #[test]
    fn record_lengths_must_fit_the_sample() {
        let mut body = flow_sample_body(1, &[raw_header(1, 64, &eth_ipv4_tcp(&[])[..64])]);
        body[32 + 4..32 + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(1, &body)]);
        let got: Vec<_> = only_flow(&p).records().collect();
        assert_eq!(
            got,
            [Err(WireError::new(FLOW_RECORDS.length, 28 + 8 + 32 + 4))]
        );
        // the sampled header claiming more than its record
        let mut body = flow_sample_body(1, &[raw_header(1, 64, &eth_ipv4_tcp(&[])[..64])]);
        body[32 + 8 + 12..32 + 8 + 16].copy_from_slice(&65u32.to_be_bytes());
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(1, &body)]);
        let e = only_flow(&p).records().next().unwrap().unwrap_err();
        assert_eq!(e.what, "sFlow: sampled header length exceeds its record");
    }

    #[test]
    fn decode_errors_carry_datagram_offsets() {
        let p = datagram_v4(
            [10, 0, 0, 1],
            1,
            &[sample(
                1,
                &flow_sample_body(1, &[raw_header(1, 9, &[1; 9])]),
            )],
        );
        let Some(Ok(FlowRecord::RawHeader(h))) = only_flow(&p).records().next() else {
            panic!()
        };
        let header_at = 28 + 8 + 32 + 8 + 16;
        assert_eq!(&p[header_at..header_at + 9], h.header);
        assert_eq!(h.decode().unwrap_err().offset, header_at + 9);
    }

    /// pmacctd (sfprobe) output; the expected values are tshark's (tests/data/sflow/README.md).
    #[test]
    fn pmacct_datagram_matches_tshark() {
        let d = parse(pmacct()).unwrap();
        assert_eq!(d.agent, v4([127, 0, 0, 7]));
        assert_eq!(
            (d.sub_agent_id, d.sequence, d.uptime_ms, d.num_samples),
            (0, 1, 0, 3)
        );
        let samples: Vec<_> = d.samples().map(Result::unwrap).collect();
        let flows: Vec<_> = samples
            .iter()
            .map(|s| match s {
                Sample::Flow(f) => *f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(flows.len(), 3);
        let f = flows[1];
        assert_eq!((f.sequence, f.source_id_type, f.source_id_index), (2, 0, 1));
        assert_eq!((f.sampling_rate, f.sample_pool, f.drops), (1, 2, 0));
        assert_eq!(
            f.input,
            Interface {
                format: 0,
                value: 0x3fff_ffff
            }
        );
        let recs: Vec<_> = f.records().map(Result::unwrap).collect();
        let [FlowRecord::ExtendedSwitch { src_vlan: 42, .. }, FlowRecord::RawHeader(h)] = recs[..]
        else {
            panic!("{recs:?}")
        };
        assert_eq!((h.frame_length, h.stripped, h.header.len()), (80, 4, 76));
        let pk = h.decode().unwrap();
        assert_eq!(
            (pk.vlan, pk.dst_mac),
            (Some(42), Some([0x66, 0x77, 0x88, 0x99, 0xaa, 0xbc]))
        );
        let ip = pk.ip.unwrap();
        assert_eq!(
            (ip.src, ip.dst, ip.total_length),
            (v4([10, 1, 2, 4]), v4([192, 0, 2, 10]), 58)
        );
        assert_eq!((pk.src_port, pk.dst_port), (Some(5353), Some(53)));
        let pk = first_header(&flows[0]).decode().unwrap();
        assert_eq!(
            (pk.src_port, pk.dst_port, pk.tcp_flags),
            (Some(40001), Some(443), Some(0x02))
        );
        assert_eq!((pk.ip.unwrap().tos, pk.ip.unwrap().ttl), (0x10, 63));
        let h = first_header(&flows[2]);
        assert_eq!((h.frame_length, h.header.len()), (366, 128));
        let pk = h.decode().unwrap();
        let ip = pk.ip.unwrap();
        assert_eq!(
            (ip.version, ip.protocol, ip.ttl, ip.total_length),
            (6, 17, 60, 348)
        );
        assert_eq!(ip.src, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!((pk.src_port, pk.dst_port), (Some(1234), Some(5678)));
    }

    fn first_header<'a>(f: &FlowSample<'a>) -> RawHeader<'a> {
        f.records()
            .find_map(|r| match r {
                Ok(FlowRecord::RawHeader(h)) => Some(h),
                _ => None,
            })
            .unwrap()
    }
}
