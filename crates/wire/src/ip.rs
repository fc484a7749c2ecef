//! IPv4 and IPv6 headers: addresses, the upper-layer protocol, and fragments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{be16, be32, byte, WireError};

pub const PROTO_UDP: u8 = 17;
/// IPv4 encapsulated in IP (RFC 2003).
pub const PROTO_IPV4_IN_IP: u8 = 4;
/// IPv6 encapsulated in IP (RFC 4213 6in4, RFC 2473).
pub const PROTO_IPV6_IN_IP: u8 = 41;
pub const PROTO_GRE: u8 = 47;
const PROTO_HOPOPTS: u8 = 0;
const PROTO_ROUTING: u8 = 43;
const PROTO_FRAGMENT: u8 = 44;
const PROTO_AH: u8 = 51;
const PROTO_DSTOPTS: u8 = 60;
/// An IPv6 packet with more extension headers than this is refused (hostile chains).
const MAX_EXT_HEADERS: usize = 8;

const V4_MIN_HEADER: usize = 20;
const V4_TOTAL_LEN: usize = 2;
const V4_ID: usize = 4;
const V4_FRAG: usize = 6;
const V4_PROTO: usize = 9;
const V4_SRC: usize = 12;
const V4_DST: usize = 16;
const V4_MF: u16 = 0x2000;
const V4_OFFSET_MASK: u16 = 0x1fff;

const V6_HEADER: usize = 40;
const V6_PAYLOAD_LEN: usize = 4;
const V6_NEXT: usize = 6;
const V6_SRC: usize = 8;
const V6_DST: usize = 24;
const V6_FRAG_HEADER: usize = 8;

/// One IP packet, after the network header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
}

/// What the IP packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A whole UDP segment: header and data.
    Udp(&'a [u8]),
    /// A piece of a fragmented packet, to be reassembled.
    Fragment(Fragment<'a>),
    /// A tunnel: IPv4 or IPv6 in IP, or GRE ([`crate::encap::Walk::ip_tunnel`] follows it).
    Tunnel { protocol: u8, payload: &'a [u8] },
    /// Another upper-layer protocol (its number).
    Other(u8),
}

/// One IP fragment. `protocol` is the upper-layer protocol (IPv4) or the fragment header's next header (IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub id: u32,
    pub protocol: u8,
    /// Byte offset of `data` within the reassembled payload.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    pub data: &'a [u8],
}

/// Parses an IPv4 or IPv6 packet (the version nibble decides). Trailing link padding beyond the IP length
/// is ignored; a packet shorter than its IP length is an error.
pub fn parse(packet: &[u8]) -> Result<IpPacket<'_>, WireError> {
    match byte(packet, 0)? >> 4 {
        4 => parse_v4(packet),
        6 => parse_v6(packet),
        _ => Err(WireError::new("not IPv4 or IPv6", 0)),
    }
}

fn parse_v4(p: &[u8]) -> Result<IpPacket<'_>, WireError> {
    let header_len = usize::from(byte(p, 0)? & 0x0f) * 4;
    if header_len < V4_MIN_HEADER {
        return Err(WireError::new("IPv4 header length below 20", 0));
    }
    let total = usize::from(be16(p, V4_TOTAL_LEN)?);
    if total < header_len {
        return Err(WireError::new(
            "IPv4 total length below header length",
            V4_TOTAL_LEN,
        ));
    }
    let packet = p
        .get(..total)
        .ok_or(WireError::new("IPv4 packet truncated", p.len()))?;
    let src = IpAddr::V4(Ipv4Addr::from(be32(p, V4_SRC)?));
    let dst = IpAddr::V4(Ipv4Addr::from(be32(p, V4_DST)?));
    let protocol = byte(p, V4_PROTO)?;
    let frag = be16(p, V4_FRAG)?;
    let payload = &packet[header_len..];
    let transport = if frag & (V4_MF | V4_OFFSET_MASK) != 0 {
        Transport::Fragment(Fragment {
            id: u32::from(be16(p, V4_ID)?),
            protocol,
            offset: usize::from(frag & V4_OFFSET_MASK) * 8,
            more: frag & V4_MF != 0,
            data: payload,
        })
    } else {
        upper_layer_v4(protocol, payload)
    };
    Ok(IpPacket {
        src,
        dst,
        transport,
    })
}

