//! NetFlow v5, NetFlow v9 and IPFIX export datagrams.
//!
//! v9 and IPFIX: each exporter has `domains` observation domains (source ids) used in turn; a domain's first
//! datagram, and every `template_every`-th after it, carries its template set ahead of the data.

use wire::netflow::v5::{HEADER_LEN as V5_HEADER, MAX_RECORDS as V5_MAX, RECORD_LEN as V5_RECORD};

use crate::flows::{self, Flow};
use crate::{Ctx, Settings};

/// Milliseconds the simulated router has been up when the run starts.
const BOOT_UPTIME_MS: u64 = 86_400_000;
const TEMPLATE_ID: u16 = 256;

/// Sequences and template timers of one exporter's observation domains.
pub struct DomainState {
    domains: Vec<Domain>,
    next: usize,
    /// NetFlow v5: flows exported so far.
    v5_flows: u32,
    start_ns: Option<u64>,
}

#[derive(Default, Clone)]
struct Domain {
    datagrams: u64,
    /// v9: export packets so far; IPFIX: data records so far.
    sequence: u32,
}

impl DomainState {
    pub fn new(domains: u32) -> Self {
        Self {
            domains: vec![Domain::default(); domains.max(1) as usize],
            next: 0,
            v5_flows: 0,
            start_ns: None,
        }
    }

    /// The next domain to export from, and its index (the source id / observation domain id is index + 1).
    fn take_domain(&mut self) -> (usize, &mut Domain) {
        let i = self.next;
        self.next = (self.next + 1) % self.domains.len();
        (i, &mut self.domains[i])
    }

    fn uptime_ms(&mut self, now_ns: u64) -> u32 {
        let start = *self.start_ns.get_or_insert(now_ns);
        (BOOT_UPTIME_MS + now_ns.saturating_sub(start) / 1_000_000) as u32
    }
}

