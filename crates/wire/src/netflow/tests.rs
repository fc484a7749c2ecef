//! Session tests: bytes in, events out.

use super::*;
use std::net::Ipv4Addr;

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn put16(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn put32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    put16(&mut o, id);
    put16(&mut o, (body.len() + 4) as u16);
    o.extend_from_slice(body);
    o
}

fn v9(sequence: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut o = Vec::new();
    put16(&mut o, 9);
    put16(&mut o, sets.len() as u16);
    put32(&mut o, 1000);
    put32(&mut o, 1_700_000_000);
    put32(&mut o, sequence);
    put32(&mut o, domain);
    sets.iter().for_each(|s| o.extend_from_slice(s));
    o
}

fn ipfix(domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut o = Vec::new();
    put16(&mut o, 10);
    put16(&mut o, 0);
    put32(&mut o, 1_700_000_000);
    put32(&mut o, 5);
    put32(&mut o, domain);
    sets.iter().for_each(|s| o.extend_from_slice(s));
    let len = o.len() as u16;
    o[2..4].copy_from_slice(&len.to_be_bytes());
    o
}

/// Template 256: sourceIPv4Address(4) destinationIPv4Address(4) packetDeltaCount(4) protocolIdentifier(1).
fn flow_template() -> Vec<u8> {
    let mut b = Vec::new();
    for v in [256, 4, 8, 4, 12, 4, 2, 4, 4, 1] {
        put16(&mut b, v);
    }
    b
}

fn flow(src: [u8; 4], packets: u32) -> Vec<u8> {
    let mut b = src.to_vec();
    b.extend_from_slice(&[198, 51, 100, 7]);
    put32(&mut b, packets);
    b.push(17);
    b
}

#[derive(Debug, PartialEq)]
enum Seen {
    Template(u16),
    Flow(Vec<(u16, Vec<u8>)>, Option<u32>),
    Options(usize),
    NoTemplate(u16),
    Bad(&'static str),
}

fn run(s: &mut Session, now: u64, p: &[u8]) -> (Result<Header, WireError>, Vec<Seen>) {
    let mut seen = Vec::new();
    let r = s.decode(EXPORTER, now, p, &mut |e| {
        seen.push(match e {
            Event::Template(t) => Seen::Template(t.id),
            Event::Flow(r) => Seen::Flow(
                r.fields().map(|(f, v)| (f.id, v.to_vec())).collect(),
                r.sampling_rate,
            ),
            Event::Options(r) => Seen::Options(r.fields().count()),
            Event::NoTemplate { template_id, .. } => Seen::NoTemplate(template_id),
            Event::BadSet(e) => Seen::Bad(e.what),
        })
    });
    (r, seen)
}

#[test]
fn v9_template_then_data_with_padding() {
    let mut s = Session::default();
    let mut data = [flow([10, 0, 0, 1], 3), flow([10, 0, 0, 2], 4)].concat();
    data.extend_from_slice(&[0, 0]); // padding to 4 bytes
    let p = v9(7, 1, &[set(0, &flow_template()), set(256, &data)]);
    let (h, seen) = run(&mut s, 100, &p);
    let h = h.unwrap();
    assert_eq!(
        (h.protocol, h.sequence, h.domain, h.count),
        (Protocol::V9, 7, 1, Some(2))
    );
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0], Seen::Template(256));
    let Seen::Flow(fields, None) = &seen[2] else {
        panic!("{seen:?}")
    };
    assert_eq!(fields[0], (8, vec![10, 0, 0, 2]));
    assert_eq!(fields[2], (2, 4u32.to_be_bytes().to_vec()));
}

#[test]
fn templates_are_scoped_per_domain_and_expire() {
    let mut s = Session::new(Limits {
        max_templates: 16,
        expiry_secs: 60,
    });
    run(&mut s, 100, &v9(1, 1, &[set(0, &flow_template())]))
        .0
        .unwrap();
    let data = set(256, &flow([10, 0, 0, 1], 1));
    assert_eq!(
        run(&mut s, 100, &v9(2, 2, std::slice::from_ref(&data))).1,
        vec![Seen::NoTemplate(256)]
    );
    assert!(matches!(
        run(&mut s, 150, &v9(2, 1, std::slice::from_ref(&data))).1[0],
        Seen::Flow(..)
    ));
    assert_eq!(
        run(&mut s, 161, &v9(3, 1, &[data])).1,
        vec![Seen::NoTemplate(256)]
    );
    assert_eq!(s.stats().expired, 1);
}

