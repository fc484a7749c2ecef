//! The spoofing sink end to end, through the kernel: the receiver must see the original source address and
//! port and the payload byte-exact, whole datagrams and our own fragments alike.
//!
//! Needs root (CAP_NET_RAW, and CAP_SYS_ADMIN for the namespaces). Without it each test skips with a
//! message, unless CI=true: then it fails.
//!
//! - On the host only loopback can be spoofed: 127.0.0.77 for IPv4, ::1 for IPv6.
//! - Real spoofing of foreign addresses runs across a veth pair between two network namespaces with no
//!   default route, MTU 1500 (so 3000 bytes really fragment) and rp_filter off; the namespaces are deleted at
//!   the end even when the test fails.

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use sinks::spoof::{SpoofError, SpoofSink};
use sinks::SinkStats;

const CHILD_ENV: &str = "SEKIWAKE_SPOOF_TEST_CHILD";
const SPOOFED_PORT: u16 = 40000;

/// Whether this test may run: root, or a skip message; under CI=true not being root is a failure.
fn have_root(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid == Some("0") {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CAP_NET_RAW) and CI=true: failing instead of skipping");
    }
    eprintln!("skipping {test}: needs root (CAP_NET_RAW)");
    false
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn receiver(at: &str) -> UdpSocket {
    let rx = UdpSocket::bind(at).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    rx
}

fn expect(rx: &UdpSocket, from: SocketAddr, data: &[u8]) {
    let mut buf = vec![0; 70000];
    let (n, src) = rx
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("waiting for {} bytes from {from}: {e}", data.len()));
    assert_eq!(src, from);
    assert_eq!(n, data.len());
    assert!(buf[..n] == *data, "payload of {n} bytes differs");
}

/// Sends one small, one 3000-byte datagram and a burst at the sink's MTU, then 3000 bytes again at MTU 1500:
/// everything must arrive from `from`, byte-exact.
fn round_trip(rx: &UdpSocket, sink: &mut SpoofSink, from: SocketAddr) {
    let (small, big) = (payload(100, 1), payload(3000, 2));
    sink.send(&[(from, &small), (from, &big)]);
    expect(rx, from, &small);
    expect(rx, from, &big);
    let burst: Vec<Vec<u8>> = (0..64).map(|i| payload(200 + i, i as u8)).collect();
    let batch: Vec<(SocketAddr, &[u8])> = burst.iter().map(|p| (from, p.as_slice())).collect();
    sink.send(&batch);
    for p in &burst {
        expect(rx, from, p);
    }
    sink.set_mtu_cap(1500);
    assert_eq!(sink.mtu(), 1500);
    sink.send(&[(from, &big)]);
    expect(rx, from, &big);
    let forwarded = 3 + burst.len() as u64;
    let want = SinkStats {
        forwarded,
        ..SinkStats::default()
    };
    assert_eq!(sink.stats(), want);
}

#[test]
fn loopback_ipv4_spoofed_source() {
    if !have_root("loopback_ipv4_spoofed_source") {
        return;
    }
    let rx = receiver("127.0.0.1:0");
    let mut sink = SpoofSink::open(rx.local_addr().unwrap()).unwrap();
    assert!(sink.mtu() >= 3028, "loopback MTU {}", sink.mtu());
    let from: SocketAddr = ([127, 0, 0, 77], SPOOFED_PORT).into();
    round_trip(&rx, &mut sink, from);
    let v6: SocketAddr = "[::1]:40000".parse().unwrap();
    sink.send(&[(v6, b"cannot go to an IPv4 collector")]);
    assert_eq!(sink.stats().wrong_family, 1);
}

#[test]
fn loopback_ipv6_from_loopback() {
    if !have_root("loopback_ipv6_from_loopback") {
        return;
    }
    let rx = receiver("[::1]:0");
    let mut sink = SpoofSink::open(rx.local_addr().unwrap()).unwrap();
    let from: SocketAddr = "[::1]:40000".parse().unwrap();
    round_trip(&rx, &mut sink, from);
}

/// Two network namespaces joined by a veth pair; deleted on drop (deleting a namespace deletes its veth end).
struct Namespaces {
    a: String,
    b: String,
    veth_a: String,
    veth_b: String,
}

impl Namespaces {
    fn create() -> Self {
        let id = std::process::id();
        let ns = Self {
            a: format!("skw-spoof-a-{id}"),
            b: format!("skw-spoof-b-{id}"),
            veth_a: format!("skwa{id}"),
            veth_b: format!("skwb{id}"),
        };
        ns.setup();
        ns
    }

