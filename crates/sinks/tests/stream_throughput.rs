//! A bounded throughput measurement into rsyslogd over TCP and TLS (ignored by default):
//! `cargo test --release -p sekiwake-sinks --test stream_throughput -- --ignored --nocapture`

mod stream_support;

use std::time::{Duration, Instant};

use sinks::stream::{StreamConfig, StreamSink};
use stream_support::{eventually, free_port, have, make_pki, Listener, Rsyslog, TempDir};

const N: usize = 200_000;
const SIZE: usize = 200;

fn measure(label: &str, mut cfg: StreamConfig, rs: &Rsyslog) {
    cfg.queue_messages = N + 1;
    let sink = StreamSink::start(cfg).unwrap();
    assert!(eventually(Duration::from_secs(5), || sink
        .stats()
        .connected));
    let payloads: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut m =
                format!("<134>1 2024-05-01T10:00:00Z host bench - - - seq={i:08} ").into_bytes();
            m.resize(SIZE, b'x');
            m
        })
        .collect();
    let t0 = Instant::now();
    for p in &payloads {
        assert!(sink.offer(p));
    }
    let offered = t0.elapsed();
    let want = (N * (SIZE + 5)) as u64; // "<<" RAW ">>\n"
    assert!(
        eventually(Duration::from_secs(60), || rs.log_size() >= want),
        "{} of {want}",
        rs.log_size()
    );
    let stored = t0.elapsed();
    let st = sink.shutdown(Duration::from_secs(5));
    assert_eq!((st.forwarded, st.dropped_full), (N as u64, 0));
    let rate = |d: Duration| N as f64 / d.as_secs_f64();
    eprintln!(
        "{label}: {N} x {SIZE} B: offer {:.0}/s ({offered:.2?}); in rsyslog's file after {stored:.2?}: {:.0} msgs/s",
        rate(offered),
        rate(stored)
    );
}

#[test]
#[ignore]
fn throughput_tcp_and_tls_into_rsyslog() {
    if !have(&["rsyslogd", "rsyslog-gnutls", "openssl"]) {
        return;
    }
    let dir = TempDir::new("bench-tcp");
    let mut rs = Rsyslog::new(&dir, free_port(), Listener::Tcp);
    rs.start();
    measure(
        "tcp",
        StreamConfig::parse(&format!("tcp://127.0.0.1:{}", rs.port)).unwrap(),
        &rs,
    );
    drop(rs);

    let dir = TempDir::new("bench-tls");
    make_pki(&dir);
    let mut rs = Rsyslog::new(
        &dir,
        free_port(),
        Listener::Tls {
            cert: "server",
            mutual: false,
        },
    );
    rs.start();
    let mut cfg = StreamConfig::parse(&format!("tls://127.0.0.1:{}", rs.port)).unwrap();
    cfg.tls.ca_file = Some(dir.path("ca.pem"));
    measure("tls", cfg, &rs);
}