/// What an unfragmented (or reassembled) IPv4 payload of `protocol` is.
pub fn upper_layer_v4(protocol: u8, payload: &[u8]) -> Transport<'_> {
    match protocol {
        PROTO_UDP => Transport::Udp(payload),
        p if is_tunnel(p) => Transport::Tunnel {
            protocol: p,
            payload,
        },
        p => Transport::Other(p),
    }
}

fn is_tunnel(protocol: u8) -> bool {
    matches!(protocol, PROTO_IPV4_IN_IP | PROTO_IPV6_IN_IP | PROTO_GRE)
}

fn v6_addr(p: &[u8], at: usize) -> Result<Ipv6Addr, WireError> {
    let b: [u8; 16] = p
        .get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(WireError::new("IPv6 address truncated", at))?;
    Ok(Ipv6Addr::from(b))
}

fn parse_v6(p: &[u8]) -> Result<IpPacket<'_>, WireError> {
    let src = IpAddr::V6(v6_addr(p, V6_SRC)?);
    let dst = IpAddr::V6(v6_addr(p, V6_DST)?);
    let payload_len = usize::from(be16(p, V6_PAYLOAD_LEN)?);
    if payload_len == 0 {
        return Err(WireError::new(
            "IPv6 jumbogram or empty payload",
            V6_PAYLOAD_LEN,
        ));
    }
    let packet = p
        .get(..V6_HEADER + payload_len)
        .ok_or(WireError::new("IPv6 packet truncated", p.len()))?;
    let next = byte(p, V6_NEXT)?;
    let transport = upper_layer_at(packet, next, V6_HEADER)?;
    Ok(IpPacket {
        src,
        dst,
        transport,
    })
}

/// Walks IPv6 extension headers starting with `next` at `buf[at..]` until UDP, a fragment header, a tunnel or
/// another protocol. Used on whole packets and on reassembled IPv6 payloads (with `at` = 0).
pub fn upper_layer_at(buf: &[u8], mut next: u8, mut at: usize) -> Result<Transport<'_>, WireError> {
    for _ in 0..MAX_EXT_HEADERS {
        match next {
            PROTO_UDP => return Ok(Transport::Udp(&buf[at.min(buf.len())..])),
            PROTO_FRAGMENT => return v6_fragment(buf, at),
            p if is_tunnel(p) => {
                return Ok(Transport::Tunnel {
                    protocol: p,
                    payload: &buf[at.min(buf.len())..],
                })
            }
            PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS => {
                next = byte(buf, at)?;
                at += (usize::from(byte(buf, at + 1)?) + 1) * 8;
            }
            PROTO_AH => {
                next = byte(buf, at)?;
                at += (usize::from(byte(buf, at + 1)?) + 2) * 4;
            }
            other => return Ok(Transport::Other(other)),
        }
        if at > buf.len() {
            return Err(WireError::new(
                "IPv6 extension header runs past the packet",
                at,
            ));
        }
    }
    Err(WireError::new("too many IPv6 extension headers", at))
}

