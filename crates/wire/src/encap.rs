//! Encapsulations between a frame's link header and the telemetry datagram inside: PPPoE sessions, MPLS label
//! stacks, IP-in-IP (IP protocols 4 and 41), GRE (RFC 2784/2890, with transparent Ethernet bridging and ERSPAN
//! types I, II and III) and VXLAN (RFC 7348).
//!
//! A [`Walk`] strips them one header at a time. The caller parses each IP packet it reaches ([`crate::ip`]) and
//! hands back what the packet carries; the walk says what comes next. Depth is bounded: past [`MAX_DEPTH`]
//! encapsulation headers the walk refuses, whatever the frame claims. Every slice handed out borrows the frame.

use crate::error::{be16, be32, byte, WireError};
use crate::ip::{PROTO_GRE, PROTO_IPV4_IN_IP, PROTO_IPV6_IN_IP};
use crate::link::{
    self, LinkType, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST,
    ETHERTYPE_PPPOE_SESSION, ETHERTYPE_RAW_IP,
};

/// Encapsulation headers a walk passes at most (VLAN tags are bounded apart, per Ethernet header).
pub const MAX_DEPTH: u8 = 8;
/// The IANA port of VXLAN.
pub const VXLAN_PORT: u16 = 4789;

/// MPLS label stack entries read at most before the bottom-of-stack bit must have been seen.
const MAX_MPLS_LABELS: usize = 16;
const MPLS_ENTRY_LEN: usize = 4;
const MPLS_BOTTOM_OF_STACK: u32 = 0x100;
/// RFC 4385: the pseudo-wire control word before an Ethernet frame carried over MPLS (RFC 4448).
const MPLS_CONTROL_WORD_LEN: usize = 4;

const PPPOE_HEADER_LEN: usize = 6;
const PPPOE_VERSION_TYPE: u8 = 0x11;
const PPPOE_CODE_SESSION: u8 = 0x00;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_VERSION: u16 = 0x0007;
const GRE_BASE_LEN: usize = 4;
const GRE_OPTION_LEN: usize = 4;
const GRE_TRANSPARENT_ETHERNET: u16 = 0x6558;
const GRE_ERSPAN_2: u16 = 0x88be;
const GRE_ERSPAN_3: u16 = 0x22eb;

const ERSPAN_2_HEADER_LEN: usize = 8;
const ERSPAN_2_VERSION: u8 = 1;
const ERSPAN_3_HEADER_LEN: usize = 12;
const ERSPAN_3_VERSION: u8 = 2;
const ERSPAN_3_PLATFORM_LEN: usize = 8;
const ERSPAN_3_FT_ETHERNET: u8 = 0;
const ERSPAN_3_FT_IP: u8 = 2;

const VXLAN_HEADER_LEN: usize = 8;
const VXLAN_FLAG_VNI: u8 = 0x08;

/// A kind of encapsulation header, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    Pppoe,
    Mpls,
    /// IP protocol 4: IPv4 inside IPv4 or IPv6.
    Ipv4InIp,
    /// IP protocol 41: IPv6 inside IPv4 (6in4, 6to4, ISATAP) or IPv6.
    Ipv6InIp,
    Gre,
    /// GRE protocol 0x88BE: ERSPAN type II, or type I when the GRE header has no sequence number.
    Erspan2,
    /// GRE protocol 0x22EB: ERSPAN type III.
    Erspan3,
    Vxlan,
}

impl Encap {
    pub const COUNT: usize = 8;
    pub const ALL: [Encap; Self::COUNT] = [
        Encap::Pppoe,
        Encap::Mpls,
        Encap::Ipv4InIp,
        Encap::Ipv6InIp,
        Encap::Gre,
        Encap::Erspan2,
        Encap::Erspan3,
        Encap::Vxlan,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The counter name.
    pub fn name(self) -> &'static str {
        match self {
            Encap::Pppoe => "pppoe",
            Encap::Mpls => "mpls",
            Encap::Ipv4InIp => "ipv4_in_ip",
            Encap::Ipv6InIp => "ipv6_in_ip",
            Encap::Gre => "gre",
            Encap::Erspan2 => "erspan2",
            Encap::Erspan3 => "erspan3",
            Encap::Vxlan => "vxlan",
        }
    }
}

