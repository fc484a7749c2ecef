//! Spoofed UDP (`udp://HOST:PORT?spoof`): every datagram leaves with its original exporter's source address
//! and port, so a collector that keys on the exporter (NetFlow template scopes, syslog hosts, SNMP agents)
//! sees the exporter and not the forwarder.
//!
//! One raw socket per destination (`IPPROTO_RAW`, which implies IP_HDRINCL / IPV6_HDRINCL: the IP header is
//! ours), connected to the destination so that a batch leaves in one sendmmsg(2). [`Builder`] writes the IP
//! header, the UDP header with its checksum over the spoofed pseudo-header and, when the packet would exceed
//! the path MTU, the fragments: the kernel does not fragment what a raw socket hands it.
//!
//! - Path MTU: `IP_MTU` / `IPV6_MTU` of a UDP socket connected to the destination, read at open, every
//!   [`MTU_REFRESH`] and after EMSGSIZE (the probe is reconnected first, so the route is looked up afresh).
//!   ICMP "packet too big" answers go to the spoofed exporter, not to us: the kernel learns a lower path MTU
//!   only from other traffic. IPv4 packets therefore leave with DF clear (routers may cut them further);
//!   IPv6 never goes below 1280, the minimum every IPv6 link carries.
//! - Fragment ids: one per datagram from a counter that starts at a random value; its low 16 bits (the IPv4
//!   id) are never 0, because the kernel replaces an IPv4 id of 0 with its own choice — per fragment.
//! - Counting is per datagram: `forwarded` once its last fragment is sent; a datagram whose fragments were
//!   cut short counts once, under the reason that cut it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};
use udpio::{path_mtu, send_batch, Family, SendOutcome};

use crate::SinkStats;

/// How long a full socket buffer may hold up this destination before its batch is dropped (counted).
const FULL_GRACE_MS: u8 = 5;
/// Asked for with SO_SNDBUFFORCE (CAP_NET_ADMIN); without it the kernel caps SO_SNDBUF at `wmem_max`.
const SNDBUF: usize = 16 << 20;
/// How often the path MTU is read again.
pub const MTU_REFRESH: Duration = Duration::from_secs(30);

const PROTO_UDP: u8 = 17;
const PROTO_FRAGMENT: u8 = 44;
const HOP_LIMIT: u8 = 64;
/// Fragment offsets count 8-byte units.
const FRAGMENT_UNIT: usize = 8;

const UDP_HEADER: usize = 8;
const UDP_SRC_PORT: usize = 0;
const UDP_DST_PORT: usize = 2;
const UDP_LENGTH: usize = 4;
const UDP_CHECKSUM: usize = 6;
const UDP_MAX_LEN: usize = 65535;

const V4_HEADER: usize = 20;
const V4_VERSION_IHL: u8 = 0x45;
const V4_TOTAL_LEN: usize = 2;
const V4_ID: usize = 4;
const V4_FRAG: usize = 6;
const V4_TTL: usize = 8;
const V4_PROTO: usize = 9;
const V4_CHECKSUM: usize = 10;
const V4_SRC: usize = 12;
const V4_DST: usize = 16;
const V4_MORE_FRAGMENTS: u16 = 0x2000;
const V4_MAX_PACKET: usize = 65535;
/// RFC 791: every IPv4 module forwards 68-byte packets without further fragmentation.
const V4_MIN_MTU: usize = 68;

const V6_HEADER: usize = 40;
const V6_VERSION: u8 = 0x60;
const V6_PAYLOAD_LEN: usize = 4;
const V6_NEXT: usize = 6;
const V6_HOP_LIMIT: usize = 7;
const V6_SRC: usize = 8;
const V6_DST: usize = 24;
const V6_FRAG_HEADER: usize = 8;
const V6_FRAG_NEXT: usize = 0;
const V6_FRAG_OFFSET: usize = 2;
const V6_FRAG_ID: usize = 4;
const V6_MORE_FRAGMENTS: u16 = 1;
/// RFC 8200: every IPv6 link carries 1280-byte packets.
const V6_MIN_MTU: usize = 1280;