fn put16(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn put32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn put64(o: &mut Vec<u8>, v: u64) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn patch16(o: &mut [u8], at: usize, v: u16) {
    o[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

// ---------------------------------------------------------------------------------------------- v5

pub fn v5(st: &mut DomainState, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s) = (cx.now_ns, cx.settings);
    let n = ((s.target_bytes.saturating_sub(V5_HEADER)) / V5_RECORD).clamp(1, V5_MAX);
    let uptime = st.uptime_ms(now_ns);
    put16(o, 5);
    put16(o, n as u16);
    put32(o, uptime);
    put32(o, (now_ns / 1_000_000_000) as u32);
    put32(o, (now_ns % 1_000_000_000) as u32);
    put32(o, st.v5_flows);
    o.extend_from_slice(&[0, 1]); // engine type, engine id
    put16(o, 0); // not sampled
    st.v5_flows = st.v5_flows.wrapping_add(n as u32);
    for _ in 0..n {
        v5_record(&flows::draw(cx.settings, cx.rng), uptime, o);
    }
}

fn v5_record(f: &Flow, uptime: u32, o: &mut Vec<u8>) {
    o.extend_from_slice(&f.src.octets());
    o.extend_from_slice(&f.dst.octets());
    o.extend_from_slice(&f.next_hop.octets());
    put16(o, f.input);
    put16(o, f.output);
    put32(o, f.packets);
    put32(o, f.bytes);
    put32(o, uptime.saturating_sub(f.start_ago_ms));
    put32(o, uptime.saturating_sub(f.end_ago_ms));
    put16(o, f.src_port);
    put16(o, f.dst_port);
    o.extend_from_slice(&[0, f.tcp_flags, f.protocol, f.tos]);
    put16(o, f.src_as);
    put16(o, f.dst_as);
    o.extend_from_slice(&[f.src_mask, f.dst_mask, 0, 0]);
}

// ---------------------------------------------------------------------------------------------- v9

/// (field type, length) of the v9 template. The numbers are the v9 field types (the same as IPFIX's IEs).
const V9_FIELDS: [(u16, u16); 18] = [
    (8, 4),  // IPV4_SRC_ADDR
    (12, 4), // IPV4_DST_ADDR
    (15, 4), // IPV4_NEXT_HOP
    (7, 2),  // L4_SRC_PORT
    (11, 2), // L4_DST_PORT
    (4, 1),  // PROTOCOL
    (5, 1),  // SRC_TOS
    (6, 1),  // TCP_FLAGS
    (10, 2), // INPUT_SNMP
    (14, 2), // OUTPUT_SNMP
    (2, 4),  // IN_PKTS
    (1, 4),  // IN_BYTES
    (22, 4), // FIRST_SWITCHED
    (21, 4), // LAST_SWITCHED
    (16, 2), // SRC_AS
    (17, 2), // DST_AS
    (9, 1),  // SRC_MASK
    (13, 1), // DST_MASK
];
const V9_RECORD: usize = 45;
const SET_HEADER: usize = 4;

fn template_due(d: &Domain, s: &Settings) -> bool {
    d.datagrams.is_multiple_of(s.template_every.max(1))
}

pub fn v9(st: &mut DomainState, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s) = (cx.now_ns, cx.settings);
    let uptime = st.uptime_ms(now_ns);
    let (i, d) = st.take_domain();
    let with_template = template_due(d, s);
    d.datagrams += 1;
    let seq = d.sequence;
    d.sequence = d.sequence.wrapping_add(1);
    put16(o, 9);
    put16(o, 0); // count, patched
    put32(o, uptime);
    put32(o, (now_ns / 1_000_000_000) as u32);
    put32(o, seq);
    put32(o, i as u32 + 1);
    let mut count = 0u16;
    if with_template {
        put16(o, 0); // template flowset
        put16(o, (SET_HEADER + 4 + V9_FIELDS.len() * 4) as u16);
        put16(o, TEMPLATE_ID);
        put16(o, V9_FIELDS.len() as u16);
        for (t, l) in V9_FIELDS {
            put16(o, t);
            put16(o, l);
        }
        count += 1;
    }
    let room = s.target_bytes.saturating_sub(o.len() + SET_HEADER);
    let n = (room / V9_RECORD).max(1);
    let set_at = o.len();
    put16(o, TEMPLATE_ID);
    put16(o, 0);
    for _ in 0..n {
        v9_record(&flows::draw(cx.settings, cx.rng), uptime, o);
    }
    while !(o.len() - set_at).is_multiple_of(4) {
        o.push(0);
    }
    let set_len = (o.len() - set_at) as u16;
    patch16(o, set_at + 2, set_len);
    patch16(o, 2, count + n as u16);
}

fn v9_record(f: &Flow, uptime: u32, o: &mut Vec<u8>) {
    o.extend_from_slice(&f.src.octets());
    o.extend_from_slice(&f.dst.octets());
    o.extend_from_slice(&f.next_hop.octets());
    put16(o, f.src_port);
    put16(o, f.dst_port);
    o.extend_from_slice(&[f.protocol, f.tos, f.tcp_flags]);
    put16(o, f.input);
    put16(o, f.output);
    put32(o, f.packets);
    put32(o, f.bytes);
    put32(o, uptime.saturating_sub(f.start_ago_ms));
    put32(o, uptime.saturating_sub(f.end_ago_ms));
    put16(o, f.src_as);
    put16(o, f.dst_as);
    o.extend_from_slice(&[f.src_mask, f.dst_mask]);
}

// ---------------------------------------------------------------------------------------------- IPFIX

/// (information element, length) of the IPFIX template.
const IPFIX_FIELDS: [(u16, u16); 13] = [
    (8, 4),   // sourceIPv4Address
    (12, 4),  // destinationIPv4Address
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (4, 1),   // protocolIdentifier
    (5, 1),   // ipClassOfService
    (6, 1),   // tcpControlBits (reduced-size encoding)
    (10, 4),  // ingressInterface
    (14, 4),  // egressInterface
    (2, 8),   // packetDeltaCount
    (1, 8),   // octetDeltaCount
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
];
const IPFIX_RECORD: usize = 55;
const IPFIX_TEMPLATE_SET: u16 = 2;

pub fn ipfix(st: &mut DomainState, cx: &mut Ctx<'_>, o: &mut Vec<u8>) {
    let (now_ns, s) = (cx.now_ns, cx.settings);
    let (i, d) = st.take_domain();
    let with_template = template_due(d, s);
    d.datagrams += 1;
    put16(o, 10);
    put16(o, 0); // length, patched
    put32(o, (now_ns / 1_000_000_000) as u32);
    put32(o, d.sequence);
    put32(o, i as u32 + 1);
    if with_template {
        put16(o, IPFIX_TEMPLATE_SET);
        put16(o, (SET_HEADER + 4 + IPFIX_FIELDS.len() * 4) as u16);
        put16(o, TEMPLATE_ID);
        put16(o, IPFIX_FIELDS.len() as u16);
        for (t, l) in IPFIX_FIELDS {
            put16(o, t);
            put16(o, l);
        }
    }
    let room = s.target_bytes.saturating_sub(o.len() + SET_HEADER);
    let n = (room / IPFIX_RECORD).max(1);
    let set_at = o.len();
    put16(o, TEMPLATE_ID);
    put16(o, (SET_HEADER + n * IPFIX_RECORD) as u16);
    let now_ms = now_ns / 1_000_000;
    for _ in 0..n {
        ipfix_record(&flows::draw(cx.settings, cx.rng), now_ms, o);
    }
    debug_assert_eq!(o.len() - set_at, SET_HEADER + n * IPFIX_RECORD);
    d.sequence = d.sequence.wrapping_add(n as u32);
    let len = o.len() as u16;
    patch16(o, 2, len);
}

fn ipfix_record(f: &Flow, now_ms: u64, o: &mut Vec<u8>) {
    o.extend_from_slice(&f.src.octets());
    o.extend_from_slice(&f.dst.octets());
    put16(o, f.src_port);
    put16(o, f.dst_port);
    o.extend_from_slice(&[f.protocol, f.tos, f.tcp_flags]);
    put32(o, u32::from(f.input));
    put32(o, u32::from(f.output));
    put64(o, u64::from(f.packets));
    put64(o, u64::from(f.bytes));
    put64(o, now_ms.saturating_sub(u64::from(f.start_ago_ms)));
    put64(o, now_ms.saturating_sub(u64::from(f.end_ago_ms)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    const NOW: u64 = 1_764_000_000_000_000_000;

    type Gen = fn(&mut DomainState, &mut Ctx<'_>, &mut Vec<u8>);

    /// One datagram of `f` at time NOW.
    fn one(f: Gen, st: &mut DomainState, s: &Settings, rng: &mut Rng) -> Vec<u8> {
        let mut o = Vec::new();
        f(
            st,
            &mut Ctx {
                now_ns: NOW,
                settings: s,
                rng,
            },
            &mut o,
        );
        o
    }

    #[test]
    fn v9_template_first_then_periodically() {
        let s = Settings {
            template_every: 3,
            domains: 1,
            ..Settings::default()
        };
        let mut st = DomainState::new(1);
        let mut rng = Rng::new(1);
        let mut with_template = Vec::new();
        for _ in 0..7 {
            let o = one(v9, &mut st, &s, &mut rng);
            with_template.push(o[20..22] == [0, 0]);
            assert!(o.len() <= 1400 && o.len() > 1300, "{}", o.len());
            let count = u16::from_be_bytes([o[2], o[3]]);
            let data = (o.len() - if o[20..22] == [0, 0] { 20 + 80 + 4 } else { 24 }) / V9_RECORD;
            assert_eq!(usize::from(count), data + usize::from(o[20..22] == [0, 0]));
        }
        assert_eq!(
            with_template,
            [true, false, false, true, false, false, true]
        );
    }

    #[test]
    fn ipfix_lengths_and_sequences() {
        let s = Settings::default();
        let mut st = DomainState::new(2);
        let mut rng = Rng::new(2);
        let mut seq = [0u32; 2];
        for k in 0..6 {
            let o = one(ipfix, &mut st, &s, &mut rng);
            assert_eq!(usize::from(u16::from_be_bytes([o[2], o[3]])), o.len());
            let domain = u32::from_be_bytes([o[12], o[13], o[14], o[15]]);
            assert_eq!(domain as usize, k % 2 + 1);
            assert_eq!(u32::from_be_bytes([o[8], o[9], o[10], o[11]]), seq[k % 2]);
            let records =
                (o.len() - 16 - if k < 2 { 4 + 4 + 13 * 4 } else { 0 } - 4) / IPFIX_RECORD;
            seq[k % 2] += records as u32;
        }
    }

    #[test]
    fn v5_counts_flows() {
        let s = Settings::default();
        let mut st = DomainState::new(1);
        let mut rng = Rng::new(3);
        let o = one(v5, &mut st, &s, &mut rng);
        assert_eq!(o.len(), 24 + 28 * 48);
        let o2 = one(v5, &mut st, &s, &mut rng);
        assert_eq!(u32::from_be_bytes([o2[16], o2[17], o2[18], o2[19]]), 28);
    }
}