/// What a header carries, as far as a walk follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// An IP packet; its version nibble decides IPv4 or IPv6.
    Ip(&'a [u8]),
    /// An Ethernet frame (GRE transparent bridging, ERSPAN, VXLAN, an MPLS Ethernet pseudo-wire).
    Ethernet(&'a [u8]),
    /// Something not followed: ARP, PPP control protocols, an unknown GRE protocol, MPLS carrying neither IP
    /// nor a control word.
    Other,
}

/// One frame's way down through its encapsulations: how deep it went and which kinds it passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walk {
    depth: u8,
    /// Bit [`Encap::index`] set for every kind passed.
    seen: u16,
    too_deep: bool,
}

impl Walk {
    /// A captured frame's link header, then any PPPoE session or MPLS stack under it.
    pub fn link<'a>(&mut self, link: LinkType, frame: &'a [u8]) -> Result<Next<'a>, WireError> {
        match link::link_payload(link, frame)? {
            // The version nibble decides: BSD loopback and raw IP links do not name the version.
            (ETHERTYPE_RAW_IP, payload) => Ok(Next::Ip(payload)),
            (ethertype, payload) => self.ethertype(ethertype, payload),
        }
    }

    /// An Ethernet frame found inside an encapsulation.
    pub fn ethernet<'a>(&mut self, frame: &'a [u8]) -> Result<Next<'a>, WireError> {
        let (ethertype, payload) = link::ethernet(frame)?;
        self.ethertype(ethertype, payload)
    }

    /// What an IP packet of protocol 4, 41 or 47 carries ([`crate::ip::Transport::Tunnel`]).
    pub fn ip_tunnel<'a>(
        &mut self,
        protocol: u8,
        payload: &'a [u8],
    ) -> Result<Next<'a>, WireError> {
        match protocol {
            PROTO_IPV4_IN_IP => {
                self.enter(Encap::Ipv4InIp)?;
                ip_of_version(payload, 4, "IPv4-in-IP payload is not IPv4")
            }
            PROTO_IPV6_IN_IP => {
                self.enter(Encap::Ipv6InIp)?;
                ip_of_version(payload, 6, "IPv6-in-IP payload is not IPv6")
            }
            PROTO_GRE => {
                self.enter(Encap::Gre)?;
                self.gre(payload)
            }
            _ => Ok(Next::Other),
        }
    }

    /// A VXLAN datagram's payload (after the UDP header): an 8-byte header, then an Ethernet frame.
    pub fn vxlan<'a>(&mut self, payload: &'a [u8]) -> Result<Next<'a>, WireError> {
        self.enter(Encap::Vxlan)?;
        if byte(payload, 0)? & VXLAN_FLAG_VNI == 0 {
            return Err(WireError::new("VXLAN header without the VNI flag", 0));
        }
        payload
            .get(VXLAN_HEADER_LEN..)
            .map(Next::Ethernet)
            .ok_or(WireError::new("VXLAN header truncated", payload.len()))
    }

    /// Whether the walk stopped because the frame nests more than [`MAX_DEPTH`] encapsulations.
    pub fn too_deep(&self) -> bool {
        self.too_deep
    }

    /// Whether any encapsulation was passed.
    pub fn tunnelled(&self) -> bool {
        self.seen != 0
    }

    /// The kinds passed, each once, in [`Encap::ALL`] order.
    pub fn seen(&self) -> impl Iterator<Item = Encap> {
        let seen = self.seen;
        Encap::ALL
            .into_iter()
            .filter(move |e| seen & (1 << e.index()) != 0)
    }

    fn enter(&mut self, kind: Encap) -> Result<(), WireError> {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return Err(WireError::new("encapsulations nested too deep", 0));
        }
        self.depth += 1;
        self.seen |= 1 << kind.index();
        Ok(())
    }

    /// Dispatch on an ethertype (Ethernet, Linux cooked, GRE protocol type). IP first: the common case.
    fn ethertype<'a>(&mut self, ethertype: u16, payload: &'a [u8]) -> Result<Next<'a>, WireError> {
        match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Next::Ip(payload)),
            ETHERTYPE_PPPOE_SESSION => {
                self.enter(Encap::Pppoe)?;
                pppoe_session(payload)
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => {
                self.enter(Encap::Mpls)?;
                mpls(payload)
            }
            _ => Ok(Next::Other),
        }
    }

    /// RFC 2784 with RFC 2890's key and sequence number. Version 1 (PPTP's enhanced GRE) and RFC 1701 source
    /// routing are not followed.
    fn gre<'a>(&mut self, packet: &'a [u8]) -> Result<Next<'a>, WireError> {
        let flags = be16(packet, 0)?;
        let protocol = be16(packet, 2)?;
        if flags & (GRE_VERSION | GRE_ROUTING) != 0 {
            return Ok(Next::Other);
        }
        let options = [GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count();
        let payload = packet
            .get(GRE_BASE_LEN + options * GRE_OPTION_LEN..)
            .ok_or(WireError::new("GRE header truncated", packet.len()))?;
        match protocol {
            GRE_TRANSPARENT_ETHERNET => Ok(Next::Ethernet(payload)),
            GRE_ERSPAN_2 => {
                self.enter(Encap::Erspan2)?;
                // Type I has no ERSPAN header and no GRE sequence number; type II has both.
                if flags & GRE_SEQUENCE == 0 {
                    Ok(Next::Ethernet(payload))
                } else {
                    erspan2(payload)
                }
            }
            GRE_ERSPAN_3 => {
                self.enter(Encap::Erspan3)?;
                erspan3(payload)
            }
            // A pseudo ethertype of ours, not a protocol GRE can name.
            ETHERTYPE_RAW_IP => Ok(Next::Other),
            ethertype => self.ethertype(ethertype, payload),
        }
    }
}