fn v6_fragment(buf: &[u8], at: usize) -> Result<Transport<'_>, WireError> {
    let protocol = byte(buf, at)?;
    let off_flags = be16(buf, at + 2)?;
    let id = be32(buf, at + 4)?;
    let data = buf
        .get(at + V6_FRAG_HEADER..)
        .ok_or(WireError::new("IPv6 fragment header truncated", at))?;
    let offset = usize::from(off_flags >> 3) * 8;
    let more = off_flags & 1 != 0;
    if offset == 0 && !more {
        // An atomic fragment (RFC 6946): a whole packet behind a fragment header.
        return upper_layer_at(buf, protocol, at + V6_FRAG_HEADER);
    }
    Ok(Transport::Fragment(Fragment {
        id,
        protocol,
        offset,
        more,
        data,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    pub fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_udp_and_padding() {
        let mut p = ipv4(
            [192, 0, 2, 1],
            [192, 0, 2, 2],
            17,
            0,
            &[1, 2, 3, 4, 5, 6, 7, 8],
        );
        p.extend_from_slice(&[0xee; 6]); // Ethernet padding
        let ip = parse(&p).unwrap();
        assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(ip.transport, Transport::Udp(&[1, 2, 3, 4, 5, 6, 7, 8]));
    }

    #[test]
    fn ipv4_lies_are_errors() {
        let p = ipv4([1; 4], [2; 4], 17, 0, &[0; 8]);
        let mut short_ihl = p.clone();
        short_ihl[0] = 0x44;
        assert!(parse(&short_ihl).is_err());
        let mut long_total = p.clone();
        long_total[2..4].copy_from_slice(&1500u16.to_be_bytes());
        assert!(parse(&long_total).is_err());
        let mut tiny_total = p.clone();
        tiny_total[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert!(parse(&tiny_total).is_err());
        let mut ihl_past_end = p;
        ihl_past_end[0] = 0x4f;
        assert!(parse(&ihl_past_end).is_err());
        assert!(parse(&[0x45, 0]).is_err());
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn ipv4_fragments() {
        let first = ipv4([1; 4], [2; 4], 17, 0x2000, &[9; 16]);
        let last = ipv4([1; 4], [2; 4], 17, 2, &[7; 4]);
        match parse(&first).unwrap().transport {
            Transport::Fragment(f) => assert_eq!(
                (f.id, f.offset, f.more, f.data.len()),
                (0x1234, 0, true, 16)
            ),
            t => panic!("{t:?}"),
        }
        match parse(&last).unwrap().transport {
            Transport::Fragment(f) => assert_eq!((f.offset, f.more), (16, false)),
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let mut ext = vec![17, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop, next = UDP
        ext.extend_from_slice(&[0; 8]);
        let pkt = ipv6(0, &ext);
        let ip = parse(&pkt).unwrap();
        assert_eq!(ip.transport, Transport::Udp(&[0; 8]));
        let frag = [17, 0, 0, 9, 0, 0, 0, 42, 1, 2, 3, 4]; // offset 8 bytes, M=1, id 42
        match parse(&ipv6(44, &frag)).unwrap().transport {
            Transport::Fragment(f) => assert_eq!(
                (f.id, f.offset, f.more, f.data),
                (42, 8, true, &[1u8, 2, 3, 4][..])
            ),
            t => panic!("{t:?}"),
        }
        let atomic = [17, 0, 0, 0, 0, 0, 0, 42, 5, 6];
        assert_eq!(
            parse(&ipv6(44, &atomic)).unwrap().transport,
            Transport::Udp(&[5, 6])
        );
    }

    #[test]
    fn tunnels_hand_over_their_payload() {
        let inner = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 0, &[0; 8]);
        for proto in [4, 41, 47] {
            let outer = ipv4([1; 4], [2; 4], proto, 0, &inner);
            assert_eq!(
                parse(&outer).unwrap().transport,
                Transport::Tunnel {
                    protocol: proto,
                    payload: &inner
                }
            );
        }
        let mut ext = vec![47, 0, 0, 0, 0, 0, 0, 0]; // destination options, next = GRE
        ext.extend_from_slice(&[0, 0, 0x08, 0x00]);
        assert_eq!(
            parse(&ipv6(60, &ext)).unwrap().transport,
            Transport::Tunnel {
                protocol: 47,
                payload: &[0, 0, 0x08, 0x00]
            }
        );
        assert_eq!(
            parse(&ipv4([1; 4], [2; 4], 6, 0, &[0; 20]))
                .unwrap()
                .transport,
            Transport::Other(6)
        );
    }

    #[test]
    fn ipv6_hostile_chains() {
        let runs_off = [60, 200, 0, 0];
        assert!(parse(&ipv6(60, &runs_off)).is_err());
        let endless = [0u8; 80]; // hop-by-hop pointing at hop-by-hop ...
        assert!(parse(&ipv6(0, &endless)).is_err());
        let mut lying = ipv6(17, &[0; 8]);
        lying[4..6].copy_from_slice(&400u16.to_be_bytes());
        assert!(parse(&lying).is_err());
    }
}
