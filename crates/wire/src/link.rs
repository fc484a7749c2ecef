//! Link-layer headers: the protocol a captured frame carries and where its payload starts (what follows is
//! [`crate::encap::Walk`]'s).

use crate::error::{be16, be32, WireError};

/// A pcap data-link type (DLT value as libpcap reports it). Unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub i32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(12);
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    pub const RAW_LINKTYPE: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Whether [`crate::encap::Walk::link`] understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Self::NULL
                | Self::ETHERNET
                | Self::RAW
                | Self::RAW_OPENBSD
                | Self::RAW_LINKTYPE
                | Self::LOOP
                | Self::LINUX_SLL
                | Self::IPV4
                | Self::IPV6
                | Self::LINUX_SLL2
        )
    }
}

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub(crate) const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub(crate) const ETHERTYPE_MPLS: u16 = 0x8847;
pub(crate) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// At most this many stacked VLAN tags are skipped.
const MAX_VLAN_TAGS: usize = 4;

const ETH_TYPE_OFFSET: usize = 12;
const ETH_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_PROTO_OFFSET: usize = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_PROTO_OFFSET: usize = 0;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;

/// A pseudo ethertype for link types that carry IP without saying which version: the version nibble decides
/// later. Never seen on the wire (IEEE 802.3 lengths are below 0x0600).
pub(crate) const ETHERTYPE_RAW_IP: u16 = 0x0001;
/// A pseudo ethertype for "nothing to follow".
pub(crate) const ETHERTYPE_NONE: u16 = 0x0000;

/// The link header's protocol (an ethertype, or one of the pseudo ethertypes above) and what follows it.
pub(crate) fn link_payload(link: LinkType, frame: &[u8]) -> Result<(u16, &[u8]), WireError> {
    match link {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::LINUX_SLL => by_ethertype(frame, SLL_PROTO_OFFSET, SLL_HEADER_LEN),
        LinkType::LINUX_SLL2 => by_ethertype(frame, SLL2_PROTO_OFFSET, SLL2_HEADER_LEN),
        LinkType::NULL | LinkType::LOOP => null_loopback(frame),
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::RAW_LINKTYPE => Ok(raw_ip(frame)),
        LinkType::IPV4 | LinkType::IPV6 => Ok(raw_ip(frame)),
        _ => Err(WireError::new("unsupported link type", 0)),
    }
}

/// An Ethernet frame's ethertype after any VLAN tags, and its payload.
pub(crate) fn ethernet(frame: &[u8]) -> Result<(u16, &[u8]), WireError> {
    let mut type_at = ETH_TYPE_OFFSET;
    for _ in 0..=MAX_VLAN_TAGS {
        let ethertype = be16(frame, type_at)?;
        match ethertype {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => type_at += VLAN_TAG_LEN,
            t => return Ok((t, &frame[type_at + 2..])),
        }
    }
    Err(WireError::new("too many VLAN tags", ETH_HEADER_LEN))
}

fn by_ethertype(
    frame: &[u8],
    proto_at: usize,
    header_len: usize,
) -> Result<(u16, &[u8]), WireError> {
    let proto = be16(frame, proto_at)?;
    let payload = frame
        .get(header_len..)
        .ok_or(WireError::new("truncated link header", frame.len()))?;
    Ok((proto, payload))
}

/// BSD loopback: a 4-byte address family, in the capturing host's byte order (DLT_NULL) or network order
/// (DLT_LOOP). Both orders are accepted; the IP version nibble decides.
fn null_loopback(frame: &[u8]) -> Result<(u16, &[u8]), WireError> {
    let family_be = be32(frame, 0)?;
    let family = if family_be > 0xffff {
        family_be.swap_bytes()
    } else {
        family_be
    };
    // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
    match family {
        2 | 10 | 24 | 28 | 30 => Ok((ETHERTYPE_RAW_IP, &frame[NULL_HEADER_LEN..])),
        _ => Ok((ETHERTYPE_NONE, &[])),
    }
}

fn raw_ip(frame: &[u8]) -> (u16, &[u8]) {
    match frame.first().map(|b| b >> 4) {
        Some(4) | Some(6) => (ETHERTYPE_RAW_IP, frame),
        _ => (ETHERTYPE_NONE, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IP packet directly inside `frame`, or `None` when it carries something else.
    fn network_layer(link: LinkType, frame: &[u8]) -> Result<Option<&[u8]>, WireError> {
        Ok(match link_payload(link, frame)? {
            (ETHERTYPE_IPV4 | ETHERTYPE_IPV6 | ETHERTYPE_RAW_IP, payload) => Some(payload),
            _ => None,
        })
    }

    fn eth(types: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                f.extend_from_slice(&[0, 7]); // TCI
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_plain_vlan_and_qinq() {
        let ip = [0x45u8, 0, 0, 20];
        for types in [&[0x0800][..], &[0x8100, 0x0800], &[0x88a8, 0x8100, 0x0800]] {
            let f = eth(types, &ip);
            assert_eq!(network_layer(LinkType::ETHERNET, &f), Ok(Some(&ip[..])));
        }
        let arp = eth(&[0x0806], &[1, 2, 3]);
        assert_eq!(network_layer(LinkType::ETHERNET, &arp), Ok(None));
    }

    #[test]
    fn truncated_and_endless_vlan_stacks_are_errors() {
        assert!(network_layer(LinkType::ETHERNET, &[0; 13]).is_err());
        let f = eth(&[0x8100; 8], &[]);
        assert!(network_layer(LinkType::ETHERNET, &f).is_err());
    }

    #[test]
    fn cooked_and_loopback() {
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&0x86ddu16.to_be_bytes());
        sll.push(0x60);
        assert_eq!(
            network_layer(LinkType::LINUX_SLL, &sll),
            Ok(Some(&[0x60u8][..]))
        );
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        sll2.push(0x45);
        assert_eq!(
            network_layer(LinkType::LINUX_SLL2, &sll2),
            Ok(Some(&[0x45u8][..]))
        );
        assert!(network_layer(LinkType::LINUX_SLL2, &sll2[..10]).is_err());
        let null_le = [2u8, 0, 0, 0, 0x45];
        let loop_be = [0u8, 0, 0, 30, 0x60];
        assert_eq!(
            network_layer(LinkType::NULL, &null_le),
            Ok(Some(&[0x45u8][..]))
        );
        assert_eq!(
            network_layer(LinkType::LOOP, &loop_be),
            Ok(Some(&[0x60u8][..]))
        );
        assert_eq!(
            network_layer(LinkType::RAW_LINKTYPE, &[0x45]),
            Ok(Some(&[0x45u8][..]))
        );
        assert_eq!(network_layer(LinkType::RAW, &[0x25]), Ok(None));
        assert_eq!(
            network_layer(LinkType::IPV4, &[0x45]),
            Ok(Some(&[0x45u8][..]))
        );
        assert_eq!(
            network_layer(LinkType::IPV6, &[0x60]),
            Ok(Some(&[0x60u8][..]))
        );
        assert_eq!(
            network_layer(LinkType::LOOP, &[0, 0, 0, 2, 0x45]),
            Ok(Some(&[0x45u8][..]))
        );
        assert_eq!(
            network_layer(LinkType::LOOP, &[0, 0, 0, 7, 0x45]),
            Ok(None),
            "not an IP family"
        );
        assert!(
            network_layer(LinkType(147), &[0x45]).is_err(),
            "unknown link types are refused, not guessed"
        );
    }
}