/// `payload` as an IP packet of the version its carrier announced.
fn ip_of_version<'a>(
    payload: &'a [u8],
    version: u8,
    wrong: &'static str,
) -> Result<Next<'a>, WireError> {
    if byte(payload, 0)? >> 4 != version {
        return Err(WireError::new(wrong, 0));
    }
    Ok(Next::Ip(payload))
}

/// RFC 2516 session stage: a 6-byte header whose length covers the PPP frame, then the PPP protocol field,
/// which RFC 1661 §6.5 lets a peer compress to one byte (an odd first byte ends the field).
fn pppoe_session(payload: &[u8]) -> Result<Next<'_>, WireError> {
    if byte(payload, 0)? != PPPOE_VERSION_TYPE {
        return Err(WireError::new("PPPoE version/type is not 1/1", 0));
    }
    if byte(payload, 1)? != PPPOE_CODE_SESSION {
        return Err(WireError::new(
            "PPPoE session frame with a non-zero code",
            1,
        ));
    }
    let length = usize::from(be16(payload, 4)?);
    let ppp = payload
        .get(PPPOE_HEADER_LEN..PPPOE_HEADER_LEN + length)
        .ok_or(WireError::new("PPPoE length exceeds the frame", 4))?;
    let first = byte(ppp, 0)?;
    let (protocol, at) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        (be16(ppp, 0)?, 2)
    };
    match protocol {
        PPP_IPV4 => ip_of_version(&ppp[at..], 4, "PPP IPv4 payload is not IPv4"),
        PPP_IPV6 => ip_of_version(&ppp[at..], 6, "PPP IPv6 payload is not IPv6"),
        _ => Ok(Next::Other),
    }
}

/// Label stack entries up to the bottom of stack; then the payload's first nibble decides (RFC 4928): 4 or 6
/// is IP, 0 is a pseudo-wire control word followed by an Ethernet frame. Anything else is not followed.
fn mpls(payload: &[u8]) -> Result<Next<'_>, WireError> {
    for entry in 0..MAX_MPLS_LABELS {
        let at = entry * MPLS_ENTRY_LEN;
        if be32(payload, at)? & MPLS_BOTTOM_OF_STACK != 0 {
            return mpls_payload(&payload[at + MPLS_ENTRY_LEN..]);
        }
    }
    Err(WireError::new(
        "MPLS label stack without a bottom within 16 entries",
        MAX_MPLS_LABELS * MPLS_ENTRY_LEN,
    ))
}

fn mpls_payload(payload: &[u8]) -> Result<Next<'_>, WireError> {
    match payload.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(Next::Ip(payload)),
        Some(0) => payload
            .get(MPLS_CONTROL_WORD_LEN..)
            .map(Next::Ethernet)
            .ok_or(WireError::new("MPLS control word truncated", payload.len())),
        Some(_) => Ok(Next::Other),
        None => Err(WireError::new("MPLS payload empty", 0)),
    }
}

/// ERSPAN type II: 8 bytes (version 1, VLAN, CoS, session, index), then the mirrored Ethernet frame.
fn erspan2(payload: &[u8]) -> Result<Next<'_>, WireError> {
    if byte(payload, 0)? >> 4 != ERSPAN_2_VERSION {
        return Err(WireError::new("ERSPAN type II header version is not 1", 0));
    }
    payload
        .get(ERSPAN_2_HEADER_LEN..)
        .map(Next::Ethernet)
        .ok_or(WireError::new(
            "ERSPAN type II header truncated",
            payload.len(),
        ))
}

