//! The per-datagram hot path, piece by piece: classification, frame decoding, envelope encode and decode,
//! reassembly. `cargo bench -p sekiwake-capture` (results in target/criterion).

use std::hint::black_box;
use std::net::IpAddr;

use capture::{DefragConfig, FrameParser, LoopGuard};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use envelope::{Envelope, Header};
use wire::classify::Classifier;
use wire::ip::Fragment;
use wire::kind::Kind;
use wire::link::LinkType;

fn syslog_payload(len: usize) -> Vec<u8> {
    let mut p = b"<134>Nov 26 08:37:46 edge-rtr-1 sshd[4242]: seq=1 ".to_vec();
    p.resize(len, b'x');
    p
}

fn eth_udp_frame(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let udp_len = 8 + payload.len();
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn classification(c: &mut Criterion) {
    let classifier = Classifier::default();
    let payload = syslog_payload(200);
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("syslog_200B", |b| {
        b.iter(|| classifier.classify(black_box(514), black_box(&payload)))
    });
    let mut v9 = vec![0u8; 1400];
    v9[1] = 9;
    v9[22..24].copy_from_slice(&1380u16.to_be_bytes());
    g.bench_function("netflow_v9_1400B", |b| {
        b.iter(|| classifier.classify(black_box(2055), black_box(&v9)))
    });
    g.finish();
}

fn decode_frame(c: &mut Criterion) {
    let mut d = FrameParser::new(
        Classifier::default(),
        DefragConfig::default(),
        LoopGuard::default(),
    );
    let frame = eth_udp_frame(514, &syslog_payload(200));
    let mut g = c.benchmark_group("decode_frame");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet_ipv4_udp_syslog_200B", |b| {
        b.iter(|| {
            d.frame(LinkType::ETHERNET, 1, black_box(&frame))
                .map(|c| c.payload.len())
        })
    });
    g.finish();
}

fn envelopes(c: &mut Criterion) {
    let payload = syslog_payload(200);
    let header = Header {
        variant: 1,
        src: "192.0.2.10".parse().unwrap(),
        dst: "192.0.2.1".parse().unwrap(),
        src_port: 40000,
        dst_port: 514,
        ..Header::for_kind(Kind::Syslog)
    };
    let mut body = Vec::with_capacity(2048);
    let mut topic = Vec::with_capacity(64);
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_with_topic_200B", |b| {
        b.iter(|| {
            header.encode(black_box(&payload), &mut body);
            let bucket = envelope::exporter_bucket(header.src);
            envelope::write_topic("syslog", header.src, bucket, &mut topic);
        })
    });
    header.encode(&payload, &mut body);
    g.bench_function("decode_check_200B", |b| {
        b.iter(|| {
            let e = Envelope::new_checked(black_box(&body[..])).unwrap();
            (e.kind(), e.sequence(), e.payload().len())
        })
    });
    g.finish();
}

fn reassembly(c: &mut Criterion) {
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let dst: IpAddr = "192.0.2.2".parse().unwrap();
    let data = vec![7u8; 3000];
    let mut r = capture::defrag::Reassembler::new(DefragConfig::default());
    let mut id = 0u32;
    let mut g = c.benchmark_group("defrag");
    g.throughput(Throughput::Elements(1));
    g.bench_function("3000B_in_3_fragments_reversed", |b| {
        b.iter(|| {
            id = id.wrapping_add(1);
            let mut whole = 0;
            for (i, chunk) in data.chunks(1000).enumerate().rev() {
                let f = Fragment {
                    id,
                    protocol: 17,
                    offset: i * 1000,
                    more: i < 2,
                    data: chunk,
                };
                if let capture::defrag::Reassembly::Complete { payload, .. } =
                    r.push(1, src, dst, &f)
                {
                    whole = payload.len();
                }
            }
            whole
        })
    });
    g.finish();
}

/// An IPFIX message: a template (id 256, eight 4-byte fields) when `template`, then `records` records.
fn ipfix_message(sequence: u32, template: bool, records: u16) -> Vec<u8> {
    let mut sets = Vec::new();
    if template {
        sets.extend_from_slice(&[0, 2, 0, 40, 1, 0, 0, 8]);
        for ie in [8u16, 12, 7, 11, 4, 2, 1, 10] {
            sets.extend_from_slice(&ie.to_be_bytes());
            sets.extend_from_slice(&4u16.to_be_bytes());
        }
    }
    sets.extend_from_slice(&256u16.to_be_bytes());
    sets.extend_from_slice(&(4 + 32 * records).to_be_bytes());
    sets.resize(sets.len() + 32 * usize::from(records), 7);
    let mut p = vec![0, 10];
    p.extend_from_slice(&(16 + sets.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend(sets);
    p
}

/// Capture's per-exporter table: the lookup every datagram pays, and the sequence check of the flow kinds
/// (an IPFIX message's data records are counted with its templates).
fn exporter_table(c: &mut Criterion) {
    use capture::exporters::{Exporters, Offer};
    let mut g = c.benchmark_group("exporters");
    g.throughput(Throughput::Elements(1));
    let exporters: Vec<IpAddr> = (0..256u32)
        .map(|i| IpAddr::from([10, 0, (i >> 8) as u8, i as u8]))
        .collect();
    let syslog = syslog_payload(200);
    let mut t = Exporters::new(16_384);
    let mut i = 0usize;
    g.bench_function("syslog_256_exporters", |b| {
        b.iter(|| {
            i = (i + 1) % exporters.len();
            t.offered(
                exporters[i],
                Kind::Syslog,
                0,
                black_box(&syslog),
                0,
                Offer::Published,
            )
        })
    });
    let mut t = Exporters::new(16_384);
    let mut seq = 0u32;
    let mut v9 = vec![0u8; 1400];
    v9[1] = 9;
    g.bench_function("netflow_v9_1400B", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            v9[12..16].copy_from_slice(&seq.to_be_bytes());
            t.offered(
                exporters[0],
                Kind::NetflowV9,
                0,
                black_box(&v9),
                0,
                Offer::Published,
            )
        })
    });
    let mut t = Exporters::new(16_384);
    t.offered(
        exporters[0],
        Kind::Ipfix,
        0,
        &ipfix_message(0, true, 0),
        0,
        Offer::Published,
    );
    let mut ipfix = ipfix_message(0, false, 40);
    let mut seq = 0u32;
    g.bench_function("ipfix_40_records", |b| {
        b.iter(|| {
            ipfix[8..12].copy_from_slice(&seq.to_be_bytes());
            seq = seq.wrapping_add(40);
            t.offered(
                exporters[0],
                Kind::Ipfix,
                0,
                black_box(&ipfix),
                0,
                Offer::Published,
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    classification,
    decode_frame,
    envelopes,
    reassembly,
    exporter_table
);
criterion_main!(benches);
