//! The stream sink against a real rsyslogd (imtcp; gtls for TLS). Needs rsyslog, rsyslog-gnutls and openssl:
//! skipped with a note when missing, failing when CI=true.

mod stream_support;

use std::time::{Duration, Instant};

use sinks::stream::{StreamConfig, StreamSink};
use stream_support::{
    eventually, free_port, have, make_pki, message, seq_of, Listener, Rsyslog, TempDir,
};

const WAIT: Duration = Duration::from_secs(10);

fn tcp_peer(tag: &str) -> Option<(TempDir, Rsyslog)> {
    if !have(&["rsyslogd"]) {
        return None;
    }
    let dir = TempDir::new(tag);
    let rs = Rsyslog::new(&dir, free_port(), Listener::Tcp);
    Some((dir, rs))
}

fn tls_peer(tag: &str, cert: &'static str, mutual: bool) -> Option<(TempDir, Rsyslog)> {
    if !have(&["rsyslogd", "rsyslog-gnutls", "openssl"]) {
        return None;
    }
    let dir = TempDir::new(tag);
    make_pki(&dir);
    let rs = Rsyslog::new(&dir, free_port(), Listener::Tls { cert, mutual });
    Some((dir, rs))
}

/// Sends `n` messages, waits for rsyslog to have them, checks order and bytes, shuts the sink down.
fn deliver_and_check(sink: StreamSink, rs: &Rsyslog, n: usize, expect: impl Fn(&[u8]) -> Vec<u8>) {
    let sent: Vec<Vec<u8>> = (0..n).map(|i| message(i, true)).collect();
    for m in &sent {
        assert!(sink.offer(m));
    }
    let got = rs.wait_records(n, WAIT);
    let want: Vec<Vec<u8>> = sent.iter().map(|m| expect(m)).collect();
    assert_eq!(got.len(), n, "records");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i}: {:?}", String::from_utf8_lossy(g));
    }
    assert!(
        eventually(WAIT, || sink.stats().forwarded == n as u64),
        "{:?}",
        sink.stats()
    );
    let st = sink.shutdown(Duration::from_secs(2));
    assert_eq!(
        (
            st.offered,
            st.forwarded,
            st.dropped_full,
            st.dropped_at_exit
        ),
        (n as u64, n as u64, 0, 0)
    );
    assert_eq!(
        (
            st.connects,
            st.disconnects,
            st.queued_messages,
            st.queued_bytes
        ),
        (1, 0, 0, 0)
    );
}

#[test]
fn tcp_octet_counted_in_order_byte_exact() {
    let Some((_dir, mut rs)) = tcp_peer("oc") else {
        return;
    };
    rs.start();
    let sink =
        StreamSink::start(StreamConfig::parse(&format!("tcp://127.0.0.1:{}", rs.port)).unwrap())
            .unwrap();
    // Octet counting carries LF and tabs inside a message, byte for byte.
    deliver_and_check(sink, &rs, 2000, |m| m.to_vec());
}

#[test]
fn tcp_lf_framing() {
    let Some((_dir, mut rs)) = tcp_peer("lf") else {
        return;
    };
    rs.start();
    let sink = StreamSink::start(
        StreamConfig::parse(&format!("tcp://127.0.0.1:{}?framing=lf", rs.port)).unwrap(),
    )
    .unwrap();
    let n = 500;
    // A datagram's trailing LF is the frame's LF, not an empty message.
    for i in 0..n {
        let mut m = message(i, false);
        if i % 2 == 0 {
            m.push(b'\n');
        }
        assert!(sink.offer(&m));
    }
    let got = rs.wait_records(n, WAIT);
    let want: Vec<Vec<u8>> = (0..n).map(|i| message(i, false)).collect();
    assert_eq!(got, want);
    let st = sink.shutdown(Duration::from_secs(2));
    assert_eq!((st.forwarded, st.dropped_at_exit), (n as u64, 0));
}

#[test]
fn tls_with_ca_file_verification() {
    let Some((dir, mut rs)) = tls_peer("tls", "server", false) else {
        return;
    };
    rs.start();
    let mut cfg = StreamConfig::parse(&format!("tls://127.0.0.1:{}", rs.port)).unwrap();
    cfg.tls.ca_file = Some(dir.path("ca.pem"));
    let sink = StreamSink::start(cfg).unwrap();
    deliver_and_check(sink, &rs, 1000, |m| m.to_vec());
}

#[test]
fn tls_mutual_with_client_certificate_and_server_name() {
    let Some((dir, mut rs)) = tls_peer("mtls", "server", true) else {
        return;
    };
    rs.start();
    let mut cfg = StreamConfig::parse(&format!("tls://127.0.0.1:{}", rs.port)).unwrap();
    cfg.tls.ca_file = Some(dir.path("ca.pem"));
    cfg.tls.server_name = Some("localhost".into());
    cfg.tls.client_cert = Some(dir.path("client.pem"));
    cfg.tls.client_key = Some(dir.path("client.key"));
    let sink = StreamSink::start(cfg).unwrap();
    deliver_and_check(sink, &rs, 300, |m| m.to_vec());
}