/// ERSPAN type III: 12 bytes (version 2, ..., timestamp, SGT, P, FT, hardware id, D, Gra, O), an 8-byte
/// platform-specific subheader when O is set, then the mirrored frame: Ethernet (FT 0) or IP (FT 2).
fn erspan3(payload: &[u8]) -> Result<Next<'_>, WireError> {
    if byte(payload, 0)? >> 4 != ERSPAN_3_VERSION {
        return Err(WireError::new("ERSPAN type III header version is not 2", 0));
    }
    let last = be16(payload, 10)?;
    let frame_type = ((last >> 10) & 0x1f) as u8;
    let platform = if last & 1 != 0 {
        ERSPAN_3_PLATFORM_LEN
    } else {
        0
    };
    let mirrored = payload
        .get(ERSPAN_3_HEADER_LEN + platform..)
        .ok_or(WireError::new(
            "ERSPAN type III header truncated",
            payload.len(),
        ))?;
    Ok(match frame_type {
        ERSPAN_3_FT_ETHERNET => Next::Ethernet(mirrored),
        ERSPAN_3_FT_IP => Next::Ip(mirrored),
        _ => Next::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::tests::{ipv4, ipv6};

    const INNER: [u8; 4] = [0x45, 0, 0, 20];

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn pppoe(ppp_protocol: &[u8], payload: &[u8]) -> Vec<u8> {
        let len = (ppp_protocol.len() + payload.len()) as u16;
        let mut p = vec![0x11, 0x00, 0x12, 0x34];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(ppp_protocol);
        p.extend_from_slice(payload);
        p
    }

    fn labels(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let bottom = if i + 1 == n { 0x100 } else { 0 };
                ((1000 + i as u32) << 12 | bottom | 64).to_be_bytes()
            })
            .collect()
    }

    fn gre(flags: u16, protocol: u16, payload: &[u8]) -> Vec<u8> {
        let mut g = flags.to_be_bytes().to_vec();
        g.extend_from_slice(&protocol.to_be_bytes());
        let options = [GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count();
        g.extend((0..options * 4).map(|i| i as u8 + 1));
        g.extend_from_slice(payload);
        g
    }

    fn walk_link(frame: &[u8]) -> (Result<Next<'_>, WireError>, Walk) {
        let mut w = Walk::default();
        (w.link(LinkType::ETHERNET, frame), w)
    }

    #[test]
    fn plain_ip_passes_no_encapsulation() {
        let f = eth(0x0800, &INNER);
        let (next, w) = walk_link(&f);
        assert_eq!(next, Ok(Next::Ip(&INNER[..])));
        assert!(!w.tunnelled());
        let mut w = Walk::default();
        assert_eq!(w.link(LinkType::RAW, &INNER), Ok(Next::Ip(&INNER[..])));
        assert_eq!(walk_link(&eth(0x0806, &[0; 28])).0, Ok(Next::Other));
    }

    #[test]
    fn pppoe_session_ipv4_ipv6_and_compressed_protocol() {
        let v6 = [0x60u8, 0, 0, 0];
        for (proto, payload) in [
            (&[0x00, 0x21][..], &INNER[..]),
            (&[0x00, 0x57][..], &v6[..]),
            (&[0x21][..], &INNER[..]),
        ] {
            let mut f = eth(0x8864, &pppoe(proto, payload));
            f.extend_from_slice(&[0; 6]); // Ethernet padding past the PPPoE length
            let (next, w) = walk_link(&f);
            assert_eq!(next, Ok(Next::Ip(payload)), "{proto:?}");
            assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Pppoe]);
        }
        let lcp = eth(0x8864, &pppoe(&[0xc0, 0x21], &[1, 1, 0, 4]));
        assert_eq!(
            walk_link(&lcp).0,
            Ok(Next::Other),
            "PPP control is not followed"
        );
        let discovery = eth(0x8863, &pppoe(&[0x00, 0x21], &INNER));
        assert_eq!(walk_link(&discovery).0, Ok(Next::Other));
    }

    #[test]
    fn pppoe_lies_are_errors() {
        let good = pppoe(&[0x00, 0x21], &INNER);
        let mut long = good.clone();
        long[5] = 200;
        let mut version = good.clone();
        version[0] = 0x21;
        let mut code = good.clone();
        code[1] = 0x09;
        let mut not_v4 = good.clone();
        not_v4[8] = 0x60;
        for bad in [
            long,
            version,
            code,
            not_v4,
            good[..5].to_vec(),
            good[..6].to_vec(),
        ] {
            assert!(walk_link(&eth(0x8864, &bad)).0.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mpls_stacks_ip_and_ethernet_pseudowire() {
        for n in [1, 3] {
            let f = eth(0x8847, &[labels(n), INNER.to_vec()].concat());
            let (next, w) = walk_link(&f);
            assert_eq!(next, Ok(Next::Ip(&INNER[..])));
            assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Mpls]);
        }
        let inner_eth = eth(0x0800, &INNER);
        let pw = eth(0x8848, &[labels(2), vec![0; 4], inner_eth.clone()].concat());
        assert_eq!(walk_link(&pw).0, Ok(Next::Ethernet(&inner_eth[..])));
        let unknown = eth(0x8847, &[labels(1), vec![0x20, 0, 0, 0]].concat());
        assert_eq!(walk_link(&unknown).0, Ok(Next::Other));
    }

    #[test]
    fn mpls_without_bottom_or_payload_is_an_error() {
        let mut endless = labels(20);
        endless.iter_mut().for_each(|b| *b &= 0xfe); // clear every bottom-of-stack bit
        endless.extend_from_slice(&INNER);
        assert!(walk_link(&eth(0x8847, &endless)).0.is_err());
        assert!(
            walk_link(&eth(0x8847, &labels(17))).0.is_err(),
            "17 entries"
        );
        assert!(walk_link(&eth(0x8847, &labels(2))).0.is_err(), "no payload");
        assert!(walk_link(&eth(0x8847, &labels(2)[..6])).0.is_err());
        let cw_cut = [labels(1), vec![0, 0]].concat();
        assert!(walk_link(&eth(0x8847, &cw_cut)).0.is_err());
    }

    #[test]
    fn ip_in_ip_both_versions() {
        let mut w = Walk::default();
        assert_eq!(w.ip_tunnel(4, &INNER), Ok(Next::Ip(&INNER[..])));
        let v6 = ipv6(17, &[0; 8]);
        assert_eq!(w.ip_tunnel(41, &v6), Ok(Next::Ip(&v6[..])));
        assert_eq!(
            w.seen().collect::<Vec<_>>(),
            [Encap::Ipv4InIp, Encap::Ipv6InIp]
        );
        assert!(w.ip_tunnel(4, &v6).is_err(), "protocol 4 carrying IPv6");
        assert!(w.ip_tunnel(41, &INNER).is_err());
        assert!(w.ip_tunnel(41, &[]).is_err());
    }

    #[test]
    fn gre_options_and_protocols() {
        for flags in [
            0,
            GRE_CHECKSUM,
            GRE_KEY,
            GRE_SEQUENCE,
            GRE_CHECKSUM | GRE_KEY | GRE_SEQUENCE,
        ] {
            let mut w = Walk::default();
            let g = gre(flags, 0x0800, &INNER);
            assert_eq!(w.ip_tunnel(47, &g), Ok(Next::Ip(&INNER[..])), "{flags:#x}");
            assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Gre]);
        }
        let inner_eth = eth(0x86dd, &[0x60]);
        let mut w = Walk::default();
        let teb = gre(GRE_KEY, 0x6558, &inner_eth);
        assert_eq!(w.ip_tunnel(47, &teb), Ok(Next::Ethernet(&inner_eth[..])));
        let mpls = gre(0, 0x8847, &[labels(1), INNER.to_vec()].concat());
        assert_eq!(w.ip_tunnel(47, &mpls), Ok(Next::Ip(&INNER[..])));
        assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Mpls, Encap::Gre]);
        let pptp = gre(GRE_KEY | 1, 0x880b, &[0xff, 0x03, 0, 0x21]);
        assert_eq!(
            w.ip_tunnel(47, &pptp),
            Ok(Next::Other),
            "version 1 is not followed"
        );
        let routed = gre(GRE_ROUTING, 0x0800, &INNER);
        assert_eq!(w.ip_tunnel(47, &routed), Ok(Next::Other));
        assert_eq!(w.ip_tunnel(47, &gre(0, 0x0001, &INNER)), Ok(Next::Other));
        let cut = gre(GRE_CHECKSUM | GRE_KEY, 0x0800, &[]);
        assert!(w.ip_tunnel(47, &cut[..10]).is_err());
        assert!(w.ip_tunnel(47, &[0, 0, 8]).is_err());
    }

    fn erspan2_header() -> Vec<u8> {
        vec![0x10, 0x64, 0x00, 0x05, 0, 0, 0, 7] // version 1, VLAN 100, session 5, index 7
    }

    fn erspan3_header(frame_type: u8, platform: bool) -> Vec<u8> {
        let mut h = vec![0x20, 0x64, 0x00, 0x05, 0, 0, 0x30, 0x39, 0, 0];
        let last = u16::from(frame_type) << 10 | u16::from(platform);
        h.extend_from_slice(&last.to_be_bytes());
        if platform {
            h.extend_from_slice(&[0x0a; 8]);
        }
        h
    }

    fn via_gre(g: &[u8]) -> (Result<Next<'_>, WireError>, Vec<Encap>) {
        let mut w = Walk::default();
        let next = w.ip_tunnel(47, g);
        (next, w.seen().collect())
    }

    #[test]
    fn erspan_types_one_two_three() {
        let mirrored = eth(0x0800, &INNER);
        let type1 = gre(0, 0x88be, &mirrored);
        let type2 = gre(
            GRE_SEQUENCE,
            0x88be,
            &[erspan2_header(), mirrored.clone()].concat(),
        );
        for g in [&type1, &type2] {
            assert_eq!(
                via_gre(g),
                (
                    Ok(Next::Ethernet(&mirrored[..])),
                    vec![Encap::Gre, Encap::Erspan2]
                )
            );
        }
        for platform in [false, true] {
            let type3 = gre(
                GRE_SEQUENCE,
                0x22eb,
                &[erspan3_header(0, platform), mirrored.clone()].concat(),
            );
            assert_eq!(
                via_gre(&type3),
                (
                    Ok(Next::Ethernet(&mirrored[..])),
                    vec![Encap::Gre, Encap::Erspan3]
                )
            );
        }
        let type3_ip = gre(
            GRE_SEQUENCE,
            0x22eb,
            &[erspan3_header(2, false), INNER.to_vec()].concat(),
        );
        assert_eq!(via_gre(&type3_ip).0, Ok(Next::Ip(&INNER[..])));
        let type3_odd = gre(
            GRE_SEQUENCE,
            0x22eb,
            &[erspan3_header(7, false), INNER.to_vec()].concat(),
        );
        assert_eq!(via_gre(&type3_odd).0, Ok(Next::Other));
    }

    #[test]
    fn erspan_lies_are_errors() {
        let mut w = Walk::default();
        let mut wrong_version = erspan2_header();
        wrong_version[0] = 0x20;
        assert!(w
            .ip_tunnel(47, &gre(GRE_SEQUENCE, 0x88be, &wrong_version))
            .is_err());
        assert!(w
            .ip_tunnel(47, &gre(GRE_SEQUENCE, 0x88be, &erspan2_header()[..7]))
            .is_err());
        let mut v3_as_v2 = erspan3_header(0, false);
        v3_as_v2[0] = 0x10;
        assert!(w
            .ip_tunnel(47, &gre(GRE_SEQUENCE, 0x22eb, &v3_as_v2))
            .is_err());
        let platform_cut = erspan3_header(0, true);
        assert!(w
            .ip_tunnel(47, &gre(GRE_SEQUENCE, 0x22eb, &platform_cut[..15]))
            .is_err());
        assert!(w
            .ip_tunnel(47, &gre(GRE_SEQUENCE, 0x22eb, &platform_cut[..11]))
            .is_err());
    }

    #[test]
    fn vxlan_header() {
        let inner = eth(0x0800, &INNER);
        let mut w = Walk::default();
        let vx = [&[0x08, 0, 0, 0, 0, 0, 42, 0][..], &inner].concat();
        assert_eq!(w.vxlan(&vx), Ok(Next::Ethernet(&inner[..])));
        assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Vxlan]);
        assert!(
            w.vxlan(&[0x00, 0, 0, 0, 0, 0, 42, 0]).is_err(),
            "no VNI flag"
        );
        assert!(w.vxlan(&vx[..7]).is_err());
        assert!(w.vxlan(&[]).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let mut w = Walk::default();
        let inner = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 0, &[0; 8]);
        for _ in 0..MAX_DEPTH {
            assert!(w.ip_tunnel(4, &inner).is_ok());
        }
        assert!(!w.too_deep());
        assert!(w.ip_tunnel(4, &inner).is_err());
        assert!(w.too_deep());
        assert_eq!(w.seen().collect::<Vec<_>>(), [Encap::Ipv4InIp]);
    }
}
