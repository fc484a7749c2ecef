//! From a captured frame to a classified datagram: link header, encapsulations, IP, reassembly, UDP,
//! classification. Everything that is not published is counted here with its reason.
//!
//! The datagram published is the innermost UDP datagram, with the innermost IP addresses (the exporter's):
//! a frame is walked down through PPPoE, MPLS, IP-in-IP, GRE (ERSPAN) and VXLAN ([`wire::encap`]) until a UDP
//! datagram that is not VXLAN to an unwatched port. Plain Ethernet/IP/UDP takes the same path with no
//! encapsulation step.

use std::net::{IpAddr, SocketAddr};

use wire::classify::{Class, Classifier, Mismatch, RefusalCounts, Verdict};
use wire::encap::{Encap, Next, Walk, VXLAN_PORT};
use wire::ip::{self, Transport};
use wire::kind::Kind;
use wire::link::LinkType;
use wire::udp;
use wire::WireError;

use crate::defrag::{DefragConfig, DefragStats, Reassembler, Reassembly};
use crate::guard::LoopGuard;

/// A datagram that passed classification, ready to publish. `payload` borrows the frame or the reassembly
/// buffer.
#[derive(Debug, Clone, Copy)]
pub struct Captured<'a> {
    pub class: Class,
    pub ts_ns: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub reassembled: bool,
}

/// Per-reason counters of the decode stage (plain integers: one thread owns them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    pub frames: u64,
    /// Classified, per kind ([`Kind::index`]).
    pub captured: [u64; Kind::COUNT],
    /// On a watched port, but the payload does not fit the port's kind: published flagged under the port's
    /// kind (and counted in `captured` too), or dropped when the classifier is strict (`mismatched_dropped`).
    pub mismatched: u64,
    /// Of `mismatched`: not published (strict classification).
    pub mismatched_dropped: u64,
    /// `mismatched` per kind and reason.
    pub refused: RefusalCounts,
    /// The latest mismatched datagram's reason and sender (for a rate-limited log line).
    pub last_mismatch: Option<(Mismatch, SocketAddr)>,
    /// Broken link, IP or UDP headers.
    pub malformed: u64,
    /// Frames cut by the capture's snapshot length (raise `capture.snaplen`).
    pub truncated: u64,
    /// UDP to a port nobody configured (let through by the filter, e.g. after reassembly).
    pub unwatched: u64,
    /// Not IP, or IP but not UDP.
    pub not_udp: u64,
    /// Sent by a sekiwake forwarder (its loop-guard source port): never published again.
    pub own_traffic: u64,
    /// Frames that passed at least one encapsulation header (whatever became of them).
    pub tunnelled: u64,
    /// Frames that passed each kind of encapsulation ([`Encap::index`]), once per frame and kind.
    pub encapsulations: [u64; Encap::COUNT],
    /// Frames nesting more than [`wire::encap::MAX_DEPTH`] encapsulation headers: not followed.
    pub encap_too_deep: u64,
    /// A fragment inside a tunnel packet that was itself reassembled from fragments: not reassembled.
    pub fragmented_twice: u64,
    pub defrag: DefragStats,
}

impl FrameStats {
    pub fn captured_total(&self) -> u64 {
        self.captured.iter().sum()
    }
}

pub struct FrameParser {
    classifier: Classifier,
    defrag: Reassembler,
    /// Recognises a local forwarder's own output (loop guard).
    guard: LoopGuard,
    stats: FrameStats,
}

impl FrameParser {
    pub fn new(classifier: Classifier, defrag: DefragConfig, guard: LoopGuard) -> Self {
        Self {
            classifier,
            defrag: Reassembler::new(defrag),
            guard,
            stats: FrameStats::default(),
        }
    }

    pub fn stats(&self) -> FrameStats {
        FrameStats {
            defrag: self.defrag.stats(),
            ..self.stats
        }
    }

    /// Counts a frame the snapshot length cut short: it cannot be forwarded byte-exact.
    pub fn truncated(&mut self) {
        self.stats.frames += 1;
        self.stats.truncated += 1;
    }

    /// Expires stale fragments (call when idle, with the current capture clock).
    pub fn expire(&mut self, now_ns: u64) {
        self.defrag.expire(now_ns);
    }

