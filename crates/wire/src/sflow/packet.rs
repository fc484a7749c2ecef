//! The sampled packet inside a raw header record: Ethernet (with 802.1Q / 802.1ad tags), IPv4 or IPv6, and
//! the ports, TCP flags or ICMP type of what they carry.
//!
//! Samplers cut the packet (usually at 128 bytes), so the IP packet is normally shorter than its length
//! field says; that is not an error. The layer the header protocol names must be whole (the Ethernet header
//! and its tags, or the fixed IPv4/IPv6 header): otherwise decoding fails. What lies inside it is best
//! effort: a field whose bytes were cut off is `None`.

use std::net::IpAddr;

use super::view::{ipv4_at, ipv6_at};
use crate::error::{be16, byte, WireError};

pub const HEADER_ETHERNET: u32 = 1;
pub const HEADER_IPV4: u32 = 11;
pub const HEADER_IPV6: u32 = 12;

const ETH_DST: usize = 0;
const ETH_SRC: usize = 6;
const ETH_TYPE: usize = 12;
const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const VLAN_ID_MASK: u16 = 0x0fff;
const MAX_VLAN_TAGS: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const V4_TOS: usize = 1;
const V4_TOTAL_LEN: usize = 2;
const V4_FRAG: usize = 6;
const V4_TTL: usize = 8;
const V4_PROTO: usize = 9;
const V4_SRC: usize = 12;
const V4_DST: usize = 16;
const V4_MIN_HEADER: usize = 20;
const V4_MF: u16 = 0x2000;
const V4_OFFSET_MASK: u16 = 0x1fff;

const V6_PAYLOAD_LEN: usize = 4;
const V6_NEXT: usize = 6;
const V6_HOP_LIMIT: usize = 7;
const V6_SRC: usize = 8;
const V6_DST: usize = 24;
const V6_HEADER: usize = 40;
const V6_FRAG_FIELD: usize = 2;
const V6_FRAG_OFFSET_MASK: u16 = 0xfff8;
const V6_FRAG_MORE: u16 = 1;
/// Extension headers beyond this many are not followed (the protocol is then the last one reached).
const MAX_EXT_HEADERS: usize = 8;

const PROTO_HOPOPTS: u8 = 0;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ROUTING: u8 = 43;
const PROTO_FRAGMENT: u8 = 44;
const PROTO_AH: u8 = 51;
const PROTO_ICMPV6: u8 = 58;
const PROTO_DSTOPTS: u8 = 60;
const PROTO_SCTP: u8 = 132;

const PORT_SRC: usize = 0;
const PORT_DST: usize = 2;
const TCP_FLAGS: usize = 13;
const ICMP_TYPE: usize = 0;
const ICMP_CODE: usize = 1;

/// What a sampled header tells about the packet. Fields the header does not reach are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampledPacket {
    pub dst_mac: Option<[u8; 6]>,
    pub src_mac: Option<[u8; 6]>,
    /// The outermost VLAN tag's id.
    pub vlan: Option<u16>,
    /// The innermost VLAN id, when there are two tags or more (QinQ: the customer VLAN).
    pub inner_vlan: Option<u16>,
    /// The EtherType after the tags.
    pub ether_type: Option<u16>,
    pub ip: Option<SampledIp>,
    /// TCP, UDP and SCTP ports (none for a non-first fragment).
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub tcp_flags: Option<u8>,
    /// ICMP or ICMPv6.
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
}

/// The sampled IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledIp {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The upper-layer protocol (after IPv6 extension headers; the last one reached if the chain is cut).
    pub protocol: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The whole packet's length as its header says (IPv6: 40 + payload length).
    pub total_length: u32,
    /// In bytes; non-zero for a non-first fragment.
    pub fragment_offset: u16,
    pub more_fragments: bool,
}

/// Decodes a sampled header of header protocol 1 (Ethernet), 11 (IPv4) or 12 (IPv6). Error offsets are
/// relative to `header`.
pub fn decode_header(protocol: u32, header: &[u8]) -> Result<SampledPacket, WireError> {
    let mut p = SampledPacket::default();
    match protocol {
        HEADER_ETHERNET => ethernet(&mut p, header)?,
        HEADER_IPV4 => network(&mut p, header, 4)?,
        HEADER_IPV6 => network(&mut p, header, 6)?,
        _ => {
            let what = "sFlow: sampled header protocol not Ethernet, IPv4 or IPv6";
            return Err(WireError::new(what, 0));
        }
    }
    Ok(p)
}

