"""Encapsulated telemetry, as ISP edges and mirror ports deliver it: PPPoE sessions, MPLS label stacks (and an
Ethernet pseudo-wire), IPv4/IPv6 in IP, GRE (with checksum, key, sequence; over IPv6; bridging Ethernet),
ERSPAN types I, II and III, VXLAN, and a GRE packet fragmented on the outside. The fixtures are
crates/capture/tests/data/encap/*.pcap (tests/e2e/tools/mkencap.py). tshark is the oracle: what capture
publishes and what decode reads must be tshark's innermost UDP datagram, address for address and byte for
byte, and the encapsulations counted must be the ones tshark dissects."""

import json
import subprocess
from collections import Counter

import pytest

from decode_oracle import decode
from helpers.bus import BusSubscriber
from helpers.env import PY, REPO
from helpers.gating import require_programs, require_sekiwake
from helpers.net import free_port
from helpers.netns import NetnsPair

FIXTURES = REPO / "crates" / "capture" / "tests" / "data" / "encap"
NAMES = ["pppoe", "mpls", "ipip", "ip6in4", "gre", "erspan2", "erspan3", "vxlan", "gre-fragmented"]
# tshark guesses an MPLS payload starting with nibble 0 as an Ethernet pseudo-wire *without* control word;
# RFC 4385 (and capture) read that nibble as the control word. Tell tshark which label carries one.
DECODE_AS = {"mpls": ["mpls.label==18,pwethcw"]}
FIELDS = ["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
          "udp.payload", "erspan.version"]
IP_LAYERS = ("ip", "ipv6")


def tshark_frames(pcap, decode_as=()):
    """One dict per frame holding UDP: each field's occurrences, outermost first."""
    argv = ["tshark", "-r", str(pcap), "-n", "-o", "ip.defragment:TRUE", "-o", "ipv6.defragment:TRUE"]
    for d in decode_as:
        argv += ["-d", d]
    argv += ["-Y", "udp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=|"]
    for f in FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [{f: (v.split(",") if v else []) for f, v in zip(FIELDS, line.split("|"))}
            for line in out.stdout.splitlines()]


def innermost(frame):
    """(src, sport, dst, dport, payload) of the innermost UDP datagram tshark dissected."""
    layers = frame["frame.protocols"][0].split(":")
    last_ip = [layer for layer in layers if layer in IP_LAYERS][-1]
    src, dst = frame[f"{last_ip}.src"][-1], frame[f"{last_ip}.dst"][-1]
    return (src, int(frame["udp.srcport"][-1]), dst, int(frame["udp.dstport"][-1]),
            bytes.fromhex(frame["udp.payload"][-1].replace(":", "")))


def encapsulations(frame):
    """The kinds capture counts, as tshark's layers name them (each kind once per frame)."""
    layers = frame["frame.protocols"][0].split(":")
    kinds = set()
    for before, layer in zip(layers, layers[1:]):
        if before in IP_LAYERS and layer in IP_LAYERS:
            kinds.add("ipv4_in_ip" if layer == "ip" else "ipv6_in_ip")
    names = {"pppoes": "pppoe", "mpls": "mpls", "gre": "gre", "vxlan": "vxlan"}
    kinds |= {names[layer] for layer in layers if layer in names}
    if "erspan" in layers:
        # Type I has no ERSPAN header (no version); it shares type II's GRE protocol and counter.
        kinds.add("erspan3" if frame["erspan.version"] == ["2"] else "erspan2")
    return kinds