#[test]
fn tls_refuses_a_server_certificate_from_another_ca() {
    let Some((dir, mut rs)) = tls_peer("rogue", "rogue", false) else {
        return;
    };
    rs.start();
    let mut cfg = StreamConfig::parse(&format!("tls://127.0.0.1:{}", rs.port)).unwrap();
    cfg.tls.ca_file = Some(dir.path("ca.pem"));
    let sink = StreamSink::start(cfg).unwrap();
    for i in 0..10 {
        assert!(sink.offer(&message(i, false)));
    }
    assert!(
        eventually(WAIT, || sink.stats().connect_failures >= 2),
        "{:?}",
        sink.stats()
    );
    let st = sink.stats();
    assert_eq!(
        (st.connects, st.connected, st.forwarded, st.queued_messages),
        (0, false, 0, 10)
    );
    let err = st.last_error.unwrap_or_default();
    assert!(err.contains("certificate"), "{err}");
    assert!(rs.records().is_empty());
    let st = sink.shutdown(Duration::ZERO);
    assert_eq!((st.dropped_at_exit, st.queued_messages), (10, 0));
}

#[test]
fn outage_is_bridged_in_order() {
    let Some((_dir, mut rs)) = tcp_peer("outage") else {
        return;
    };
    rs.start();
    let sink =
        StreamSink::start(StreamConfig::parse(&format!("tcp://127.0.0.1:{}", rs.port)).unwrap())
            .unwrap();
    let mut next = 0;
    let mut offer_for = |sink: &StreamSink, d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            assert!(sink.offer(&message(next, true)));
            next += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    offer_for(&sink, Duration::from_millis(800));
    rs.stop();
    assert!(
        eventually(WAIT, || !sink.stats().connected),
        "loss of the idle peer is noticed"
    );
    offer_for(&sink, Duration::from_secs(3));
    assert!(sink.stats().queued_messages > 0);
    rs.start();
    offer_for(&sink, Duration::from_millis(300));
    let n = next;

    let got = rs.wait_records(n, WAIT);
    let st = sink.shutdown(Duration::from_secs(5));
    let seqs: Vec<usize> = got.iter().map(|r| seq_of(r)).collect();
    let mut first_seen = Vec::new();
    let mut seen = vec![false; n];
    for &s in &seqs {
        if !std::mem::replace(&mut seen[s], true) {
            first_seen.push(s);
        }
    }
    let duplicates = seqs.len() - first_seen.len();
    eprintln!("outage: {n} messages, {duplicates} duplicates, stats {st:?}");
    assert_eq!(
        first_seen,
        (0..n).collect::<Vec<_>>(),
        "every message, in order"
    );
    assert!(
        duplicates as u64 <= st.resent,
        "duplicates only from resends"
    );
    for (r, &s) in got.iter().zip(&seqs) {
        assert_eq!(r, &message(s, true));
    }
    assert_eq!(
        (st.forwarded, st.dropped_full, st.dropped_at_exit),
        (n as u64, 0, 0)
    );
    assert!(
        st.connects >= 2 && st.disconnects >= 1 && st.connect_failures >= 1,
        "{st:?}"
    );
}

#[test]
fn bound_drops_the_excess_and_delivers_the_rest_after_restart() {
    let Some((_dir, mut rs)) = tcp_peer("bound") else {
        return;
    };
    let mut cfg = StreamConfig::parse(&format!("tcp://127.0.0.1:{}", rs.port)).unwrap();
    cfg.queue_messages = 100;
    // The point is the bound, not the backoff: retry often so that delivery follows rsyslog's start closely.
    cfg.backoff_max = Duration::from_millis(250);
    let sink = StreamSink::start(cfg).unwrap();
    let accepted = (0..150).filter(|&i| sink.offer(&message(i, false))).count();
    let st = sink.stats();
    assert_eq!(
        (accepted, st.dropped_full, st.queued_messages),
        (100, 50, 100)
    );
    rs.start();
    let got = rs.wait_records(100, WAIT);
    assert_eq!(
        got,
        (0..100).map(|i| message(i, false)).collect::<Vec<_>>(),
        "sink {:?}; rsyslogd: {}",
        sink.stats(),
        rs.stderr()
    );
    let st = sink.shutdown(Duration::from_secs(2));
    assert_eq!(
        (
            st.offered,
            st.forwarded,
            st.dropped_full,
            st.dropped_at_exit
        ),
        (150, 100, 50, 0)
    );
}