#[test]
fn v9_sampling_from_options_data() {
    let mut s = Session::default();
    // Options template 257: scope System(1) len 4; samplingInterval(34) len 4, samplingAlgorithm(35) len 1.
    let mut ot = Vec::new();
    for v in [257, 4, 8, 1, 4, 34, 4, 35, 1] {
        put16(&mut ot, v);
    }
    ot.extend_from_slice(&[0, 0]);
    let mut od = vec![0, 0, 0, 0];
    put32(&mut od, 512);
    od.push(2);
    let p = v9(
        1,
        0,
        &[set(1, &ot), set(257, &od), set(0, &flow_template())],
    );
    let (_, seen) = run(&mut s, 1, &p);
    assert_eq!(seen[..2], [Seen::Template(257), Seen::Options(3)]);
    let (_, seen) = run(&mut s, 2, &v9(2, 0, &[set(256, &flow([10, 0, 0, 1], 1))]));
    assert!(matches!(seen[0], Seen::Flow(_, Some(512))), "{seen:?}");
}

#[test]
fn ipfix_sampler_rates_and_varlen_enterprise_fields() {
    let mut s = Session::default();
    // Options template 300: scope samplerId(48) 1; samplingPacketInterval(305) 4, samplingPacketSpace(306) 4.
    let mut ot = Vec::new();
    for v in [300, 3, 1, 48, 1, 305, 4, 306, 4] {
        put16(&mut ot, v);
    }
    let mut od = vec![5];
    put32(&mut od, 1);
    put32(&mut od, 99);
    // Template 400: samplerId(48) 1, enterprise 2879 element 7 varlen, octetDeltaCount(1) reduced to 4.
    let mut t = Vec::new();
    for v in [400, 3, 48, 1, 0x8007, 0xffff, 0, 2879, 1, 4] {
        put16(&mut t, v);
    }
    let mut d = vec![5, 3, b'a', b'b', b'c'];
    put32(&mut d, 1500);
    d.extend_from_slice(&[5, 0]); // a second record, cut short: padding, not a record
    let p = ipfix(9, &[set(3, &ot), set(300, &od), set(2, &t), set(400, &d)]);
    let (h, seen) = run(&mut s, 1, &p);
    assert_eq!(h.unwrap().domain, 9);
    assert_eq!(seen.len(), 4, "{seen:?}");
    let Seen::Flow(fields, rate) = &seen[3] else {
        panic!("{seen:?}")
    };
    assert_eq!(*rate, Some(100));
    assert_eq!(fields[1], (7, b"abc".to_vec()));
    assert_eq!(uint(&fields[2].1), Some(1500));
}

#[test]
fn ipfix_withdrawal_forgets_the_template() {
    let mut s = Session::default();
    run(&mut s, 1, &ipfix(1, &[set(2, &flow_template())]))
        .0
        .unwrap();
    assert_eq!(s.templates(), 1);
    run(&mut s, 1, &ipfix(1, &[set(2, &[1, 0, 0, 0])]))
        .0
        .unwrap();
    assert_eq!((s.templates(), s.stats().withdrawn), (0, 1));
}

#[test]
fn a_bad_set_is_reported_and_the_rest_still_decodes() {
    let mut s = Session::default();
    let bad = set(0, &[0, 1, 0, 1, 0, 8, 0, 4]); // template id 1: refused
    let p = v9(
        1,
        1,
        &[
            bad,
            set(0, &flow_template()),
            set(256, &flow([10, 0, 0, 1], 1)),
        ],
    );
    let (_, seen) = run(&mut s, 1, &p);
    assert_eq!(seen[0], Seen::Bad("netflow: template id below 256"));
    assert_eq!(seen[1], Seen::Template(256));
    assert!(matches!(seen[2], Seen::Flow(..)));
    let mut broken = v9(1, 1, &[set(256, &flow([10, 0, 0, 1], 1))]);
    broken[22..24].copy_from_slice(&0xfff0u16.to_be_bytes());
    assert_eq!(
        run(&mut s, 1, &broken).1,
        vec![Seen::Bad("netflow: set length out of bounds")]
    );
}