    fn setup(&self) {
        let (a, b, va, vb) = (&self.a, &self.b, &self.veth_a, &self.veth_b);
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        ip(&["link", "add", va, "type", "veth", "peer", "name", vb]);
        ip(&["link", "set", va, "netns", a]);
        ip(&["link", "set", vb, "netns", b]);
        for (ns, dev, v4, v6) in [
            (a, va, "198.51.100.1/24", "2001:db8:5::1/64"),
            (b, vb, "198.51.100.2/24", "2001:db8:5::2/64"),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "mtu", "1500", "up"]);
            ip(&["-n", ns, "addr", "add", v4, "dev", dev]);
            ip(&["-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
            let all = "net.ipv4.conf.all.rp_filter=0".to_string();
            let dev_rp = format!("net.ipv4.conf.{dev}.rp_filter=0");
            run("ip", &["netns", "exec", ns, "sysctl", "-qw", &all, &dev_rp]);
        }
    }

    /// Runs `f` on a thread inside namespace `ns`; sockets it opens stay in that namespace.
    fn inside<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let handle = File::open(format!("/run/netns/{ns}")).unwrap();
        std::thread::spawn(move || {
            setns(&handle, CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        // Only there if setup failed before moving it.
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth_a])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Datagrams namespace `ns` reassembled from fragments, IPv4 and IPv6 together.
fn reassembled(ns: &str) -> u64 {
    Namespaces::inside(ns, || {
        let read = |f: &str| std::fs::read_to_string(format!("/proc/thread-self/net/{f}")).unwrap();
        let snmp = read("snmp");
        let mut ip = snmp.lines().filter(|l| l.starts_with("Ip:"));
        let (names, values) = (ip.next().unwrap(), ip.next().unwrap());
        let v4 = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == "ReasmOKs")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap();
        let snmp6 = read("snmp6");
        let v6 = snmp6
            .lines()
            .find_map(|l| l.strip_prefix("Ip6ReasmOKs"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap();
        v4 + v6
    })
}

fn ip(args: &[&str]) {
    run("ip", args);
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Spoofs foreign addresses (no route back to them anywhere) across veth at MTU 1500, IPv4 and IPv6.
#[test]
fn namespaces_real_spoofing_and_fragments() {
    if !have_root("namespaces_real_spoofing_and_fragments") {
        return;
    }
    let ns = Namespaces::create();
    for (listen, from) in [
        ("198.51.100.2:0", "203.0.113.77:40000"),
        ("[2001:db8:5::2]:0", "[2001:db8:77::77]:40000"),
    ] {
        let rx = Namespaces::inside(&ns.b, move || receiver(listen));
        let dest = rx.local_addr().unwrap();
        let mut sink = Namespaces::inside(&ns.a, move || SpoofSink::open(dest)).unwrap();
        assert_eq!(sink.mtu(), 1500, "path MTU over the veth");
        let from: SocketAddr = from.parse().unwrap();
        let (small, big) = (payload(100, 3), payload(3000, 4));
        sink.send(&[(from, &small), (from, &big)]);
        expect(&rx, from, &small);
        expect(&rx, from, &big);
        assert_eq!(sink.stats().forwarded, 2);
    }
    // The 3000-byte datagrams crossed the veth as our fragments, one reassembly per family.
    assert_eq!(reassembled(&ns.b), 2);
}

/// Without CAP_NET_RAW `open` says so. Runs itself again under setpriv with the capability dropped.
#[test]
fn without_cap_net_raw_open_is_a_clear_error() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let dest: SocketAddr = ([127, 0, 0, 1], 9).into();
        let e = SpoofSink::open(dest).err().expect("open must fail");
        assert!(matches!(e, SpoofError::NoCapability), "{e:?}");
        assert_eq!(
            e.to_string(),
            "spoofing needs CAP_NET_RAW (run as root or grant the capability)"
        );
        return;
    }
    if !have_root("without_cap_net_raw_open_is_a_clear_error") {
        return;
    }
    let me = std::env::current_exe().unwrap();
    let status = Command::new("setpriv")
        .args(["--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"])
        .arg(me)
        .args(["--exact", "without_cap_net_raw_open_is_a_clear_error"])
        .env(CHILD_ENV, "1")
        .status()
        .expect("setpriv (util-linux) runs the test without CAP_NET_RAW");
    assert!(status.success(), "the child without CAP_NET_RAW: {status}");
}