fn ethernet(p: &mut SampledPacket, h: &[u8]) -> Result<(), WireError> {
    if h.len() < ETH_HEADER {
        return Err(WireError::new(
            "sFlow: sampled Ethernet header truncated",
            h.len(),
        ));
    }
    p.dst_mac = h.get(ETH_DST..ETH_SRC).and_then(|m| m.try_into().ok());
    p.src_mac = h.get(ETH_SRC..ETH_TYPE).and_then(|m| m.try_into().ok());
    let (ether_type, at) = tags(p, h)?;
    p.ether_type = Some(ether_type);
    let version = match ether_type {
        ETHERTYPE_IPV4 => 4,
        ETHERTYPE_IPV6 => 6,
        _ => return Ok(()),
    };
    // Best effort inside the frame: a cut or malformed IP header leaves `ip` and the ports `None`.
    let _ = network(p, h.get(at..).unwrap_or_default(), version);
    Ok(())
}

fn is_tag(ether_type: u16) -> bool {
    matches!(
        ether_type,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    )
}

/// Walks the VLAN tags (filling `vlan`, `inner_vlan`): the final EtherType and the offset after it.
fn tags(p: &mut SampledPacket, h: &[u8]) -> Result<(u16, usize), WireError> {
    let truncated = |at| WireError::new("sFlow: sampled VLAN tag truncated", at);
    let mut at = ETH_TYPE;
    for _ in 0..=MAX_VLAN_TAGS {
        let ether_type = be16(h, at).map_err(|_| truncated(at))?;
        if !is_tag(ether_type) {
            return Ok((ether_type, at + 2));
        }
        let id = be16(h, at + 2).map_err(|_| truncated(at + 2))? & VLAN_ID_MASK;
        let slot = if p.vlan.is_none() {
            &mut p.vlan
        } else {
            &mut p.inner_vlan
        };
        *slot = Some(id);
        at += VLAN_TAG;
    }
    Err(WireError::new(
        "sFlow: more than 4 VLAN tags in sampled header",
        ETH_TYPE,
    ))
}

/// The IP header and what follows it; `version` is what the enclosing layer announced.
fn network(p: &mut SampledPacket, b: &[u8], version: u8) -> Result<(), WireError> {
    let (ip, upper) = if version == 4 { ipv4(b)? } else { ipv6(b)? };
    p.ip = Some(ip);
    if let Some(t) = upper {
        transport(p, ip.protocol, t);
    }
    Ok(())
}

/// Checks the version nibble and that the fixed header (`len` bytes) is present.
fn fixed_header(b: &[u8], version: u8, len: usize) -> Result<(), WireError> {
    if byte(b, 0)? >> 4 != version {
        return Err(WireError::new("sFlow: sampled IP version mismatch", 0));
    }
    if b.len() < len {
        return Err(WireError::new(
            "sFlow: sampled IP header truncated",
            b.len(),
        ));
    }
    Ok(())
}

fn v4_addr(b: &[u8], at: usize) -> Result<IpAddr, WireError> {
    ipv4_at(b, at)
        .map(IpAddr::V4)
        .ok_or(WireError::new("sFlow: sampled IPv4 address truncated", at))
}

fn v6_addr(b: &[u8], at: usize) -> Result<IpAddr, WireError> {
    ipv6_at(b, at)
        .map(IpAddr::V6)
        .ok_or(WireError::new("sFlow: sampled IPv6 address truncated", at))
}

/// The IPv4 header and the transport bytes (none for a non-first fragment).
fn ipv4(b: &[u8]) -> Result<(SampledIp, Option<&[u8]>), WireError> {
    fixed_header(b, 4, V4_MIN_HEADER)?;
    let header_len = usize::from(byte(b, 0)? & 0x0f) * 4;
    if header_len < V4_MIN_HEADER {
        return Err(WireError::new(
            "sFlow: sampled IPv4 header length below 20",
            0,
        ));
    }
    let frag = be16(b, V4_FRAG)?;
    let ip = SampledIp {
        version: 4,
        src: v4_addr(b, V4_SRC)?,
        dst: v4_addr(b, V4_DST)?,
        protocol: byte(b, V4_PROTO)?,
        tos: byte(b, V4_TOS)?,
        ttl: byte(b, V4_TTL)?,
        total_length: u32::from(be16(b, V4_TOTAL_LEN)?),
        fragment_offset: (frag & V4_OFFSET_MASK) << 3,
        more_fragments: frag & V4_MF != 0,
    };
    let upper = b.get(header_len..).filter(|_| ip.fragment_offset == 0);
    Ok((ip, upper))
}