    /// Decodes one captured frame.
    pub fn frame<'a>(
        &'a mut self,
        link: LinkType,
        ts_ns: u64,
        frame: &'a [u8],
    ) -> Option<Captured<'a>> {
        self.stats.frames += 1;
        let mut walk = Walk::default();
        let reached = walk
            .link(link, frame)
            .and_then(|next| walk_down(&mut walk, &self.classifier, next));
        let ctx = Ctx {
            classifier: &self.classifier,
            guard: &self.guard,
            stats: &mut self.stats,
        };
        let captured = match reached {
            Ok(Reached::Udp(dg)) => classify(ctx, Meta::new(ts_ns, &dg, false), dg.segment),
            Ok(Reached::Fragment {
                src,
                dst,
                fragment: f,
            }) => reassemble(&mut self.defrag, ctx, &mut walk, ts_ns, (src, dst), &f),
            Ok(Reached::NotUdp) => {
                ctx.stats.not_udp += 1;
                None
            }
            Err(_) => {
                count_broken(ctx.stats, &walk);
                None
            }
        };
        count_encapsulations(&mut self.stats, &walk);
        captured
    }

    /// Classifies a datagram that arrived on a UDP socket (no link or IP header to look at).
    pub fn datagram<'a>(
        &mut self,
        ts_ns: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    ) -> Option<Captured<'a>> {
        self.stats.frames += 1;
        if self.guard.is_own(src) {
            self.stats.own_traffic += 1;
            return None;
        }
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: publish them as the IPv4 they are.
        let (src, dst) = (canonical(src), canonical(dst));
        // A wildcard listener does not learn the datagram's destination address: say "unspecified" in the
        // sender's family rather than mixing families.
        let dst = match (dst.ip().is_unspecified(), src.ip()) {
            (true, std::net::IpAddr::V4(_)) => {
                SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), dst.port())
            }
            _ => dst,
        };
        let class = accept(&mut self.stats, &self.classifier, src, dst.port(), payload);
        class.map(|class| Captured {
            class,
            ts_ns,
            src,
            dst,
            payload,
            reassembled: false,
        })
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

#[derive(Clone, Copy)]
struct Meta {
    ts_ns: u64,
    src: IpAddr,
    dst: IpAddr,
    reassembled: bool,
}

impl Meta {
    fn new(ts_ns: u64, dg: &Inner<'_>, reassembled: bool) -> Self {
        Self {
            ts_ns,
            src: dg.src,
            dst: dg.dst,
            reassembled,
        }
    }
}

/// What classification needs from the decoder, borrowed apart from the reassembler.
struct Ctx<'d> {
    classifier: &'d Classifier,
    guard: &'d LoopGuard,
    stats: &'d mut FrameStats,
}

/// The innermost UDP segment and the addresses of the IP packet that carried it.
struct Inner<'p> {
    src: IpAddr,
    dst: IpAddr,
    segment: &'p [u8],
}

/// Where walking down a frame ended.
enum Reached<'p> {
    Udp(Inner<'p>),
    /// A fragment of an IP packet: reassembly decides what it carries.
    Fragment {
        src: IpAddr,
        dst: IpAddr,
        fragment: ip::Fragment<'p>,
    },
    /// Not IP, IP but not UDP, or an encapsulation that is not followed.
    NotUdp,
}

/// Follows `next` through IP packets and encapsulations to a UDP segment, a fragment, or something else.
/// Bounded: every turn after the first passes an encapsulation header, and the walk refuses past its depth.
fn walk_down<'p>(
    walk: &mut Walk,
    classifier: &Classifier,
    mut next: Next<'p>,
) -> Result<Reached<'p>, WireError> {
    loop {
        let packet = match next {
            Next::Ip(packet) => packet,
            Next::Ethernet(frame) => {
                next = walk.ethernet(frame)?;
                continue;
            }
            Next::Other => return Ok(Reached::NotUdp),
        };
        let ip = ip::parse(packet)?;
        next = match ip.transport {
            Transport::Udp(segment) => match vxlan_payload(classifier, segment) {
                Some(vxlan) => walk.vxlan(vxlan)?,
                None => {
                    return Ok(Reached::Udp(Inner {
                        src: ip.src,
                        dst: ip.dst,
                        segment,
                    }))
                }
            },
            Transport::Tunnel { protocol, payload } => walk.ip_tunnel(protocol, payload)?,
            Transport::Fragment(fragment) => {
                return Ok(Reached::Fragment {
                    src: ip.src,
                    dst: ip.dst,
                    fragment,
                })
            }
            Transport::Other(_) => return Ok(Reached::NotUdp),
        };
    }
}

