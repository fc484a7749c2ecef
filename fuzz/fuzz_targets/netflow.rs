//! NetFlow: one v9/IPFIX session over several datagrams, so that templates one datagram teaches are used,
//! refreshed, changed, withdrawn, evicted or expired by the next; and the v5 view on every datagram.
//!
//! Input: byte 0 sets the cache limits (low 3 bits: 1..=8 templates; high 5 bits: expiry 0..=31 s). The rest
//! is datagrams separated by `MARK`; each starts with a byte whose low 7 bits advance the clock (seconds) and
//! whose top bit picks the exporter (two exporters, so scopes stay apart).
//!
//! Checked beyond "no panic": every borrowed slice lies inside its datagram; a record's fields are exactly
//! its template's, in order, and end where it ends; events, templates and error offsets stay within bounds; the
//! cache never holds more than its limit and its counters add up.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use wire::netflow::cache::Limits;
use wire::netflow::template::{MAX_FIELDS, VARLEN};
use wire::netflow::{ie, uint, v5, DataRecord, Event, Protocol, Session};

#[path = "pieces.rs"]
mod pieces;
use pieces::pieces;

/// `inner` is a sub-slice of `outer`.
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}

fn limits(b: u8) -> Limits {
    Limits {
        max_templates: 1 + usize::from(b & 7),
        expiry_secs: u64::from(b >> 3),
    }
}

fn exporter(b: u8) -> IpAddr {
    match b & 0x80 {
        0 => "192.0.2.1".parse().unwrap(),
        _ => "2001:db8::1".parse().unwrap(),
    }
}

fn v5_view(p: &[u8]) {
    let Ok(v) = v5::Packet::parse(p) else { return };
    let count = usize::from(v.header.count);
    assert!(count <= v5::MAX_RECORDS);
    assert!(p.len() >= v5::HEADER_LEN + count * v5::RECORD_LEN);
    assert!(v.header.sampling_mode < 4 && v.header.sampling_interval < 0x4000);
    let mut n = 0;
    for r in v.records() {
        n += 1;
        let _ = (
            r.src_addr(),
            r.dst_addr(),
            r.next_hop(),
            r.input(),
            r.output(),
        );
        let _ = (
            r.packets(),
            r.bytes(),
            r.first_ms(),
            r.last_ms(),
            r.src_port(),
            r.dst_port(),
        );
        let _ = (
            r.tcp_flags(),
            r.protocol(),
            r.tos(),
            r.src_as(),
            r.dst_as(),
            r.src_mask(),
            r.dst_mask(),
        );
    }
    assert_eq!(n, count);
}

/// Walks every field of a record: as many as the template has, each inside the record, together covering it.
fn record(p: &[u8], r: &DataRecord<'_>) {
    let t = r.template;
    assert!(within(p, r.bytes));
    assert!(r.bytes.len() >= t.min_len() && !r.bytes.is_empty());
    if let Some(n) = t.fixed_len() {
        assert_eq!(r.bytes.len(), n);
    }
    let (mut fields, mut end) = (0, r.bytes.as_ptr() as usize);
    for (f, v) in r.fields() {
        assert!(within(r.bytes, v) && v.as_ptr() as usize >= end);
        if f.len != VARLEN {
            assert_eq!(v.len(), usize::from(f.len));
        }
        let _ = (uint(v), ie::lookup(f.id));
        end = v.as_ptr() as usize + v.len();
        fields += 1;
    }
    assert_eq!(fields, t.fields.len());
    assert_eq!(
        end,
        r.bytes.as_ptr() as usize + r.bytes.len(),
        "fields do not cover the record"
    );
    assert!(r.sampling_rate != Some(0));
}

fn event(p: &[u8], e: Event<'_>) {
    match e {
        Event::Template(t) => {
            assert!(t.id >= 256 && t.fields.len() <= MAX_FIELDS);
            assert!(usize::from(t.scope_fields) <= t.fields.len());
            assert!(t.options || t.scope_fields == 0);
        }
        Event::Flow(r) => {
            assert!(!r.template.options);
            record(p, &r);
        }
        Event::Options(r) => {
            assert!(r.template.options && r.sampling_rate.is_none());
            record(p, &r);
        }
        Event::NoTemplate { template_id, bytes } => assert!(template_id >= 256 && bytes <= p.len()),
        Event::BadSet(e) => assert!(e.offset <= p.len(), "offset {} past {}", e.offset, p.len()),
    }
}

fn check_cache(s: &Session, l: Limits) {
    assert!(s.templates() <= l.max_templates);
    let c = s.stats();
    assert_eq!(
        c.learned - c.expired - c.evicted - c.withdrawn,
        s.templates() as u64
    );
    assert!(c.changed <= c.refreshed);
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let l = limits(first);
    let mut s = Session::new(l);
    let mut now = 1_764_000_000u64;
    for piece in pieces(rest) {
        let (ctl, p) = (piece[0], &piece[1..]);
        now += u64::from(ctl & 0x7f);
        v5_view(p);
        let mut events = 0;
        let h = s.decode(exporter(ctl), now, p, &mut |e| {
            events += 1;
            event(p, e)
        });
        assert!(events <= p.len());
        if let Ok(h) = h {
            assert_eq!(h.protocol == Protocol::V9, p[1] == 9);
            assert_eq!(h.count.is_some(), h.protocol == Protocol::V9);
        }
        check_cache(&s, l);
    }
});
