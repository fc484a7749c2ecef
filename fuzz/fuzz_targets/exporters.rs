//! Capture's per-exporter table: sequence numbers of NetFlow v5/v9, IPFIX (records counted with the
//! templates sent) and sFlow from any bytes, in any order, from a few exporters. The first byte of each
//! datagram picks the exporter and the kind; the input is a sequence of datagrams, each prefixed by a 2-byte
//! length. The table must stay within its bounds and its counts must add up.
#![no_main]

use std::net::IpAddr;

use capture::exporters::{Exporters, Offer, MAX_DOMAINS};
use libfuzzer_sys::fuzz_target;
use wire::kind::Kind;

const MAX_EXPORTERS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let mut table = Exporters::new(MAX_EXPORTERS);
    let mut rest = data;
    let mut offered = 0u64;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        let pick = rest[2];
        let datagram = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let kind = Kind::ALL[usize::from(pick & 7) % Kind::COUNT];
        let exporter = IpAddr::from([192, 0, 2, pick >> 5]);
        let offer = [Offer::Published, Offer::Full, Offer::Failed][usize::from(pick >> 3 & 3) % 3];
        table.offered(exporter, kind, pick, datagram, u64::from(pick), offer);
        offered += 1;
    }
    let counts = table.counts();
    assert!(counts.len() <= MAX_EXPORTERS);
    let mut total = table.untracked();
    for c in &counts {
        assert_eq!(c.captured, c.published + c.hwm_dropped + c.bus_failed);
        assert!(c.sequence.domains <= MAX_DOMAINS);
        let q = &c.sequence;
        assert!(q.late <= c.captured && q.resets <= c.captured && q.unchecked <= c.captured);
        total += c.captured;
    }
    assert_eq!(total, offered);
});