/// The IPv6 header, its extension headers and the transport bytes (none for a non-first fragment).
fn ipv6(b: &[u8]) -> Result<(SampledIp, Option<&[u8]>), WireError> {
    fixed_header(b, 6, V6_HEADER)?;
    let c = chain(b, byte(b, V6_NEXT)?);
    let class = be16(b, 0)? >> 4;
    let ip = SampledIp {
        version: 6,
        src: v6_addr(b, V6_SRC)?,
        dst: v6_addr(b, V6_DST)?,
        protocol: c.protocol,
        tos: (class & 0xff) as u8,
        ttl: byte(b, V6_HOP_LIMIT)?,
        total_length: u32::from(be16(b, V6_PAYLOAD_LEN)?) + V6_HEADER as u32,
        fragment_offset: c.fragment_offset,
        more_fragments: c.more_fragments,
    };
    Ok((ip, c.upper))
}

/// Where an IPv6 extension header chain leads.
struct Chain<'a> {
    protocol: u8,
    upper: Option<&'a [u8]>,
    fragment_offset: u16,
    more_fragments: bool,
}

fn is_extension(next: u8) -> bool {
    matches!(
        next,
        PROTO_HOPOPTS | PROTO_ROUTING | PROTO_FRAGMENT | PROTO_AH | PROTO_DSTOPTS
    )
}

/// The length of the extension header `next` at `at`, if its length byte is there.
fn ext_len(b: &[u8], next: u8, at: usize) -> Option<usize> {
    let units = usize::from(byte(b, at + 1).ok()?);
    Some(match next {
        PROTO_FRAGMENT => 8,
        PROTO_AH => (units + 2) * 4,
        _ => (units + 1) * 8,
    })
}

/// Follows the extension headers from `next` at offset 40, as far as the bytes and the limit allow.
fn chain(b: &[u8], next: u8) -> Chain<'_> {
    let mut c = Chain {
        protocol: next,
        upper: None,
        fragment_offset: 0,
        more_fragments: false,
    };
    let mut at = V6_HEADER;
    for _ in 0..=MAX_EXT_HEADERS {
        if !is_extension(c.protocol) {
            c.upper = b.get(at..).filter(|_| c.fragment_offset == 0);
            break;
        }
        let (Ok(next), Some(len)) = (byte(b, at), ext_len(b, c.protocol, at)) else {
            break;
        };
        if c.protocol == PROTO_FRAGMENT {
            let field = be16(b, at + V6_FRAG_FIELD).unwrap_or_default();
            c.fragment_offset = field & V6_FRAG_OFFSET_MASK;
            c.more_fragments = field & V6_FRAG_MORE != 0;
        }
        c.protocol = next;
        at += len;
    }
    c
}

