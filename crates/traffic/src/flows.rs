//! Random but realistic flows, shared by the NetFlow, IPFIX and sFlow generators.

use std::net::Ipv4Addr;

use crate::{Pattern, Rng};

#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub next_hop: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    /// 6 TCP, 17 UDP, 1 ICMP.
    pub protocol: u8,
    pub tos: u8,
    pub tcp_flags: u8,
    pub packets: u32,
    pub bytes: u32,
    /// Flow start and end, in milliseconds before "now".
    pub start_ago_ms: u32,
    pub end_ago_ms: u32,
    pub input: u16,
    pub output: u16,
    pub src_as: u16,
    pub dst_as: u16,
    pub src_mask: u8,
    pub dst_mask: u8,
}

const SERVICES: [(u8, u16); 10] = [
    (6, 443),
    (6, 443),
    (6, 80),
    (17, 53),
    (6, 22),
    (17, 123),
    (6, 25),
    (17, 443),
    (6, 3306),
    (1, 0),
];

/// The next flow of `pattern`.
pub fn draw(s: &crate::Settings, rng: &mut Rng) -> Flow {
    let f = random(rng);
    let random_source = || Ipv4Addr::from(0xcb00_7100 ^ (rng_bits(f) & 0x00ff_ffff));
    match s.pattern {
        Pattern::Background | Pattern::LinkFlap => f,
        Pattern::PortScan => Flow {
            src: s.attacker,
            dst: s.target,
            dst_port: rng.range(1, 65535) as u16,
            ..probe(f)
        },
        Pattern::HostScan => Flow {
            src: s.attacker,
            dst: Ipv4Addr::from(u32::from(s.target) & 0xffff_0000 | rng.range(1, 65534) as u32),
            dst_port: 22,
            ..probe(f)
        },
        Pattern::UdpFlood => Flow {
            src: random_source(),
            dst: s.target,
            src_port: rng.range(1024, 65535) as u16,
            dst_port: rng.range(1, 65535) as u16,
            protocol: 17,
            tcp_flags: 0,
            packets: rng.range(500, 1500) as u32,
            bytes: rng.range(500, 1500) as u32 * 512,
            start_ago_ms: 1000,
            end_ago_ms: 0,
            ..f
        },
        Pattern::SynFlood => Flow {
            src: random_source(),
            dst: s.target,
            dst_port: 443,
            ..probe(f)
        },
    }
}

/// Bits of a random flow, to derive other random values from without another draw.
fn rng_bits(f: Flow) -> u32 {
    u32::from(f.src) ^ u32::from(f.dst).rotate_left(7) ^ u32::from(f.src_port) << 16 ^ f.bytes
}

/// A TCP SYN of one packet, from an ephemeral port.
fn probe(f: Flow) -> Flow {
    Flow {
        src_port: 32768 + f.src_port % 28000,
        protocol: 6,
        tcp_flags: 0x02,
        packets: 1,
        bytes: 44,
        start_ago_ms: f.end_ago_ms,
        ..f
    }
}

/// A random flow. A TCP flow that only ever set SYN is a connection attempt that got no answer: a few
/// packets (retries), not thousands.
pub fn random(rng: &mut Rng) -> Flow {
    let f = any_flow(rng);
    match f.tcp_flags {
        0x02 => Flow {
            packets: 1 + f.packets % 3,
            bytes: (1 + f.packets % 3) * 60,
            ..f
        },
        _ => f,
    }
}

fn any_flow(rng: &mut Rng) -> Flow {
    let (protocol, service) = *rng.pick(&SERVICES);
    let inside = Ipv4Addr::new(
        10,
        rng.range(0, 3) as u8,
        rng.range(0, 255) as u8,
        rng.range(1, 254) as u8,
    );
    let outside = Ipv4Addr::new(203, 0, 113, rng.range(1, 254) as u8);
    let outbound = rng.chance(50);
    let (src, dst) = if outbound {
        (inside, outside)
    } else {
        (outside, inside)
    };
    let ephemeral = rng.range(32768, 60999) as u16;
    let (src_port, dst_port) = match (protocol, outbound) {
        (1, _) => (0, 0x0800), // ICMP echo request, as exporters encode type/code in the port
        (_, true) => (ephemeral, service),
        (_, false) => (service, ephemeral),
    };
    let packets = rng.range(1, 2000) as u32;
    let avg = rng.range(40, 1500) as u32;
    let duration = rng.range(0, 60_000) as u32;
    let end = rng.range(0, 5_000) as u32;
    Flow {
        src,
        dst,
        next_hop: Ipv4Addr::new(10, 255, 0, rng.range(1, 4) as u8),
        src_port,
        dst_port,
        protocol,
        tos: *rng.pick(&[0u8, 0, 0, 0x28, 0xb8]),
        tcp_flags: if protocol == 6 {
            *rng.pick(&[0x1bu8, 0x18, 0x10, 0x02, 0x11])
        } else {
            0
        },
        packets,
        bytes: packets.saturating_mul(avg),
        start_ago_ms: end + duration,
        end_ago_ms: end,
        input: rng.range(1, 48) as u16,
        output: rng.range(1, 48) as u16,
        src_as: *rng.pick(&[0u16, 64496, 64511, 65010]),
        dst_as: *rng.pick(&[0u16, 64497, 64500]),
        src_mask: 24,
        dst_mask: *rng.pick(&[16u8, 24, 32]),
    }
}
