//! sFlow v5 datagrams: flow samples carrying a sampled Ethernet/IPv4/TCP-or-UDP header, and generic
//! interface counter samples.

use std::net::Ipv4Addr;

use crate::flows::{self, Flow};
use crate::{Ctx, Rng};

const SAMPLING_RATE: u32 = 1000;
const HEADER_BYTES: usize = 128;
const TAG_FLOW_SAMPLE: u32 = 1;
const TAG_COUNTER_SAMPLE: u32 = 2;
const TAG_RAW_HEADER: u32 = 1;
const TAG_GENERIC_IF: u32 = 1;
const HEADER_PROTOCOL_ETHERNET: u32 = 1;
const DATAGRAM_HEADER: usize = 28;
/// The largest flow sample (a full 128-byte header); shorter frames give shorter samples.
const FLOW_SAMPLE: usize = 8 + 32 + 8 + 16 + HEADER_BYTES;
const COUNTER_SAMPLE: usize = 8 + 12 + 8 + 88;
/// A counter sample rides in every this many datagrams.
const COUNTERS_EVERY: u64 = 4;

/// Per-agent sequences and running interface counters.
#[derive(Default)]
pub struct AgentState {
    datagrams: u32,
    flow_samples: u32,
    counter_samples: u32,
    in_octets: u64,
    out_octets: u64,
    in_packets: u32,
    out_packets: u32,
    start_ns: Option<u64>,
}

fn put32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn put64(o: &mut Vec<u8>, v: u64) {
    o.extend_from_slice(&v.to_be_bytes());
}

/// Datagram number `n` of `agent`.
pub fn datagram(st: &mut AgentState, agent: Ipv4Addr, n: u64, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s, rng) = (cx.now_ns, cx.settings, &mut *cx.rng);
    let start = *st.start_ns.get_or_insert(now_ns);
    let uptime = (86_400_000 + now_ns.saturating_sub(start) / 1_000_000) as u32;
    let counters = n.is_multiple_of(COUNTERS_EVERY);
    let room = s
        .target_bytes
        .saturating_sub(DATAGRAM_HEADER + if counters { COUNTER_SAMPLE } else { 0 });
    let flows = (room / FLOW_SAMPLE).max(1);
    put32(o, 5);
    put32(o, 1); // agent address type IPv4
    o.extend_from_slice(&agent.octets());
    put32(o, 0); // sub-agent
    put32(o, st.datagrams);
    put32(o, uptime);
    put32(o, (flows + usize::from(counters)) as u32);
    st.datagrams = st.datagrams.wrapping_add(1);
    for _ in 0..flows {
        flow_sample(st, &flows::draw(s, rng), rng, o);
    }
    if counters {
        counter_sample(st, o);
    }
}

fn flow_sample(st: &mut AgentState, f: &Flow, rng: &mut Rng, o: &mut Vec<u8>) {
    st.flow_samples = st.flow_samples.wrapping_add(1);
    let ip_len = rng.range(60, 1500) as usize;
    let frame_len = 14 + ip_len + 4;
    let header = sampled_header(f, ip_len, rng);
    // The header is an XDR opaque: its length, then the bytes padded to a multiple of 4.
    let padded = header.len().next_multiple_of(4);
    st.in_octets += frame_len as u64;
    st.in_packets = st.in_packets.wrapping_add(1);
    put32(o, TAG_FLOW_SAMPLE);
    put32(o, (32 + 8 + 16 + padded) as u32);
    put32(o, st.flow_samples);
    put32(o, u32::from(f.input)); // source id: type 0 (ifIndex), index
    put32(o, SAMPLING_RATE);
    put32(o, st.flow_samples.wrapping_mul(SAMPLING_RATE));
    put32(o, 0); // drops
    put32(o, u32::from(f.input));
    put32(o, u32::from(f.output));
    put32(o, 1); // one record
    put32(o, TAG_RAW_HEADER);
    put32(o, (16 + padded) as u32);
    put32(o, HEADER_PROTOCOL_ETHERNET);
    put32(o, frame_len as u32);
    put32(o, 4); // FCS stripped
    put32(o, header.len() as u32);
    o.extend_from_slice(&header);
    o.resize(o.len() + (padded - header.len()), 0);
}