#[derive(Debug, thiserror::Error)]
pub enum SpoofError {
    #[error("spoofing needs CAP_NET_RAW (run as root or grant the capability)")]
    NoCapability,
    #[error("spoofing socket: {0}")]
    Io(#[from] io::Error),
}

/// A spoofing sink for one destination.
pub struct SpoofSink {
    raw: Socket,
    /// A UDP socket connected to the destination, only for asking the kernel about the path MTU.
    probe: UdpSocket,
    family: Family,
    path_mtu: usize,
    mtu_cap: usize,
    mtu_read_at: Instant,
    builder: Builder,
    stats: SinkStats,
}

impl SpoofSink {
    /// Opens a raw socket towards `dest` and reads the path MTU. Fails with [`SpoofError::NoCapability`]
    /// without CAP_NET_RAW.
    pub fn open(dest: SocketAddr) -> Result<Self, SpoofError> {
        let raw = Socket::new(
            Domain::for_address(dest),
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )
        .map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => SpoofError::NoCapability,
            _ => SpoofError::Io(e),
        })?;
        grow_send_buffer(&raw);
        raw.connect(&dest.into())?;
        raw.set_nonblocking(true)?;
        let family = if dest.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        };
        let probe = mtu_probe(dest)?;
        let path_mtu = path_mtu(probe.as_fd(), family)?;
        let mut sink = Self {
            raw,
            probe,
            family,
            path_mtu,
            mtu_cap: usize::MAX,
            mtu_read_at: Instant::now(),
            builder: Builder::new(dest, 0),
            stats: SinkStats::default(),
        };
        sink.apply_mtu();
        Ok(sink)
    }

    pub fn stats(&self) -> SinkStats {
        self.stats
    }

    /// The largest IP packet this sink builds: the path MTU, lowered to the cap, raised to the family's
    /// minimum (68 for IPv4, 1280 for IPv6).
    pub fn mtu(&self) -> usize {
        self.builder.mtu
    }

    /// Never builds packets larger than `cap` bytes, even where the path MTU is larger (a tunnel further on
    /// the kernel does not know about, or a test on loopback).
    pub fn set_mtu_cap(&mut self, cap: usize) {
        self.mtu_cap = cap;
        self.apply_mtu();
    }

    /// Sends every `(original source, payload)` pair from that source, byte-exact. Never blocks for longer
    /// than the grace period; whatever cannot be sent is counted with its reason.
    pub fn send(&mut self, batch: &[(SocketAddr, &[u8])]) {
        if self.mtu_read_at.elapsed() >= MTU_REFRESH {
            self.refresh_mtu();
        }
        self.builder.build_batch(batch, &mut self.stats);
        let msgs = self.builder.packets.slices();
        let ctx = Transmit {
            socket: &self.raw,
            spans: &self.builder.packets.spans,
            msgs: &msgs,
        };
        let too_big = ctx.run(&mut self.stats);
        if too_big {
            self.refresh_mtu();
        }
    }

    /// Reads the path MTU again (after reconnecting the probe, so the route is looked up afresh). On error
    /// the last value stays.
    fn refresh_mtu(&mut self) {
        self.mtu_read_at = Instant::now();
        let dest = self.builder.dest;
        let read = self
            .probe
            .connect(dest)
            .and_then(|()| path_mtu(self.probe.as_fd(), self.family));
        if let Ok(mtu) = read {
            self.path_mtu = mtu;
            self.apply_mtu();
        }
    }

    fn apply_mtu(&mut self) {
        self.builder.mtu = usable_mtu(self.path_mtu.min(self.mtu_cap), self.family);
    }
}

/// The MTU fragments are cut for: at least the family's minimum, and an IPv4 packet fits its length field.
fn usable_mtu(mtu: usize, family: Family) -> usize {
    match family {
        Family::V4 => mtu.clamp(V4_MIN_MTU, V4_MAX_PACKET),
        Family::V6 => mtu.max(V6_MIN_MTU),
    }
}

fn grow_send_buffer(socket: &Socket) {
    if setsockopt(socket, sockopt::SndBufForce, &SNDBUF).is_err() {
        let _ = socket.set_send_buffer_size(SNDBUF);
    }
}

