//! The encapsulation fixtures (tests/data/encap, written by tests/e2e/tools/mkencap.py and checked against
//! tshark by tests/e2e/test_encapsulations.py): every frame gives its inner telemetry datagram, with the
//! exporter's addresses and ports, and the encapsulations it passed are counted.

use std::net::SocketAddr;

use capture::{Body, DefragConfig, FileSource, FrameParser, LoopGuard, Sources, Status};
use wire::classify::Classifier;
use wire::encap::Encap;
use wire::kind::Kind;

/// (exporter, collector, kind) of each datagram in the file, in order.
type Datagram = (SocketAddr, SocketAddr, Kind);

fn replay(name: &str) -> (Vec<Datagram>, capture::FrameStats) {
    let path = format!(
        "{}/tests/data/encap/{name}.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut source = Sources::File(FileSource::open(&path, false).expect("fixture"));
    let mut parser = FrameParser::new(
        Classifier::default(),
        DefragConfig::default(),
        LoopGuard::default(),
    );
    let mut got = Vec::new();
    loop {
        let status = source
            .poll(0, &mut |pkt| {
                let Body::Frame { link, data, .. } = pkt.body else {
                    panic!("a pcap gives frames");
                };
                if let Some(c) = parser.frame(link, pkt.ts_ns, data) {
                    got.push((c.src, c.dst, c.class.kind));
                }
            })
            .expect("read");
        if status == Status::Ended {
            return (got, parser.stats());
        }
    }
}

fn syslog_v4() -> Datagram {
    let (a, b): (SocketAddr, SocketAddr) = (
        "198.51.100.7:40000".parse().unwrap(),
        "198.51.100.9:514".parse().unwrap(),
    );
    (a, b, Kind::Syslog)
}

fn syslog_v6() -> Datagram {
    (
        "[2001:db8::7]:40000".parse().unwrap(),
        "[2001:db8::9]:514".parse().unwrap(),
        Kind::Syslog,
    )
}

fn netflow_v4() -> Datagram {
    (
        "198.51.100.7:40001".parse().unwrap(),
        "198.51.100.9:2055".parse().unwrap(),
        Kind::NetflowV5,
    )
}

fn netflow_v6() -> Datagram {
    (
        "[2001:db8::7]:40001".parse().unwrap(),
        "[2001:db8::9]:2055".parse().unwrap(),
        Kind::NetflowV5,
    )
}

fn check(name: &str, want: &[Datagram], kinds: &[Encap]) {
    let (got, stats) = replay(name);
    assert_eq!(got, want, "{name}: {stats:?}");
    assert_eq!(
        stats.tunnelled, stats.frames,
        "{name}: every frame is tunnelled"
    );
    assert_eq!(
        (stats.malformed, stats.not_udp, stats.mismatched),
        (0, 0, 0),
        "{name}"
    );
    for e in Encap::ALL {
        let want = if kinds.contains(&e) { stats.frames } else { 0 };
        assert_eq!(
            stats.encapsulations[e.index()],
            want,
            "{name}: {}",
            e.name()
        );
    }
}

#[test]
fn pppoe() {
    check("pppoe", &[syslog_v4(), netflow_v6()], &[Encap::Pppoe]);
}

#[test]
fn mpls() {
    check(
        "mpls",
        &[syslog_v4(), netflow_v6(), syslog_v4()],
        &[Encap::Mpls],
    );
}

#[test]
fn ip_in_ip() {
    check("ipip", &[syslog_v4(), netflow_v4()], &[Encap::Ipv4InIp]);
    check("ip6in4", &[syslog_v6(), netflow_v6()], &[Encap::Ipv6InIp]);
}

#[test]
fn gre() {
    check(
        "gre",
        &[syslog_v4(), netflow_v6(), syslog_v4()],
        &[Encap::Gre],
    );
}

#[test]
fn erspan() {
    check(
        "erspan2",
        &[syslog_v4(), netflow_v4()],
        &[Encap::Gre, Encap::Erspan2],
    );
    check(
        "erspan3",
        &[syslog_v4(), netflow_v6()],
        &[Encap::Gre, Encap::Erspan3],
    );
}

#[test]
fn vxlan() {
    check("vxlan", &[syslog_v4(), netflow_v6()], &[Encap::Vxlan]);
}

#[test]
fn fragmented_gre_is_reassembled_then_walked() {
    let (got, stats) = replay("gre-fragmented");
    assert_eq!(got, [syslog_v4()]);
    assert_eq!((stats.frames, stats.defrag.reassembled), (2, 1));
    assert_eq!(
        stats.encapsulations[Encap::Gre.index()],
        1,
        "counted once, when whole"
    );
}