#[test]
fn headers_are_checked() {
    let mut s = Session::default();
    assert!(run(&mut s, 1, &[0, 5, 0, 0]).0.is_err());
    let mut p = ipfix(1, &[]);
    p[2..4].copy_from_slice(&200u16.to_be_bytes());
    assert!(run(&mut s, 1, &p).0.is_err());
}

#[test]
fn truncation_at_every_length_never_panics() {
    let mut s = Session::default();
    let p = v9(
        1,
        1,
        &[set(0, &flow_template()), set(256, &flow([10, 0, 0, 1], 1))],
    );
    let q = ipfix(
        1,
        &[set(2, &flow_template()), set(256, &flow([10, 0, 0, 1], 1))],
    );
    for n in 0..p.len().max(q.len()) {
        let _ = run(&mut s, 1, &p[..n.min(p.len())]);
        let _ = run(&mut s, 1, &q[..n.min(q.len())]);
    }
}

#[test]
fn huge_sampling_values_and_expiry_do_not_overflow() {
    // Options template 300: samplingPacketInterval(305) 8 bytes, samplingPacketSpace(306) 8 bytes.
    let mut s = Session::new(Limits {
        max_templates: 16,
        expiry_secs: u64::MAX,
    });
    let mut ot = Vec::new();
    for v in [300, 2, 1, 305, 8, 306, 8] {
        put16(&mut ot, v);
    }
    let od = [[0xff; 8], [0xff; 8]].concat();
    let p = ipfix(1, &[set(3, &ot), set(300, &od), set(2, &flow_template())]);
    run(&mut s, u64::MAX - 1, &p).0.unwrap();
    let (_, seen) = run(
        &mut s,
        u64::MAX,
        &ipfix(1, &[set(256, &flow([10, 0, 0, 1], 1))]),
    );
    assert!(matches!(seen[0], Seen::Flow(_, None)), "{seen:?}");
}

#[test]
fn an_all_zero_tail_is_padding_not_a_bad_set() {
    let mut s = Session::default();
    let mut p = v9(
        1,
        1,
        &[set(0, &flow_template()), set(256, &flow([10, 0, 0, 1], 1))],
    );
    p.extend_from_slice(&[0; 37]); // a datagram filled up to a fixed size
    let (h, seen) = run(&mut s, 1, &p);
    assert!(h.is_ok());
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(matches!(seen[1], Seen::Flow(..)));
    let t = super::split::template_only(&p).expect("templates are still found");
    assert!(!t.is_empty());
    // a tail that is not all zeros is still a bad set
    let last = p.len() - 1;
    p[last] = 1;
    assert_eq!(
        run(&mut s, 1, &p).1.last(),
        Some(&Seen::Bad("netflow: set length out of bounds"))
    );
}

#[test]
fn selector_rates_from_sampling_size_and_population() {
    // IOS-XR style: options template 260 with scope System(1) 4; selectorId(302) 8, samplingSize(309) 4,
    // samplingPopulation(310) 4: selector 7 takes 1 packet in 256. Flows name selector 7.
    let mut s = Session::default();
    let mut ot = Vec::new();
    for v in [260, 4, 12, 1, 4, 302, 8, 309, 4, 310, 4] {
        put16(&mut ot, v);
    }
    let mut od = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    put32(&mut od, 1);
    put32(&mut od, 256);
    // Template 261: selectorId(302) 8, sourceIPv4Address(8) 4.
    let mut t = Vec::new();
    for v in [261, 2, 302, 8, 8, 4] {
        put16(&mut t, v);
    }
    let d = [vec![0, 0, 0, 0, 0, 0, 0, 7], vec![10, 0, 0, 1]].concat();
    let p = v9(
        1,
        0,
        &[set(1, &ot), set(260, &od), set(0, &t), set(261, &d)],
    );
    let (_, seen) = run(&mut s, 1, &p);
    assert!(
        matches!(seen.last(), Some(Seen::Flow(_, Some(256)))),
        "{seen:?}"
    );
}