fn mtu_probe(dest: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = if dest.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let probe = UdpSocket::bind(SocketAddr::new(any, 0))?;
    probe.connect(dest)?;
    Ok(probe)
}

/// One batch on its way out: the packets, and which of them end a datagram.
struct Transmit<'a> {
    socket: &'a Socket,
    spans: &'a [Span],
    msgs: &'a [&'a [u8]],
}

impl Transmit<'_> {
    /// Sends every packet, counting datagrams into `stats`. Returns whether the kernel answered EMSGSIZE.
    fn run(&self, stats: &mut SinkStats) -> bool {
        let (mut at, mut waited, mut too_big) = (0, false, false);
        while at < self.msgs.len() {
            match send_batch(self.socket.as_fd(), &self.msgs[at..]) {
                SendOutcome::Sent(n) => {
                    stats.forwarded += self.datagrams_ending_in(at..at + n);
                    at += n;
                }
                SendOutcome::WouldBlock if !waited => {
                    waited = true;
                    self.wait_writable();
                }
                SendOutcome::WouldBlock => {
                    stats.dropped_full += self.datagrams_ending_in(at..self.msgs.len());
                    return too_big;
                }
                SendOutcome::Failed(e) => {
                    too_big |= e.raw_os_error() == Some(libc::EMSGSIZE);
                    count_failure(&e, stats);
                    at = self.after_datagram(at);
                }
            }
        }
        too_big
    }

    fn datagrams_ending_in(&self, packets: Range<usize>) -> u64 {
        self.spans[packets].iter().filter(|s| s.last).count() as u64
    }

    /// The first packet of the datagram after the one packet `at` belongs to (its remaining fragments are
    /// useless once one is lost).
    fn after_datagram(&self, at: usize) -> usize {
        let rest = self.spans.get(at..).unwrap_or_default();
        rest.iter()
            .position(|s| s.last)
            .map_or(self.spans.len(), |p| at + p + 1)
    }

    fn wait_writable(&self) {
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLOUT)];
        let _ = poll(&mut fds, PollTimeout::from(FULL_GRACE_MS));
    }
}

fn count_failure(e: &io::Error, stats: &mut SinkStats) {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        stats.refused += 1;
    } else {
        stats.failed += 1;
    }
}

/// Why a datagram cannot be spoofed to this destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsendable {
    /// The source is IPv6 and the destination IPv4, or the other way round.
    WrongFamily,
    /// More than a UDP datagram of this family can carry.
    TooLarge,
}

/// Where one built packet lies in [`Packets::bytes`], and whether it is its datagram's last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    last: bool,
}

/// The packets of one batch, back to back in one reused buffer.
#[derive(Debug, Default)]
struct Packets {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

impl Packets {
    fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Records the bytes written since `start` as one packet.
    fn close(&mut self, start: usize, last: bool) {
        let end = self.bytes.len();
        self.spans.push(Span { start, end, last });
    }

    fn slices(&self) -> Vec<&[u8]> {
        self.spans
            .iter()
            .map(|s| &self.bytes[s.start..s.end])
            .collect()
    }
}

/// Turns `(source, payload)` pairs into raw IP packets for one destination. Pure: no I/O.
#[derive(Debug)]
pub(crate) struct Builder {
    dest: SocketAddr,
    mtu: usize,
    next_id: u32,
    packets: Packets,
}

impl Builder {
    fn new(dest: SocketAddr, mtu: usize) -> Self {
        Self {
            dest,
            mtu,
            next_id: RandomState::new().build_hasher().finish() as u32,
            packets: Packets::default(),
        }
    }

    /// Replaces the packets with those of `batch`; counts what cannot be built into `stats`.
    fn build_batch(&mut self, batch: &[(SocketAddr, &[u8])], stats: &mut SinkStats) {
        self.packets.clear();
        for &(src, payload) in batch {
            match self.build(src, payload) {
                Ok(()) => {}
                Err(Unsendable::WrongFamily) => stats.wrong_family += 1,
                Err(Unsendable::TooLarge) => stats.failed += 1,
            }
        }
    }