/// The VXLAN header and frame inside `segment` when it goes to the VXLAN port and nobody watches that port
/// (a port configured for telemetry keeps its meaning). One comparison on the hot path.
fn vxlan_payload<'p>(classifier: &Classifier, segment: &'p [u8]) -> Option<&'p [u8]> {
    if segment.get(2..4) != Some(&VXLAN_PORT.to_be_bytes()[..])
        || classifier.family(VXLAN_PORT).is_some()
    {
        return None;
    }
    udp::Datagram::parse(segment).ok().map(|d| d.payload)
}

/// Feeds a fragment to the reassembler; once the packet is whole, walks on through what it carries (UDP, or a
/// tunnel whose inner packet is not itself a fragment).
fn reassemble<'a>(
    defrag: &'a mut Reassembler,
    ctx: Ctx<'_>,
    walk: &mut Walk,
    ts_ns: u64,
    (src, dst): (IpAddr, IpAddr),
    f: &ip::Fragment<'_>,
) -> Option<Captured<'a>> {
    let Reassembly::Complete { protocol, payload } = defrag.push(ts_ns, src, dst, f) else {
        return None;
    };
    let transport = if src.is_ipv4() {
        Ok(ip::upper_layer_v4(protocol, payload))
    } else {
        ip::upper_layer_at(payload, protocol, 0)
    };
    let reached = transport.and_then(|t| match t {
        Transport::Udp(segment) => Ok(Reached::Udp(Inner { src, dst, segment })),
        Transport::Tunnel { protocol, payload } => walk
            .ip_tunnel(protocol, payload)
            .and_then(|next| walk_down(walk, ctx.classifier, next)),
        Transport::Fragment(_) | Transport::Other(_) => Ok(Reached::NotUdp),
    });
    match reached {
        Ok(Reached::Udp(dg)) => classify(ctx, Meta::new(ts_ns, &dg, true), dg.segment),
        Ok(Reached::Fragment { .. }) => {
            ctx.stats.fragmented_twice += 1;
            None
        }
        Ok(Reached::NotUdp) => {
            ctx.stats.not_udp += 1;
            None
        }
        Err(_) => {
            count_broken(ctx.stats, walk);
            None
        }
    }
}

/// A header that could not be read: too many encapsulations, or malformed.
fn count_broken(stats: &mut FrameStats, walk: &Walk) {
    if walk.too_deep() {
        stats.encap_too_deep += 1;
    } else {
        stats.malformed += 1;
    }
}

fn count_encapsulations(stats: &mut FrameStats, walk: &Walk) {
    if walk.tunnelled() {
        stats.tunnelled += 1;
        walk.seen()
            .for_each(|e| stats.encapsulations[e.index()] += 1);
    }
}

fn classify<'a>(ctx: Ctx<'_>, m: Meta, segment: &'a [u8]) -> Option<Captured<'a>> {
    let Ctx {
        classifier,
        guard,
        stats,
    } = ctx;
    let Ok(d) = udp::Datagram::parse(segment) else {
        stats.malformed += 1;
        return None;
    };
    if guard.is_own(SocketAddr::new(m.src, d.src_port)) {
        stats.own_traffic += 1;
        return None;
    }
    let src = SocketAddr::new(m.src, d.src_port);
    let class = accept(stats, classifier, src, d.dst_port, d.payload)?;
    Some(Captured {
        class,
        ts_ns: m.ts_ns,
        src,
        dst: SocketAddr::new(m.dst, d.dst_port),
        payload: d.payload,
        reassembled: m.reassembled,
    })
}