@pytest.fixture(scope="module")
def oracle():
    require_programs("tshark")
    return {name: tshark_frames(FIXTURES / f"{name}.pcap", DECODE_AS.get(name, ())) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_capture_publishes_the_innermost_datagram_as_tshark_reads_it(sekiwake, oracle, tmp_path, name):
    want = [innermost(f) for f in oracle[name]]
    assert want and all(dport in (514, 2055) for _, _, _, dport, _ in want), want
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture(pcap=str(FIXTURES / f"{name}.pcap"), publish=bus, wait_subscribers=1)
    sub = BusSubscriber(tmp_path, bus, count=len(want), timeout=30).start()
    rc, stats = cap.wait_exit(30)
    got = sub.wait_done()

    assert rc == 0, cap.output()
    assert [(g["src"], g["src_port"], g["dst"], g["dst_port"], bytes.fromhex(g["payload_hex"])) for g in got] \
        == want, sub.output()
    assert [g["kind"] for g in got] == ["syslog" if dport == 514 else "netflow-v5" for *_, dport, _ in want]
    assert stats["captured_total"] == stats["published"] == len(want)
    assert (stats["malformed"], stats["not_udp"], stats["mismatched"], stats["encap_too_deep"]) == (0, 0, 0, 0)
    counted = Counter(k for f in oracle[name] for k in encapsulations(f))
    assert {k: n for k, n in stats["encapsulations"].items() if n} == dict(counted)
    assert stats["tunnelled"] == len(want)


@pytest.mark.parametrize("name", NAMES)
def test_decode_reads_the_innermost_datagram(oracle, name):
    require_sekiwake()
    records, summary = decode(FIXTURES / f"{name}.pcap", {})
    want = [innermost(f) for f in oracle[name]]
    assert summary["datagrams"] == len(want) == summary["tunnelled"], summary
    assert [r["exporter"] for r in records] == [src for src, *_ in want]
    kinds = ["syslog" if dport == 514 else "netflow-v5" for *_, dport, _ in want]
    assert [r["kind"] for r in records] == kinds
    for r, (*_, payload) in zip(records, want):
        if r["kind"] == "syslog":
            assert payload.decode().endswith(r["message"]), (r, payload)
        else:
            assert (r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"]) == ("10.0.0.1", "10.0.0.2",
                                                                                   43210, 443)
    counted = Counter(k for f in oracle[name] for k in encapsulations(f))
    assert {k: n for k, n in summary["encapsulations"].items() if n} == dict(counted)


def inject(netns, dev, frames):
    """Send raw Ethernet frames out of dev inside netns (an AF_PACKET socket in a short python child)."""
    code = ("import socket,sys,json\n"
            "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind((sys.argv[1],0))\n"
            "[s.send(bytes.fromhex(f)) for f in json.loads(sys.argv[2])]\n")
    out = subprocess.run(["ip", "netns", "exec", netns, PY, "-c", code, dev, json.dumps([f.hex() for f in frames])],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_live_capture_filter_lets_every_tunnel_through(sekiwake, oracle, tmp_path):
    """The BPF filter of a live capture cannot see inside tunnels: it must let their carriers through."""
    require_programs("ip")
    from scapy.all import rdpcap
    frames = [bytes(p) for name in NAMES for p in rdpcap(str(FIXTURES / f"{name}.pcap"))]
    want = [innermost(f) for name in NAMES for f in oracle[name]]
    bus = f"ipc://{tmp_path}/bus.sock"
    with NetnsPair() as ns:
        cap = sekiwake.capture(ifaces=(ns.veth_b,), publish=bus, netns=ns.ns_b, wait_subscribers=1,
                               wait_ready=False)
        sub = BusSubscriber(tmp_path, bus, count=len(want), timeout=20).start()
        cap.wait_ready_capturing()
        inject(ns.ns_a, ns.veth_a, frames)
        got = sub.wait_done()
        rc, stats = cap.terminate()
    assert [(g["src"], g["src_port"], g["dst"], g["dst_port"], bytes.fromhex(g["payload_hex"])) for g in got] \
        == want, sub.output()
    assert {g["interface"] for g in got} == {ns.veth_b}
    assert rc == 0, cap.output()
    assert stats["captured_total"] == len(want) == stats["tunnelled"]
