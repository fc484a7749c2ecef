//! From a captured frame to a classified datagram: link header, IP, reassembly, UDP, classification.
//! Everything that is not published is counted here with its reason.

use std::net::{IpAddr, SocketAddr};

use wire::classify::{Class, Classifier, Mismatch, RefusalCounts, Verdict};
use wire::ip::{self, Transport, PROTO_UDP};
use wire::kind::Kind;
use wire::link::{self, LinkType};
use wire::udp;

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
        let packet = match link::network_layer(link, frame) {
            Ok(Some(p)) => p,
            Ok(None) => return self.count(|s| s.not_udp += 1),
            Err(_) => return self.count(|s| s.malformed += 1),
        };
        let Ok(ip) = ip::parse(packet) else {
            return self.count(|s| s.malformed += 1);
        };
        match ip.transport {
            Transport::Udp(segment) => self.segment(ts_ns, ip.src, ip.dst, segment, false),
            Transport::Other(_) => self.count(|s| s.not_udp += 1),
            Transport::Fragment(f) => {
                let ctx = Ctx {
                    classifier: &self.classifier,
                    guard: &self.guard,
                    stats: &mut self.stats,
                };
                fragment(&mut self.defrag, ctx, ts_ns, (ip.src, ip.dst), &f)
            }
        }
    }

    fn segment<'a>(
        &'a mut self,
        ts_ns: u64,
        src: IpAddr,
        dst: IpAddr,
        seg: &'a [u8],
        re: bool,
    ) -> Option<Captured<'a>> {
        let meta = Meta {
            ts_ns,
            src,
            dst,
            reassembled: re,
        };
        let ctx = Ctx {
            classifier: &self.classifier,
            guard: &self.guard,
            stats: &mut self.stats,
        };
        classify(ctx, meta, seg)
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

    fn count<T>(&mut self, f: impl FnOnce(&mut FrameStats)) -> Option<T> {
        f(&mut self.stats);
        None
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

/// What classification needs from the decoder, borrowed apart from the reassembler.
struct Ctx<'d> {
    classifier: &'d Classifier,
    guard: &'d LoopGuard,
    stats: &'d mut FrameStats,
}

/// Feeds a fragment to the reassembler; classifies the datagram once it is whole.
fn fragment<'a>(
    defrag: &'a mut Reassembler,
    ctx: Ctx<'_>,
    ts_ns: u64,
    (src, dst): (IpAddr, IpAddr),
    f: &ip::Fragment<'_>,
) -> Option<Captured<'a>> {
    let Reassembly::Complete { protocol, payload } = defrag.push(ts_ns, src, dst, f) else {
        return None;
    };
    let transport = if src.is_ipv4() {
        Ok(if protocol == PROTO_UDP {
            Transport::Udp(payload)
        } else {
            Transport::Other(protocol)
        })
    } else {
        ip::upper_layer_at(payload, protocol, 0)
    };
    match transport {
        Ok(Transport::Udp(seg)) => classify(
            ctx,
            Meta {
                ts_ns,
                src,
                dst,
                reassembled: true,
            },
            seg,
        ),
        Ok(_) => {
            ctx.stats.not_udp += 1;
            None
        }
        Err(_) => {
            ctx.stats.malformed += 1;
            None
        }
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
}