/// The first bytes of the sampled frame: Ethernet, IPv4 (valid checksum), TCP or UDP, payload.
fn sampled_header(f: &Flow, ip_len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(&[0x00, 0x1b, 0x21, 0x3c, 0x4d, rng.range(0, 255) as u8]);
    h.extend_from_slice(&[0x00, 0x1b, 0x21, 0x5e, 0x6f, rng.range(0, 255) as u8]);
    h.extend_from_slice(&[0x08, 0x00]);
    let proto = if f.protocol == 1 { 6 } else { f.protocol };
    let ip_at = h.len();
    h.extend_from_slice(&[0x45, f.tos]);
    h.extend_from_slice(&(ip_len as u16).to_be_bytes());
    h.extend_from_slice(&(rng.range(0, 65535) as u16).to_be_bytes());
    h.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&f.src.octets());
    h.extend_from_slice(&f.dst.octets());
    let sum = checksum(&h[ip_at..ip_at + 20]);
    h[ip_at + 10..ip_at + 12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(&f.src_port.to_be_bytes());
    h.extend_from_slice(&f.dst_port.to_be_bytes());
    if proto == 6 {
        h.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
        h.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
        // the flow's flags as the sampled segment's (an ACK when the flow has none)
        let flags = if f.tcp_flags == 0 { 0x10 } else { f.tcp_flags };
        h.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    } else {
        h.extend_from_slice(&((ip_len - 20) as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0]);
    }
    let captured = (14 + ip_len).min(HEADER_BYTES);
    h.extend((h.len()..captured).map(|i| (i * 7) as u8));
    h.truncate(captured);
    h
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn counter_sample(st: &mut AgentState, o: &mut Vec<u8>) {
    st.counter_samples = st.counter_samples.wrapping_add(1);
    st.out_octets += st.in_octets / 3;
    st.out_packets = st.out_packets.wrapping_add(st.in_packets / 3);
    put32(o, TAG_COUNTER_SAMPLE);
    put32(o, (COUNTER_SAMPLE - 8) as u32);
    put32(o, st.counter_samples);
    put32(o, 1); // source id: ifIndex 1
    put32(o, 1); // one record
    put32(o, TAG_GENERIC_IF);
    put32(o, 88);
    put32(o, 1); // ifIndex
    put32(o, 6); // ethernetCsmacd
    put64(o, 10_000_000_000);
    put32(o, 1); // full duplex
    put32(o, 3); // admin up, oper up
    put64(o, st.in_octets.wrapping_mul(u64::from(SAMPLING_RATE)));
    put32(o, st.in_packets.wrapping_mul(SAMPLING_RATE));
    put32(o, 12); // multicast
    put32(o, 3); // broadcast
    put32(o, 0); // discards
    put32(o, 0); // errors
    put32(o, 0); // unknown protos
    put64(o, st.out_octets.wrapping_mul(u64::from(SAMPLING_RATE)));
    put32(o, st.out_packets.wrapping_mul(SAMPLING_RATE));
    put32(o, 5);
    put32(o, 1);
    put32(o, 0);
    put32(o, 0);
    put32(o, 0); // not promiscuous
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    #[test]
    fn layout() {
        let s = Settings::default();
        let mut st = AgentState::default();
        let mut rng = Rng::new(5);
        let mut o = Vec::new();
        let mut cx = Ctx {
            now_ns: 1_764_000_000_000_000_000,
            settings: &s,
            rng: &mut rng,
        };
        datagram(&mut st, Ipv4Addr::new(127, 0, 0, 7), 0, &mut cx, &mut o);
        let samples = u32::from_be_bytes([o[24], o[25], o[26], o[27]]) as usize;
        assert!(o.len() <= DATAGRAM_HEADER + (samples - 1) * FLOW_SAMPLE + COUNTER_SAMPLE);
        assert!(o.len() <= 1400);
        // walk the samples by their lengths: they must end exactly at the datagram's end, and each raw
        // header record's length must match its opaque header length rounded up to 4
        let mut at = DATAGRAM_HEADER;
        for _ in 0..samples {
            let tag = u32::from_be_bytes(o[at..at + 4].try_into().unwrap());
            let len = u32::from_be_bytes(o[at + 4..at + 8].try_into().unwrap()) as usize;
            if tag == TAG_FLOW_SAMPLE {
                let rec = at + 8 + 32;
                let rec_len = u32::from_be_bytes(o[rec + 4..rec + 8].try_into().unwrap()) as usize;
                let hdr_len =
                    u32::from_be_bytes(o[rec + 20..rec + 24].try_into().unwrap()) as usize;
                assert_eq!(rec_len, 16 + hdr_len.next_multiple_of(4));
                assert_eq!(len, 32 + 8 + rec_len);
            }
            at += 8 + len;
        }
        assert_eq!(at, o.len());
        assert_eq!(&o[8..12], &[127, 0, 0, 7]);
        // the sampled IPv4 header checksums to zero
        let ip = &o[DATAGRAM_HEADER + 8 + 32 + 8 + 16 + 14..][..20];
        assert_eq!(checksum(ip), 0);
    }
}