    fn build(&mut self, src: SocketAddr, payload: &[u8]) -> Result<(), Unsendable> {
        let ends = Ends {
            src_port: src.port(),
            dst_port: self.dest.port(),
        };
        let id = self.take_id();
        match (src.ip().to_canonical(), self.dest.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let seg = Segment::new(ends, pseudo_sum(&s.octets(), &d.octets()), payload)?;
                emit_v4(
                    V4Ends { src: s, dst: d },
                    &seg,
                    id as u16,
                    self.mtu,
                    &mut self.packets,
                )
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let seg = Segment::new(ends, pseudo_sum(&s.octets(), &d.octets()), payload)?;
                emit_v6(
                    V6Ends { src: s, dst: d },
                    &seg,
                    id,
                    self.mtu,
                    &mut self.packets,
                )
            }
            _ => Err(Unsendable::WrongFamily),
        }
    }

    /// The next datagram id; its low 16 bits are never 0.
    fn take_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        if self.next_id as u16 == 0 {
            self.next_id = self.next_id.wrapping_add(1);
        }
        self.next_id
    }
}

#[derive(Debug, Clone, Copy)]
struct Ends {
    src_port: u16,
    dst_port: u16,
}

#[derive(Debug, Clone, Copy)]
struct V4Ends {
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

#[derive(Debug, Clone, Copy)]
struct V6Ends {
    src: Ipv6Addr,
    dst: Ipv6Addr,
}

/// A UDP datagram as its header and the caller's payload, without copying the payload.
struct Segment<'a> {
    header: [u8; UDP_HEADER],
    payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// `pseudo` is the pseudo-header's sum without the length (the same sum for IPv4 and IPv6).
    fn new(ends: Ends, pseudo: u64, payload: &'a [u8]) -> Result<Self, Unsendable> {
        let len = UDP_HEADER + payload.len();
        let len16 = u16::try_from(len).map_err(|_| Unsendable::TooLarge)?;
        let mut header = [0; UDP_HEADER];
        put16(&mut header, UDP_SRC_PORT, ends.src_port);
        put16(&mut header, UDP_DST_PORT, ends.dst_port);
        put16(&mut header, UDP_LENGTH, len16);
        let sum = sum_words(sum_words(pseudo + u64::from(len16), &header), payload);
        // A computed 0 is sent as 0xffff: 0 means "no checksum" (IPv4) or is forbidden (IPv6).
        let checksum = match !fold(sum) {
            0 => 0xffff,
            c => c,
        };
        put16(&mut header, UDP_CHECKSUM, checksum);
        Ok(Self { header, payload })
    }

    fn len(&self) -> usize {
        UDP_HEADER + self.payload.len()
    }

    /// Appends bytes `range` of the datagram (header, then payload) to `out`.
    fn copy(&self, range: Range<usize>, out: &mut Vec<u8>) {
        if range.start < UDP_HEADER {
            out.extend_from_slice(&self.header[range.start..range.end.min(UDP_HEADER)]);
        }
        let from = range.start.max(UDP_HEADER) - UDP_HEADER;
        let to = range.end.max(UDP_HEADER) - UDP_HEADER;
        out.extend_from_slice(&self.payload[from..to]);
    }

    /// The pieces the datagram is cut into, `unit`-aligned, each at most `max` bytes (`max` ≥ `unit`).
    fn pieces(&self, max: usize) -> impl Iterator<Item = Range<usize>> {
        let len = self.len();
        let step = if len <= max {
            len
        } else {
            max / FRAGMENT_UNIT * FRAGMENT_UNIT
        };
        (0..len)
            .step_by(step.max(1))
            .map(move |s| s..(s + step).min(len))
    }
}

fn emit_v4(
    ends: V4Ends,
    seg: &Segment<'_>,
    id: u16,
    mtu: usize,
    out: &mut Packets,
) -> Result<(), Unsendable> {
    if V4_HEADER + seg.len() > V4_MAX_PACKET {
        return Err(Unsendable::TooLarge);
    }
    let len = seg.len();
    for piece in seg.pieces(mtu - V4_HEADER) {
        let more = piece.end < len;
        let frag = (piece.start / FRAGMENT_UNIT) as u16 | if more { V4_MORE_FRAGMENTS } else { 0 };
        let start = out.bytes.len();
        out.bytes
            .extend_from_slice(&v4_header(ends, id, frag, piece.len()));
        seg.copy(piece, &mut out.bytes);
        out.close(start, !more);
    }
    Ok(())
}

