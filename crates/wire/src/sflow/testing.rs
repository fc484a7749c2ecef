//! Byte-level builders for the tests (the generator crate depends on this one, so it cannot be used here).

use super::*;

pub const AGENT_SUB: u32 = 3;
pub const UPTIME_MS: u32 = 86_400_000;

/// The datagram pmacct's `pmacctd` (plugin sfprobe) sent for three packets; see tests/data/sflow/README.md.
pub fn pmacct() -> &'static [u8] {
    include_bytes!("../../tests/data/sflow/pmacct-sfprobe.bin")
}

pub fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// A sample or record: format word, length, data padded to 4 bytes.
pub fn sample(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut o = words(&[tag, body.len() as u32]);
    o.extend_from_slice(body);
    o.resize(o.len().next_multiple_of(4), 0);
    o
}

pub use sample as record;

pub fn datagram_v4(agent: [u8; 4], sequence: u32, samples: &[Vec<u8>]) -> Vec<u8> {
    let mut o = words(&[5, 1]);
    o.extend_from_slice(&agent);
    o.extend(words(&[
        AGENT_SUB,
        sequence,
        UPTIME_MS,
        samples.len() as u32,
    ]));
    o.extend(samples.concat());
    o
}

/// A compact flow sample: source ifIndex 7, rate 1000, pool 5000, 2 drops, in 3, out "2 interfaces".
pub fn flow_sample_body(sequence: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let n = records.len() as u32;
    let mut o = words(&[sequence, 7, 1000, 5000, 2, 3, 2 << 30 | 2, n]);
    o.extend(records.concat());
    o
}

/// An expanded flow sample: source type 1 index 0x01234567, input (0, 0x7000_0001), output (1, 256).
pub fn expanded_flow_body(sequence: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let n = records.len() as u32;
    let mut o = words(&[
        sequence,
        1,
        0x0123_4567,
        512,
        9000,
        0,
        0,
        0x7000_0001,
        1,
        256,
        n,
    ]);
    o.extend(records.concat());
    o
}

pub fn counter_sample_body(sequence: u32, source: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut o = words(&[sequence, source, records.len() as u32]);
    o.extend(records.concat());
    o
}

pub fn raw_header(protocol: u32, frame_length: u32, header: &[u8]) -> Vec<u8> {
    let mut body = words(&[protocol, frame_length, 4, header.len() as u32]);
    body.extend_from_slice(header);
    record(1, &body)
}

/// Ethernet (VLAN tags `vlans`) + IPv4 (total length 1500) + TCP 40001 -> 443 with flags SYN|ACK.
pub fn eth_ipv4_tcp(vlans: &[u16]) -> Vec<u8> {
    let mut h = vec![
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0x11, 0x22, 0x33, 0x44, 0x55,
    ];
    for (i, v) in vlans.iter().enumerate() {
        let tpid: u16 = if i + 1 < vlans.len() { 0x88a8 } else { 0x8100 };
        h.extend(tpid.to_be_bytes());
        h.extend((0x2000 | v).to_be_bytes());
    }
    h.extend([
        0x08, 0x00, 0x45, 0x10, 0x05, 0xdc, 0, 1, 0x40, 0, 63, 6, 0, 0,
    ]);
    h.extend([10, 1, 2, 3, 192, 0, 2, 9]);
    h.extend([
        0x9c, 0x41, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xfa, 0xf0,
    ]);
    h.resize(128, 0x78);
    h
}

/// Parses and walks everything, decoding every raw header; the number of items seen.
pub fn walk(p: &[u8]) -> usize {
    let Ok(d) = parse(p) else { return 0 };
    let mut n = 0;
    for s in d.samples() {
        n += 1;
        match s {
            Ok(Sample::Flow(f)) => n += walk_flow(&f),
            Ok(Sample::Counters(c)) => n += c.records().count(),
            _ => {}
        }
    }
    n
}

fn walk_flow(f: &FlowSample<'_>) -> usize {
    let mut n = 0;
    for r in f.records() {
        n += 1;
        if let Ok(FlowRecord::RawHeader(h)) = r {
            let _ = h.decode();
        }
    }
    n
}