/// Ports, TCP flags or ICMP type and code, as far as the transport bytes reach.
fn transport(p: &mut SampledPacket, protocol: u8, t: &[u8]) {
    match protocol {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => {
            p.src_port = be16(t, PORT_SRC).ok();
            p.dst_port = be16(t, PORT_DST).ok();
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            p.icmp_type = byte(t, ICMP_TYPE).ok();
            p.icmp_code = byte(t, ICMP_CODE).ok();
        }
        _ => {}
    }
    if protocol == PROTO_TCP {
        p.tcp_flags = byte(t, TCP_FLAGS).ok();
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::super::testing::eth_ipv4_tcp;
    use super::*;

    fn v6_udp(ext: &[u8], first: u8) -> Vec<u8> {
        let mut h = vec![0x6b, 0x80, 0, 0, 0x05, 0x00, first, 60];
        h.extend(Ipv6Addr::LOCALHOST.octets());
        h.extend("2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        h.extend(ext);
        h.extend([0x04, 0xd2, 0x16, 0x2e, 0x05, 0x00, 0, 0]);
        h
    }

    #[test]
    fn ipv6_udp_with_vlan_tag() {
        let mut h = vec![2; 12];
        h.extend([0x81, 0x00, 0x20, 0x2a, 0x86, 0xdd]);
        h.extend(v6_udp(&[], PROTO_UDP));
        let p = decode_header(HEADER_ETHERNET, &h).unwrap();
        assert_eq!(
            (p.vlan, p.inner_vlan, p.ether_type),
            (Some(42), None, Some(0x86dd))
        );
        let ip = p.ip.unwrap();
        assert_eq!((ip.version, ip.protocol, ip.tos, ip.ttl), (6, 17, 0xb8, 60));
        assert_eq!(ip.src, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(ip.total_length, 40 + 0x500);
        assert_eq!(
            (p.src_port, p.dst_port, p.tcp_flags),
            (Some(1234), Some(5678), None)
        );
    }

    #[test]
    fn qinq_tags() {
        let p = decode_header(HEADER_ETHERNET, &eth_ipv4_tcp(&[100, 200])).unwrap();
        assert_eq!((p.vlan, p.inner_vlan), (Some(100), Some(200)));
        assert_eq!((p.ether_type, p.dst_port), (Some(0x0800), Some(443)));
        let mut endless = vec![0; 12];
        (0..6).for_each(|_| endless.extend([0x81, 0, 0, 1]));
        assert!(decode_header(HEADER_ETHERNET, &endless).is_err());
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let hop = [PROTO_FRAGMENT, 0, 0, 0, 0, 0, 0, 0];
        let first = [PROTO_UDP, 0, 0, 1, 0, 0, 0, 7];
        let h = v6_udp(&[&hop[..], &first[..]].concat(), PROTO_HOPOPTS);
        let p = decode_header(HEADER_IPV6, &h).unwrap();
        let ip = p.ip.unwrap();
        assert_eq!(
            (ip.protocol, ip.fragment_offset, ip.more_fragments),
            (17, 0, true)
        );
        assert_eq!(p.dst_port, Some(5678));
        let later = [PROTO_UDP, 0, 0x05, 0xa8, 0, 0, 0, 7];
        let p = decode_header(HEADER_IPV6, &v6_udp(&later, PROTO_FRAGMENT)).unwrap();
        assert_eq!(p.ip.unwrap().fragment_offset, 1448);
        assert_eq!(p.src_port, None);
        // a chain cut inside an extension header: the protocol is the header reached
        let h = v6_udp(&[], PROTO_ROUTING);
        let p = decode_header(HEADER_IPV6, &h[..41]).unwrap();
        assert_eq!((p.ip.unwrap().protocol, p.src_port), (PROTO_ROUTING, None));
    }

    #[test]
    fn ipv4_cut_short_fragments_and_icmp() {
        let h = eth_ipv4_tcp(&[]);
        // cut inside the TCP header: ports but no flags; cut before it: no ports
        let p = decode_header(HEADER_ETHERNET, &h[..14 + 20 + 6]).unwrap();
        assert_eq!(
            (p.src_port, p.dst_port, p.tcp_flags),
            (Some(40001), Some(443), None)
        );
        assert_eq!(p.ip.unwrap().total_length, 1500);
        let p = decode_header(HEADER_ETHERNET, &h[..14 + 20]).unwrap();
        assert_eq!((p.ip.is_some(), p.src_port), (true, None));
        // an IP header cut inside a frame: no ip; the same as header protocol 11: an error
        let p = decode_header(HEADER_ETHERNET, &h[..14 + 19]).unwrap();
        assert_eq!((p.ether_type, p.ip), (Some(0x0800), None));
        assert!(decode_header(HEADER_IPV4, &h[14..14 + 19]).is_err());
        let mut frag = h[14..].to_vec();
        frag[6..8].copy_from_slice(&0x00b9u16.to_be_bytes());
        let p = decode_header(HEADER_IPV4, &frag).unwrap();
        assert_eq!((p.ip.unwrap().fragment_offset, p.src_port), (1480, None));
        frag[6..8].copy_from_slice(&[0, 0]);
        frag[9] = PROTO_ICMP;
        frag[20..22].copy_from_slice(&[8, 0]);
        let p = decode_header(HEADER_IPV4, &frag).unwrap();
        assert_eq!(
            (p.icmp_type, p.icmp_code, p.src_port),
            (Some(8), Some(0), None)
        );
        assert!(p.src_mac.is_none());
    }

    #[test]
    fn errors() {
        let h = eth_ipv4_tcp(&[7]);
        assert_eq!(
            decode_header(HEADER_ETHERNET, &h[..13]).unwrap_err().offset,
            13
        );
        assert_eq!(
            decode_header(HEADER_ETHERNET, &h[..15]).unwrap_err().offset,
            14
        );
        assert_eq!(
            decode_header(HEADER_ETHERNET, &h[..16]).unwrap_err().offset,
            16
        );
        assert!(decode_header(2, &h).is_err());
        assert!(decode_header(HEADER_IPV6, &h[18..]).is_err());
        let mut bad_ihl = h[18..].to_vec();
        bad_ihl[0] = 0x44;
        assert!(decode_header(HEADER_IPV4, &bad_ihl).is_err());
        for n in 0..h.len() {
            let _ = decode_header(HEADER_ETHERNET, &h[..n]);
            let _ = decode_header(HEADER_IPV4, &h[18..n.max(18)]);
        }
    }
}