/// An IPv4 header with DF clear and its checksum (the kernel writes it again; ours makes the bytes whole).
fn v4_header(ends: V4Ends, id: u16, frag: u16, payload_len: usize) -> [u8; V4_HEADER] {
    let mut h = [0; V4_HEADER];
    h[0] = V4_VERSION_IHL;
    put16(&mut h, V4_TOTAL_LEN, (V4_HEADER + payload_len) as u16);
    put16(&mut h, V4_ID, id);
    put16(&mut h, V4_FRAG, frag);
    h[V4_TTL] = HOP_LIMIT;
    h[V4_PROTO] = PROTO_UDP;
    h[V4_SRC..V4_SRC + 4].copy_from_slice(&ends.src.octets());
    h[V4_DST..V4_DST + 4].copy_from_slice(&ends.dst.octets());
    let checksum = !fold(sum_words(0, &h));
    put16(&mut h, V4_CHECKSUM, checksum);
    h
}

fn emit_v6(
    ends: V6Ends,
    seg: &Segment<'_>,
    id: u32,
    mtu: usize,
    out: &mut Packets,
) -> Result<(), Unsendable> {
    if seg.len() > UDP_MAX_LEN {
        return Err(Unsendable::TooLarge);
    }
    let start = out.bytes.len();
    if V6_HEADER + seg.len() <= mtu {
        out.bytes
            .extend_from_slice(&v6_header(ends, PROTO_UDP, seg.len()));
        seg.copy(0..seg.len(), &mut out.bytes);
        out.close(start, true);
        return Ok(());
    }
    emit_v6_fragments(ends, seg, id, mtu, out);
    Ok(())
}

fn emit_v6_fragments(ends: V6Ends, seg: &Segment<'_>, id: u32, mtu: usize, out: &mut Packets) {
    let len = seg.len();
    for piece in seg.pieces(mtu - V6_HEADER - V6_FRAG_HEADER) {
        let more = piece.end < len;
        let start = out.bytes.len();
        let header = v6_header(ends, PROTO_FRAGMENT, V6_FRAG_HEADER + piece.len());
        out.bytes.extend_from_slice(&header);
        out.bytes
            .extend_from_slice(&v6_fragment_header(id, piece.start, more));
        seg.copy(piece, &mut out.bytes);
        out.close(start, !more);
    }
}

fn v6_header(ends: V6Ends, next: u8, payload_len: usize) -> [u8; V6_HEADER] {
    let mut h = [0; V6_HEADER];
    h[0] = V6_VERSION;
    put16(&mut h, V6_PAYLOAD_LEN, payload_len as u16);
    h[V6_NEXT] = next;
    h[V6_HOP_LIMIT] = HOP_LIMIT;
    h[V6_SRC..V6_SRC + 16].copy_from_slice(&ends.src.octets());
    h[V6_DST..V6_DST + 16].copy_from_slice(&ends.dst.octets());
    h
}

fn v6_fragment_header(id: u32, offset: usize, more: bool) -> [u8; V6_FRAG_HEADER] {
    let mut h = [0; V6_FRAG_HEADER];
    h[V6_FRAG_NEXT] = PROTO_UDP;
    let flags = if more { V6_MORE_FRAGMENTS } else { 0 };
    // The offset is in 8-byte units in the top 13 bits: a multiple of 8 is already in place.
    put16(&mut h, V6_FRAG_OFFSET, offset as u16 | flags);
    h[V6_FRAG_ID..V6_FRAG_ID + 4].copy_from_slice(&id.to_be_bytes());
    h
}

fn put16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// The pseudo-header's addresses and protocol, summed (RFC 768 for IPv4, RFC 8200 §8.1 for IPv6: the
/// layouts differ but their one's-complement sums agree).
fn pseudo_sum(src: &[u8], dst: &[u8]) -> u64 {
    sum_words(sum_words(u64::from(PROTO_UDP), src), dst)
}