/// Classifies and counts: a confirmed datagram, or a mismatched one the classifier lets through flagged, is
/// `captured` under its kind.
fn accept(
    stats: &mut FrameStats,
    classifier: &Classifier,
    src: SocketAddr,
    dst_port: u16,
    payload: &[u8],
) -> Option<Class> {
    let class = match classifier.classify(dst_port, payload) {
        Verdict::Classified(c) => c,
        Verdict::Unwatched => {
            stats.unwatched += 1;
            return None;
        }
        Verdict::Mismatch(m) => {
            stats.mismatched += 1;
            stats.refused.add(m);
            stats.last_mismatch = Some((m, src));
            if !classifier.relays_mismatched() {
                stats.mismatched_dropped += 1;
                return None;
            }
            m.class()
        }
    };
    stats.captured[class.kind.index()] += 1;
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defrag::DefragConfig;
    use wire::classify::Refusal;

    fn eth_ipv4_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let udp_len = 8 + payload.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    fn decoder() -> FrameParser {
        FrameParser::new(
            Classifier::default(),
            DefragConfig::default(),
            LoopGuard::new(vec![51400], vec!["192.0.2.1".parse().unwrap()]),
        )
    }

    #[test]
    fn classifies_and_counts() {
        let mut d = decoder();
        let f = eth_ipv4_udp(40000, 514, b"<13>hello");
        let c = d.frame(LinkType::ETHERNET, 5, &f).unwrap();
        assert_eq!(
            (c.class.kind, c.payload, c.src.port()),
            (Kind::Syslog, &b"<13>hello"[..], 40000)
        );
        let junk_frame = eth_ipv4_udp(1, 514, b"junk");
        let junk = d.frame(LinkType::ETHERNET, 5, &junk_frame).unwrap().class;
        assert_eq!(
            (junk.kind, junk.variant, junk.flags),
            (Kind::Syslog, 0, wire::classify::FLAG_MISMATCHED),
            "published flagged under the port's kind"
        );
        assert!(d
            .frame(LinkType::ETHERNET, 5, &eth_ipv4_udp(1, 53, b"<13>x"))
            .is_none());
        assert!(d
            .frame(LinkType::ETHERNET, 5, &eth_ipv4_udp(51400, 514, b"<13>x"))
            .is_none());
        assert!(d.frame(LinkType::ETHERNET, 5, &f[..30]).is_none());
        let s = d.stats();
        assert_eq!(
            (
                s.captured_total(),
                s.mismatched,
                s.mismatched_dropped,
                s.unwatched,
                s.own_traffic,
                s.malformed
            ),
            (2, 1, 0, 1, 1, 1)
        );
        assert_eq!(s.refused.get(Kind::Syslog, Refusal::NoPri), 1);
        let (m, from) = s.last_mismatch.unwrap();
        assert_eq!((m.reason, from.port()), (Refusal::NoPri, 1));
    }

    #[test]
    fn strict_classification_drops_and_counts_mismatched() {
        let mut classifier = Classifier::default();
        classifier.set_relay_mismatched(false);
        let guard = LoopGuard::new(Vec::new(), Vec::new());
        let mut d = FrameParser::new(classifier, DefragConfig::default(), guard);
        let v5_count_lies = [
            0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(d
            .frame(
                LinkType::ETHERNET,
                5,
                &eth_ipv4_udp(1, 2055, &v5_count_lies)
            )
            .is_none());
        let s = d.stats();
        assert_eq!(
            (s.captured_total(), s.mismatched, s.mismatched_dropped),
            (0, 1, 1)
        );
        assert_eq!(s.refused.get(Kind::NetflowV5, Refusal::V5Count), 1);
    }

    #[test]
    fn reassembles_fragmented_udp() {
        let payload: Vec<u8> = std::iter::once(b'<')
            .chain(*b"13>")
            .chain((0..2992).map(|i| b'a' + (i % 26) as u8))
            .collect();
        let whole = eth_ipv4_udp(40000, 514, &payload);
        let seg = &whole[34..]; // UDP header + payload
        let mut d = decoder();
        let mut out = None;
        for (i, chunk) in seg.chunks(1480).enumerate().rev() {
            let more = (i + 1) * 1480 < seg.len();
            let mut f = whole[..34].to_vec();
            f.extend_from_slice(chunk);
            let total = (20 + chunk.len()) as u16;
            f[16..18].copy_from_slice(&total.to_be_bytes());
            let frag = ((i * 1480 / 8) as u16) | if more { 0x2000 } else { 0 };
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            if let Some(c) = d.frame(LinkType::ETHERNET, 1, &f) {
                out = Some((c.payload.to_vec(), c.reassembled));
            }
        }
        assert_eq!(out, Some((payload, true)));
        assert_eq!(d.stats().defrag.reassembled, 1);
    }

    #[test]
    fn udp_listener_datagrams() {
        let mut d = decoder();
        let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let dst: SocketAddr = "127.0.0.1:2055".parse().unwrap();
        let c = d.datagram(0, src, dst, b"<13>x").unwrap();
        assert_eq!(
            (c.class.kind, c.class.flags),
            (Kind::NetflowV9, wire::classify::FLAG_MISMATCHED)
        );
        assert_eq!(
            d.stats()
                .refused
                .get(Kind::NetflowV9, Refusal::UnknownVersion),
            1
        );
        let guard: SocketAddr = "127.0.0.1:51400".parse().unwrap();
        let syslog: SocketAddr = "127.0.0.1:514".parse().unwrap();
        assert!(
            d.datagram(0, guard, syslog, b"<13>x").is_none(),
            "a forwarder's own output is never published"
        );
        assert_eq!(d.stats().own_traffic, 1);
        let mapped: SocketAddr = "[::ffff:192.0.2.9]:999".parse().unwrap();
        let c = d.datagram(0, mapped, syslog, b"<13>x").unwrap();
        assert_eq!(c.src, "192.0.2.9:999".parse::<SocketAddr>().unwrap());
        let wildcard: SocketAddr = "[::]:514".parse().unwrap();
        let c = d.datagram(0, mapped, wildcard, b"<13>x").unwrap();
        assert_eq!(c.dst, "0.0.0.0:514".parse::<SocketAddr>().unwrap());
    }

    /// Random and mutated frames on every link type: never a panic, and reassembly stays within its caps.
    #[test]
    fn hostile_frames_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let cfg = DefragConfig {
            max_bytes: 64 * 1024,
            max_datagrams: 64,
            timeout_ns: 1_000_000,
        };
        let mut d = FrameParser::new(Classifier::default(), cfg, LoopGuard::default());
        let template = eth_ipv4_udp(40000, 514, b"<13>hello world");
        let links = [
            LinkType::ETHERNET,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType::NULL,
            LinkType::RAW,
        ];
        for i in 0..200_000u64 {
            let r = next();
            let mut f = if r % 3 == 0 {
                (0..(r >> 8) % 200)
                    .map(|_| next() as u8)
                    .collect::<Vec<u8>>()
            } else {
                template.clone()
            };
            for _ in 0..(r >> 16) % 6 {
                if !f.is_empty() {
                    let at = (next() as usize) % f.len();
                    f[at] = next() as u8;
                }
            }
            if r % 7 == 0 {
                f.truncate((next() as usize) % (f.len() + 1));
            }
            let _ = d.frame(links[(r >> 32) as usize % links.len()], i * 1000, &f);
            assert!(d.stats().defrag.held_bytes <= 64 * 1024);
        }
        assert!(d.stats().defrag.peak_bytes <= 64 * 1024);
        assert_eq!(d.stats().frames, 200_000);
    }

    mod tunnels {
        use super::*;
        use std::net::Ipv6Addr;
        use wire::kind::Family;

        const EXPORTER: [u8; 4] = [198, 51, 100, 7];
        const COLLECTOR: [u8; 4] = [198, 51, 100, 9];
        const OUTER_A: [u8; 4] = [203, 0, 113, 1];
        const OUTER_B: [u8; 4] = [203, 0, 113, 2];
        const MSG: &[u8] = b"<34>Dec  7 10:00:00 edge1 sshd[42]: tunnelled";

        fn v6(last: u16) -> Ipv6Addr {
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
        }

        fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
            let len = (8 + payload.len()) as u16;
            [
                &sport.to_be_bytes()[..],
                &dport.to_be_bytes(),
                &len.to_be_bytes(),
                &[0, 0],
                payload,
            ]
            .concat()
        }

        fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
            let mut p = vec![0x45, 0, 0, 0, 0x43, 0x21, 0, 0, 64, proto, 0, 0];
            p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
            p[6..8].copy_from_slice(&frag.to_be_bytes());
            p.extend_from_slice(&src);
            p.extend_from_slice(&dst);
            p.extend_from_slice(payload);
            p
        }

        fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[next, 64]);
            p.extend_from_slice(&src.octets());
            p.extend_from_slice(&dst.octets());
            p.extend_from_slice(payload);
            p
        }

        fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
            let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
            f.extend_from_slice(&ethertype.to_be_bytes());
            f.extend_from_slice(payload);
            f
        }

        /// The syslog datagram from the exporter to the collector, as an IPv4 packet.
        fn inner_v4() -> Vec<u8> {
            ipv4(EXPORTER, COLLECTOR, 17, 0, &udp(40000, 514, MSG))
        }

        fn inner_v6() -> Vec<u8> {
            ipv6(v6(7), v6(9), 17, &udp(40000, 514, MSG))
        }

        fn outer_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
            eth(0x0800, &ipv4(OUTER_A, OUTER_B, proto, 0, payload))
        }

        fn gre(flags: u16, protocol: u16, options: usize, payload: &[u8]) -> Vec<u8> {
            let mut g = [flags.to_be_bytes(), protocol.to_be_bytes()].concat();
            g.extend((0..options * 4).map(|i| i as u8));
            g.extend_from_slice(payload);
            g
        }

        fn pppoe(ppp: u16, payload: &[u8]) -> Vec<u8> {
            let len = (2 + payload.len()) as u16;
            [
                &[0x11, 0, 0x00, 0x2a][..],
                &len.to_be_bytes(),
                &ppp.to_be_bytes(),
                payload,
            ]
            .concat()
        }

        fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
            let mut m: Vec<u8> = labels
                .iter()
                .enumerate()
                .flat_map(|(i, l)| {
                    let bottom = if i + 1 == labels.len() { 0x100 } else { 0 };
                    (l << 12 | bottom | 255).to_be_bytes()
                })
                .collect();
            m.extend_from_slice(payload);
            m
        }

        fn vxlan(payload: &[u8]) -> Vec<u8> {
            [&[0x08, 0, 0, 0, 0, 0x12, 0x34, 0][..], payload].concat()
        }

        /// Every encapsulation: a name, the frame, the inner addresses, the counters it must bump.
        fn cases() -> Vec<(&'static str, Vec<u8>, bool, Vec<Encap>)> {
            let (v4, v6p) = (inner_v4(), inner_v6());
            let inner_eth = eth(0x0800, &v4);
            let erspan2 = [&[0x10, 0x64, 0, 5, 0, 0, 0, 1][..], &inner_eth].concat();
            let erspan3 = [
                &[0x20, 0x64, 0, 5, 0, 0, 0, 9, 0, 0, 0, 1][..],
                &[0; 8],
                &inner_eth,
            ]
            .concat();
            vec![
                (
                    "pppoe-v4",
                    eth(0x8864, &pppoe(0x0021, &v4)),
                    false,
                    vec![Encap::Pppoe],
                ),
                (
                    "pppoe-v6",
                    eth(0x8864, &pppoe(0x0057, &v6p)),
                    true,
                    vec![Encap::Pppoe],
                ),
                (
                    "mpls",
                    eth(0x8847, &mpls(&[16, 17], &v4)),
                    false,
                    vec![Encap::Mpls],
                ),
                (
                    "mpls-pw",
                    eth(0x8847, &mpls(&[18], &[&[0; 4][..], &inner_eth].concat())),
                    false,
                    vec![Encap::Mpls],
                ),
                ("ipip", outer_v4(4, &v4), false, vec![Encap::Ipv4InIp]),
                ("6in4", outer_v4(41, &v6p), true, vec![Encap::Ipv6InIp]),
                (
                    "4in6",
                    eth(0x86dd, &ipv6(v6(1), v6(2), 4, &v4)),
                    false,
                    vec![Encap::Ipv4InIp],
                ),
                (
                    "gre",
                    outer_v4(47, &gre(0x2000, 0x0800, 1, &v4)),
                    false,
                    vec![Encap::Gre],
                ),
                (
                    "gre-teb",
                    outer_v4(47, &gre(0xb000, 0x6558, 3, &inner_eth)),
                    false,
                    vec![Encap::Gre],
                ),
                (
                    "erspan2",
                    outer_v4(47, &gre(0x1000, 0x88be, 1, &erspan2)),
                    false,
                    vec![Encap::Gre, Encap::Erspan2],
                ),
                (
                    "erspan3",
                    outer_v4(47, &gre(0x1000, 0x22eb, 1, &erspan3)),
                    false,
                    vec![Encap::Gre, Encap::Erspan3],
                ),
                (
                    "vxlan",
                    outer_v4(17, &udp(51000, 4789, &vxlan(&inner_eth))),
                    false,
                    vec![Encap::Vxlan],
                ),
                (
                    "vxlan-pppoe-mpls",
                    outer_v4(
                        17,
                        &udp(51000, 4789, &vxlan(&eth(0x8847, &mpls(&[20], &v4)))),
                    ),
                    false,
                    vec![Encap::Mpls, Encap::Vxlan],
                ),
            ]
        }

        #[test]
        fn every_encapsulation_publishes_the_inner_datagram() {
            for (name, frame, is_v6, kinds) in cases() {
                let mut d = decoder();
                let Some(c) = d.frame(LinkType::ETHERNET, 7, &frame) else {
                    panic!("{name}: {:?}", d.stats());
                };
                let (src, dst): (IpAddr, IpAddr) = if is_v6 {
                    (v6(7).into(), v6(9).into())
                } else {
                    (EXPORTER.into(), COLLECTOR.into())
                };
                assert_eq!(c.class.kind, Kind::Syslog, "{name}");
                assert_eq!(c.payload, MSG, "{name}");
                assert_eq!(
                    (c.src, c.dst),
                    ((src, 40000).into(), (dst, 514).into()),
                    "{name}"
                );
                assert!(!c.reassembled);
                let s = d.stats();
                assert_eq!(s.tunnelled, 1, "{name}");
                for e in Encap::ALL {
                    let want = u64::from(kinds.contains(&e));
                    assert_eq!(s.encapsulations[e.index()], want, "{name} {}", e.name());
                }
            }
        }

        #[test]
        fn truncated_encapsulations_are_malformed_never_published() {
            for (name, frame, _, _) in cases() {
                let mut d = decoder();
                // Cut inside the headers: every length from the outer Ethernet header to the inner UDP header.
                for len in 14..frame.len() - MSG.len() {
                    assert!(
                        d.frame(LinkType::ETHERNET, 1, &frame[..len]).is_none(),
                        "{name} {len}"
                    );
                }
                let s = d.stats();
                assert_eq!(s.captured_total(), 0);
                assert_eq!(s.malformed + s.not_udp, s.frames, "{name}: {s:?}");
                assert!(s.malformed > 0, "{name}");
            }
        }

        #[test]
        fn plain_frames_count_no_tunnel() {
            let mut d = decoder();
            assert!(d
                .frame(LinkType::ETHERNET, 1, &eth(0x0800, &inner_v4()))
                .is_some());
            assert_eq!(
                (d.stats().tunnelled, d.stats().encapsulations),
                (0, [0; Encap::COUNT])
            );
        }

        #[test]
        fn vxlan_port_watched_for_telemetry_keeps_its_meaning() {
            let mut c = Classifier::default();
            c.set(4789, Family::Syslog);
            let mut d = FrameParser::new(c, DefragConfig::default(), LoopGuard::default());
            let frame = outer_v4(17, &udp(51000, 4789, &vxlan(&eth(0x0800, &inner_v4()))));
            let c = d.frame(LinkType::ETHERNET, 1, &frame).unwrap();
            assert_eq!(
                c.class.flags,
                wire::classify::FLAG_MISMATCHED,
                "published flagged under the port's kind"
            );
            let s = d.stats();
            assert_eq!(
                (s.mismatched, s.tunnelled),
                (1, 0),
                "read as syslog to 4789, not as VXLAN"
            );
            let not_vxlan = outer_v4(17, &udp(51000, 4789, &[0, 0, 0, 0, 0, 0, 0, 0, 1]));
            let mut d = decoder();
            assert!(d.frame(LinkType::ETHERNET, 1, &not_vxlan).is_none());
            assert_eq!(
                (
                    d.stats().malformed,
                    d.stats().encapsulations[Encap::Vxlan.index()]
                ),
                (1, 1)
            );
        }

        #[test]
        fn nesting_deeper_than_the_bound_is_counted() {
            let nest = |depth: usize| {
                let mut p = inner_v4();
                for _ in 0..depth {
                    p = ipv4(OUTER_A, OUTER_B, 4, 0, &p);
                }
                eth(0x0800, &p)
            };
            let mut d = decoder();
            let max = usize::from(wire::encap::MAX_DEPTH);
            assert!(d.frame(LinkType::ETHERNET, 1, &nest(max)).is_some());
            assert!(d.frame(LinkType::ETHERNET, 1, &nest(max + 1)).is_none());
            let s = d.stats();
            assert_eq!((s.encap_too_deep, s.malformed, s.tunnelled), (1, 0, 2));
            assert_eq!(s.encapsulations[Encap::Ipv4InIp.index()], 2);
        }

        /// Splits an IPv4 packet's payload into fragments of `chunk` bytes (a multiple of 8).
        fn fragments(
            src: [u8; 4],
            dst: [u8; 4],
            proto: u8,
            payload: &[u8],
            chunk: usize,
        ) -> Vec<Vec<u8>> {
            payload
                .chunks(chunk)
                .enumerate()
                .map(|(i, piece)| {
                    let more = (i + 1) * chunk < payload.len();
                    let frag = (i * chunk / 8) as u16 | if more { 0x2000 } else { 0 };
                    ipv4(src, dst, proto, frag, piece)
                })
                .collect()
        }

        #[test]
        fn fragmented_outer_tunnel_packet_is_reassembled() {
            let gre_payload = gre(0, 0x0800, 0, &inner_v4());
            let mut d = decoder();
            let mut got = Vec::new();
            for f in fragments(OUTER_A, OUTER_B, 47, &gre_payload, 24)
                .iter()
                .rev()
            {
                if let Some(c) = d.frame(LinkType::ETHERNET, 1, &eth(0x0800, f)) {
                    got.push((c.src, c.payload.to_vec(), c.reassembled));
                }
            }
            assert_eq!(got, [((EXPORTER, 40000).into(), MSG.to_vec(), true)]);
            let s = d.stats();
            assert_eq!(
                (s.defrag.reassembled, s.encapsulations[Encap::Gre.index()]),
                (1, 1)
            );
        }

        #[test]
        fn fragmented_inner_packet_is_reassembled_by_its_own_addresses() {
            let inner = udp(40000, 514, MSG);
            let mut d = decoder();
            let mut got = Vec::new();
            let pieces = fragments(EXPORTER, COLLECTOR, 17, &inner, 16);
            for f in &pieces {
                let frame = outer_v4(47, &gre(0, 0x0800, 0, f));
                if let Some(c) = d.frame(LinkType::ETHERNET, 1, &frame) {
                    got.push((c.src, c.dst, c.payload.to_vec(), c.reassembled));
                }
            }
            assert_eq!(
                got,
                [(
                    (EXPORTER, 40000).into(),
                    (COLLECTOR, 514).into(),
                    MSG.to_vec(),
                    true
                )]
            );
            assert_eq!(d.stats().tunnelled, pieces.len() as u64);
        }

        #[test]
        fn fragment_inside_a_reassembled_tunnel_packet_is_counted() {
            let inner_first =
                fragments(EXPORTER, COLLECTOR, 17, &udp(40000, 514, MSG), 16).remove(0);
            let outer = gre(0, 0x0800, 0, &inner_first);
            let mut d = decoder();
            for f in fragments(OUTER_A, OUTER_B, 47, &outer, 24) {
                assert!(d.frame(LinkType::ETHERNET, 1, &eth(0x0800, &f)).is_none());
            }
            let s = d.stats();
            assert_eq!((s.defrag.reassembled, s.fragmented_twice), (1, 1));
        }

        /// Every encapsulation, mutated and cut at random: never a panic, never a payload past the frame.
        #[test]
        fn hostile_tunnelled_frames_never_panic() {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let templates: Vec<Vec<u8>> = cases().into_iter().map(|(_, f, _, _)| f).collect();
            let mut d = decoder();
            let mut published = 0;
            for i in 0..100_000u64 {
                let r = next();
                let mut f = templates[r as usize % templates.len()].clone();
                for _ in 0..(r >> 16) % 4 {
                    let at = (next() as usize) % f.len();
                    f[at] = next() as u8;
                }
                if r % 5 == 0 {
                    f.truncate((next() as usize) % (f.len() + 1));
                }
                if let Some(c) = d.frame(LinkType::ETHERNET, i, &f) {
                    assert!(c.payload.len() < f.len());
                    published += 1;
                }
            }
            let s = d.stats();
            assert_eq!(s.frames, 100_000);
            assert!(published > 0 && s.malformed > 0 && s.tunnelled > 0);
        }
    }
}
