//! The stream sink against a plain std TCP peer in the test: what was written into a connection the peer had
//! already closed comes again, in order, on the next connection. No external tools.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sinks::stream::{frame, Framing, StreamConfig, StreamSink};

fn msg(i: usize) -> Vec<u8> {
    format!("<13>local seq={i:04}").into_bytes()
}

fn read_frames(conn: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let mut chunk = [0u8; 4096];
        let got = conn.read(&mut chunk).expect("peer read");
        assert!(got > 0, "sink closed early after {} frames", out.len());
        buf.extend_from_slice(&chunk[..got]);
        while let Some((m, used)) = split_frame(&buf) {
            out.push(m);
            buf.drain(..used);
        }
    }
    assert!(
        buf.is_empty(),
        "{} frames, then {} stray bytes",
        n,
        buf.len()
    );
    out
}

fn split_frame(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let sp = buf.iter().position(|&b| b == b' ')?;
    let len: usize = std::str::from_utf8(&buf[..sp]).ok()?.parse().ok()?;
    let end = sp + 1 + len;
    (buf.len() >= end).then(|| (buf[sp + 1..end].to_vec(), end))
}

/// One round: A is read and the peer closes; B is offered right away (usually into the closed socket).
/// Returns how many messages the sink resent.
fn round() -> u64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = StreamSink::start(StreamConfig::parse(&format!("tcp://127.0.0.1:{port}")).unwrap())
        .unwrap();
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..20).collect(), (20..70).collect());
    for &i in &a {
        assert!(sink.offer(&msg(i)));
    }
    let (mut first, _) = listener.accept().unwrap();
    assert_eq!(
        read_frames(&mut first, a.len()),
        a.iter().map(|&i| msg(i)).collect::<Vec<_>>()
    );
    // Once A is acknowledged the sink idles on its queue; closing now and offering B right away has the sink
    // write B before it polls the socket again (it polls every 20 ms when idle).
    let until = Instant::now() + Duration::from_secs(5);
    while sink.stats().forwarded < a.len() as u64 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(first);
    for &i in &b {
        assert!(sink.offer(&msg(i)));
    }
    let (mut second, _) = listener.accept().unwrap();
    let got = read_frames(&mut second, b.len());
    assert_eq!(
        got,
        b.iter().map(|&i| msg(i)).collect::<Vec<_>>(),
        "B whole and in order"
    );
    let st = sink.shutdown(Duration::from_secs(2));
    assert_eq!(
        (
            st.forwarded,
            st.dropped_at_exit,
            st.disconnects,
            st.connects
        ),
        (70, 0, 1, 2)
    );
    if st.resent == 0 {
        eprintln!("no resend: {st:?}");
    }
    st.resent
}

#[test]
fn messages_written_into_a_closed_connection_are_resent() {
    // Whether B reaches the socket before the sink sees the FIN is a race the sink nearly always loses; every
    // round must be lossless, and at least one must have gone through the resend path.
    let resent: Vec<u64> = (0..5).map(|_| round()).collect();
    eprintln!("resent per round: {resent:?}");
    assert!(resent.iter().any(|&r| r > 0), "{resent:?}");
}

#[test]
fn frames_are_what_the_sink_writes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = StreamSink::start(
        StreamConfig::parse(&format!("tcp://127.0.0.1:{port}?framing=lf")).unwrap(),
    )
    .unwrap();
    sink.offer(b"<13>a\n");
    sink.offer(b"<13>b");
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    while got.len() < 12 {
        let mut chunk = [0u8; 64];
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(
        got,
        [frame(Framing::Lf, b"<13>a"), frame(Framing::Lf, b"<13>b")].concat()
    );
    assert_eq!(got, b"<13>a\n<13>b\n");
}