/// Adds big-endian 16-bit words to a one's-complement sum (RFC 1071); an odd last byte is padded with zero,
/// so only the last slice summed may be odd.
fn sum_words(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [odd] = words.remainder() {
        acc += u64::from(*odd) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ip::{self, Fragment, Transport};
    use wire::udp::Datagram;

    const V4_SRC_ADDR: &str = "192.0.2.1:40000";
    const V4_DST_ADDR: &str = "192.0.2.2:2055";
    const V6_SRC_ADDR: &str = "[2001:db8::1]:40000";
    const V6_DST_ADDR: &str = "[2001:db8::2]:2055";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    /// Builds one datagram and returns its packets.
    fn build(src: &str, dst: &str, data: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let mut b = Builder::new(addr(dst), mtu);
        let mut stats = SinkStats::default();
        b.build_batch(&[(addr(src), data)], &mut stats);
        assert_eq!(stats, SinkStats::default());
        b.packets.slices().iter().map(|p| p.to_vec()).collect()
    }

    /// RFC 768 checksum the plain way: the pseudo-header laid out as bytes, summed in 32 bits.
    fn reference_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                bytes.extend_from_slice(&s.octets());
                bytes.extend_from_slice(&d.octets());
                bytes.extend_from_slice(&[0, 17]);
                bytes.extend_from_slice(&(segment.len() as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                bytes.extend_from_slice(&s.octets());
                bytes.extend_from_slice(&d.octets());
                bytes.extend_from_slice(&(segment.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&[0, 0, 0, 17]);
            }
            _ => panic!("mixed families"),
        }
        bytes.extend_from_slice(&segment[..6]);
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&segment[8..]);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u32 = 0;
        for w in bytes.chunks(2) {
            sum += u32::from(w[0]) << 8 | u32::from(w[1]);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        match !(sum as u16) {
            0 => 0xffff,
            c => c,
        }
    }

    /// Parses a whole (unfragmented) packet and checks addresses, ports, payload and checksum.
    fn check_whole(packet: &[u8], src: &str, dst: &str, data: &[u8]) {
        let p = ip::parse(packet).unwrap();
        let (src, dst) = (addr(src), addr(dst));
        assert_eq!((p.src, p.dst), (src.ip(), dst.ip()));
        let Transport::Udp(segment) = p.transport else {
            panic!("{:?}", p.transport)
        };
        check_segment(segment, src, dst, data);
    }

    fn check_segment(segment: &[u8], src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        let d = Datagram::parse(segment).unwrap();
        assert_eq!((d.src_port, d.dst_port), (src.port(), dst.port()));
        assert_eq!(d.payload, data);
        assert_eq!(segment.len(), 8 + data.len());
        let sent = u16::from_be_bytes([segment[6], segment[7]]);
        assert_eq!(sent, reference_checksum(src.ip(), dst.ip(), segment));
    }

    fn fragments(packets: &[Vec<u8>]) -> Vec<Fragment<'_>> {
        packets
            .iter()
            .map(|p| match ip::parse(p).unwrap().transport {
                Transport::Fragment(f) => f,
                t => panic!("not a fragment: {t:?}"),
            })
            .collect()
    }

    /// Checks the fragments' invariants and returns the reassembled UDP datagram.
    fn reassemble(packets: &[Vec<u8>], mtu: usize) -> Vec<u8> {
        let frags = fragments(packets);
        let mut whole = Vec::new();
        for (i, (f, p)) in frags.iter().zip(packets).enumerate() {
            let last = i + 1 == frags.len();
            assert!(p.len() <= mtu, "fragment {i}: {} > {mtu}", p.len());
            assert_eq!((f.id, f.protocol, f.more), (frags[0].id, 17, !last));
            assert_eq!(f.offset, whole.len(), "fragment {i} offset");
            assert!(last || f.data.len() % 8 == 0, "fragment {i} not 8-aligned");
            whole.extend_from_slice(f.data);
        }
        whole
    }

    #[test]
    fn ipv4_packet_parses_back_with_a_valid_header_checksum() {
        let data = payload(100);
        let packets = build(V4_SRC_ADDR, V4_DST_ADDR, &data, 1500);
        assert_eq!(packets.len(), 1);
        check_whole(&packets[0], V4_SRC_ADDR, V4_DST_ADDR, &data);
        let h = &packets[0][..20];
        assert_eq!(fold(sum_words(0, h)), 0xffff, "IPv4 header checksum");
        assert_eq!(
            u16::from_be_bytes([h[6], h[7]]),
            0,
            "DF clear, not a fragment"
        );
        assert_ne!(u16::from_be_bytes([h[4], h[5]]), 0, "an id of our own");
    }

    #[test]
    fn ipv6_packet_parses_back() {
        for n in [0, 1, 101, 1232] {
            let data = payload(n);
            let packets = build(V6_SRC_ADDR, V6_DST_ADDR, &data, 1280);
            assert_eq!(packets.len(), 1, "{n} bytes fit 1280");
            check_whole(&packets[0], V6_SRC_ADDR, V6_DST_ADDR, &data);
        }
    }

    #[test]
    fn udp_checksum_matches_a_known_vector() {
        // Worked out independently (Python) for 192.0.2.1:40000 -> 192.0.2.2:2055 "hello, collector".
        let packets = build(V4_SRC_ADDR, V4_DST_ADDR, b"hello, collector", 1500);
        assert_eq!(&packets[0][26..28], &[0xc4, 0x58]);
    }

    #[test]
    fn a_zero_checksum_is_sent_as_ffff() {
        // Choose the last two payload bytes so that the datagram sums to 0xffff: its checksum computes as 0.
        let mut data = b"ab\0\0".to_vec();
        let packets = build(V6_SRC_ADDR, V6_DST_ADDR, &data, 1500);
        let c = u16::from_be_bytes([packets[0][46], packets[0][47]]);
        data[2..4].copy_from_slice(&c.to_be_bytes());
        let packets = build(V6_SRC_ADDR, V6_DST_ADDR, &data, 1500);
        assert_eq!(&packets[0][46..48], &[0xff, 0xff]);
        check_whole(&packets[0], V6_SRC_ADDR, V6_DST_ADDR, &data);
    }

    #[test]
    fn ipv4_3000_bytes_at_1500_make_three_fragments() {
        let data = payload(3000);
        let packets = build(V4_SRC_ADDR, V4_DST_ADDR, &data, 1500);
        let sizes: Vec<usize> = packets.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1500, 1500, 20 + 3008 - 2960]);
        let offsets: Vec<usize> = fragments(&packets).iter().map(|f| f.offset).collect();
        assert_eq!(offsets, [0, 1480, 2960]);
        for p in &packets {
            assert_eq!(p[6] & 0x40, 0, "DF clear");
            assert_eq!(fold(sum_words(0, &p[..20])), 0xffff);
        }
        let whole = reassemble(&packets, 1500);
        check_segment(&whole, addr(V4_SRC_ADDR), addr(V4_DST_ADDR), &data);
    }

    #[test]
    fn ipv6_3000_bytes_at_1500_make_three_fragments() {
        let data = payload(3000);
        let packets = build(V6_SRC_ADDR, V6_DST_ADDR, &data, 1500);
        let sizes: Vec<usize> = packets.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1496, 1496, 48 + 3008 - 2896]);
        let offsets: Vec<usize> = fragments(&packets).iter().map(|f| f.offset).collect();
        assert_eq!(offsets, [0, 1448, 2896]);
        for p in &packets {
            assert_eq!(p[6], 44, "next header: fragment");
        }
        let whole = reassemble(&packets, 1500);
        check_segment(&whole, addr(V6_SRC_ADDR), addr(V6_DST_ADDR), &data);
    }

    #[test]
    fn fragmentation_reassembles_at_every_size_and_mtu() {
        let cases = [
            (V4_SRC_ADDR, V4_DST_ADDR, [68, 576, 1500, 9000]),
            (V6_SRC_ADDR, V6_DST_ADDR, [1280, 1500, 1501, 9000]),
        ];
        for (src, dst, mtus) in cases {
            for mtu in mtus {
                for n in [1, 7, 1000, 1472, 1473, 4000, 8999, 20000] {
                    let data = payload(n);
                    let packets = build(src, dst, &data, mtu);
                    if packets.len() == 1 {
                        assert!(packets[0].len() <= mtu);
                        check_whole(&packets[0], src, dst, &data);
                        continue;
                    }
                    let whole = reassemble(&packets, mtu);
                    check_segment(&whole, addr(src), addr(dst), &data);
                }
            }
        }
    }

    #[test]
    fn the_largest_datagrams_fit_and_one_more_byte_fails() {
        for (src, dst, max) in [
            (V4_SRC_ADDR, V4_DST_ADDR, 65507),
            (V6_SRC_ADDR, V6_DST_ADDR, 65527),
        ] {
            let mut b = Builder::new(addr(dst), 1500);
            let mut stats = SinkStats::default();
            let (fits, too_big) = (payload(max), payload(max + 1));
            b.build_batch(&[(addr(src), &fits), (addr(src), &too_big)], &mut stats);
            assert_eq!(stats.failed, 1);
            let packets: Vec<Vec<u8>> = b.packets.slices().iter().map(|p| p.to_vec()).collect();
            let whole = reassemble(&packets, 1500);
            check_segment(&whole, addr(src), addr(dst), &fits);
        }
    }

    #[test]
    fn wrong_family_is_counted_and_builds_nothing() {
        let mut b = Builder::new(addr(V4_DST_ADDR), 1500);
        let mut stats = SinkStats::default();
        let batch = [
            (addr(V6_SRC_ADDR), &b"v6 exporter"[..]),
            (addr(V4_SRC_ADDR), &b"v4 exporter"[..]),
            (addr("[::ffff:192.0.2.9]:7"), &b"mapped v4 exporter"[..]),
        ];
        b.build_batch(&batch, &mut stats);
        assert_eq!(stats.wrong_family, 1);
        assert_eq!(b.packets.spans.len(), 2);
        let slices = b.packets.slices();
        check_whole(slices[1], "192.0.2.9:7", V4_DST_ADDR, b"mapped v4 exporter");

        let mut b = Builder::new(addr(V6_DST_ADDR), 1500);
        b.build_batch(&batch[1..2], &mut stats);
        assert_eq!(stats.wrong_family, 2);
        assert!(b.packets.spans.is_empty());
    }

    #[test]
    fn each_datagram_gets_its_own_nonzero_id() {
        let mut b = Builder::new(addr(V4_DST_ADDR), 576);
        b.next_id = 0xffff_fffe; // the next low half would wrap to 0
        let data = payload(1000);
        let src = addr(V4_SRC_ADDR);
        b.build_batch(
            &[(src, &data), (src, &data), (src, &data)],
            &mut SinkStats::default(),
        );
        let packets: Vec<Vec<u8>> = b.packets.slices().iter().map(|p| p.to_vec()).collect();
        let ids: Vec<u32> = fragments(&packets).iter().map(|f| f.id).collect();
        assert_eq!(ids, [0xffff, 0xffff, 1, 1, 2, 2]);
    }

    #[test]
    fn usable_mtu_respects_each_family_minimum() {
        assert_eq!(usable_mtu(1000, Family::V6), 1280);
        assert_eq!(usable_mtu(1000, Family::V4), 1000);
        assert_eq!(usable_mtu(20, Family::V4), 68);
        assert_eq!(usable_mtu(65536, Family::V4), 65535);
        assert_eq!(usable_mtu(65536, Family::V6), 65536);
    }

    #[test]
    fn transmit_counts_each_datagram_once() {
        let spans = [(true,), (false,), (false,), (true,), (true,)].map(|(last,)| Span {
            start: 0,
            end: 0,
            last,
        });
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        let t = Transmit {
            socket: &socket,
            spans: &spans,
            msgs: &[],
        };
        assert_eq!(t.datagrams_ending_in(0..2), 1);
        assert_eq!(t.datagrams_ending_in(1..5), 2);
        assert_eq!(t.after_datagram(1), 4);
        assert_eq!(t.after_datagram(0), 1);
        assert_eq!(t.after_datagram(4), 5);
    }
}
