"""The other sources and source options of capture: the UDP listener, --pace file replay, and several -i
interfaces at once (each envelope names the interface it came from)."""

import time

import pytest

from helpers.bus import BusSubscriber
from helpers.gating import require_programs
from helpers.net import free_port, send_udp
from helpers.netns import NetnsPair


@pytest.mark.parametrize("batch", [[], ["--batch-ms", "2"]], ids=["immediate", "batched"])
def test_udp_listener_publishes_with_the_senders_address(sekiwake, tmp_path, batch):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", *batch, ifaces=(), ports={"syslog": port},
                           publish=bus, wait_subscribers=1, wait_ready=False)
    payloads = [f"<14>Nov 14 22:13:20 host app: listener {i}".encode() for i in range(50)]
    sub = BusSubscriber(tmp_path, bus, count=len(payloads), timeout=20).start()
    used = send_udp(payloads + [b"not syslog"], "127.0.0.1", port, src="127.0.0.77", sport=41077)
    got = sub.wait_done()
    stats = cap.wait_stats(lambda s: s["captured_total"] + s["mismatched"] >= len(payloads) + 1, timeout=10)
    rc, stats = cap.terminate()

    assert [bytes.fromhex(g["payload_hex"]) for g in got] == payloads, sub.output()
    assert {(g["src"], g["src_port"], g["dst"], g["dst_port"], g["interface"]) for g in got} == {
        (used[0], used[1], "127.0.0.1", port, "udp")}
    assert [g["sequence"] for g in got] == list(range(len(payloads)))
    assert rc == 0, cap.output()
    # the datagram that is not syslog is published too, flagged (counted in captured_total and mismatched)
    assert stats["captured_total"] == stats["published"] == len(payloads) + 1
    assert stats["mismatched"] == 1 and stats["refused"] == {"syslog": {"no_pri": 1}}


def paced_pcap(path, gaps):
    """Syslog datagrams to udp/514 at the given offsets (seconds) from the first."""
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
    pkts = []
    for i, t in enumerate(gaps):
        p = (Ether() / IP(src="192.0.2.10", dst="192.0.2.1") / UDP(sport=40000, dport=514) /
             Raw(f"<14>Nov 14 22:13:20 host app: paced {i}".encode()))
        p.time = 1_700_000_000 + t
        pkts.append(p)
    wrpcap(str(path), pkts)
    return path


def arrival_spread(sekiwake, tmp_path, pcap, *extra):
    """Replays pcap and returns (seconds between the first and last envelope's arrival, envelopes)."""
    import zmq
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture(*extra, pcap=pcap, publish=bus, wait_subscribers=1)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.RCVTIMEO, 10_000)
    sock.connect(bus)
    arrivals = []
    try:
        for _ in range(4):
            sock.recv_multipart()
            arrivals.append(time.monotonic())
    finally:
        sock.close(0)
        ctx.term()
    rc, stats = cap.wait_exit(30)
    assert rc == 0, cap.output()
    assert stats["published"] == 4
    return arrivals[-1] - arrivals[0]


def test_pcap_replay_keeps_the_recorded_pace_when_asked(sekiwake, tmp_path):
    pcap = paced_pcap(tmp_path / "paced.pcap", [0.0, 0.5, 1.0, 1.5])
    paced = arrival_spread(sekiwake, tmp_path, pcap, "--pace")
    fast = arrival_spread(sekiwake, tmp_path, pcap)
    assert paced >= 1.4, f"--pace replayed 1.5 s of capture in {paced:.3f} s"
    assert fast < 0.5, f"a replay without --pace took {fast:.3f} s for 1.5 s of capture"


def test_several_interfaces_each_envelope_names_its_interface(sekiwake, tmp_path):
    require_programs("ip")
    port = 514
    bus = f"ipc://{tmp_path}/bus.sock"  # a unix socket: reachable from the host although capture runs in a netns
    with NetnsPair() as ns:
        cap = sekiwake.capture(ifaces=(ns.veth_b, "lo"), ports={"syslog": port}, publish=bus, netns=ns.ns_b,
                               wait_subscribers=1, wait_ready=False)
        sub = BusSubscriber(tmp_path, bus, count=2, timeout=20).start()
        cap.wait_ready_capturing()
        from_a = b"<14>Nov 14 22:13:20 host-a app: over the veth"
        local = b"<14>Nov 14 22:13:20 host-b app: over lo"
        send_udp([from_a], ns.b4, port, src=ns.a4, sport=41001, netns=ns.ns_a)
        send_udp([local], "127.0.0.1", port, src="127.0.0.1", sport=41002, netns=ns.ns_b)
        got = sub.wait_done()
        rc, stats = cap.terminate()
    by_payload = {bytes.fromhex(g["payload_hex"]): g for g in got}
    assert set(by_payload) == {from_a, local}, sub.output()
    assert (by_payload[from_a]["interface"], by_payload[from_a]["src"]) == (ns.veth_b, ns.a4)
    assert (by_payload[local]["interface"], by_payload[local]["src"]) == ("lo", "127.0.0.1")
    assert rc == 0, cap.output()
    assert stats["captured_total"] == 2


def test_dual_stack_listener_publishes_ipv4_senders_as_ipv4(sekiwake, tmp_path):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--listen", f"[::]:{port}", ifaces=(), ports={"syslog": port}, publish=bus,
                           wait_subscribers=1, wait_ready=False)
    sub = BusSubscriber(tmp_path, bus, count=2, timeout=20).start()  # strict: flags must match the addresses
    send_udp([b"<14>over IPv4"], "127.0.0.1", port, src="127.0.0.78", sport=41078)
    send_udp([b"<14>over IPv6"], "::1", port, src="::1", sport=41079)
    got = sub.wait_done()
    rc, _ = cap.terminate()
    by_payload = {bytes.fromhex(g["payload_hex"]): g for g in got}
    v4, v6 = by_payload[b"<14>over IPv4"], by_payload[b"<14>over IPv6"]
    assert (v4["src"], v4["dst"], v4["ipv6"]) == ("127.0.0.78", "0.0.0.0", False), sub.output()
    assert v4["topic"].endswith("/127.0.0.78/")
    assert (v6["src"], v6["dst"], v6["ipv6"]) == ("::1", "::", True)
    assert rc == 0, cap.output()


def test_any_interface_and_sigint_end_with_final_counters(sekiwake, tmp_path):
    import signal
    from helpers.net import drain_socket
    port = free_port("udp")
    cap = sekiwake.capture(ifaces=("any",), ports={"syslog": port})
    with drain_socket(port):
        send_udp([b"<14>one", b"<14>two", b"<14>three"], "127.0.0.1", port)
        cap.wait_stats(lambda s: s["captured_total"] >= 3, timeout=10)
        time.sleep(0.3)
    rc = cap.stop(signal.SIGINT, 15)
    stats = cap.stats()
    assert rc == 0, cap.output()
    assert stats["captured_total"] == 3, "on `any`, each datagram on lo is seen once"
    assert "capture final:" in cap.output()


def test_tap_kind_filter_follows_the_topic_prefixes(sekiwake, tmp_path):
    import json
    from helpers.pcaps import mkpcap
    from helpers.proc import wait_until
    mkpcap("mixed", tmp_path / "m")
    expected = json.loads((tmp_path / "m-ethernet.expected.json").read_text())["published"]
    netflow = [e for e in expected if e["kind"] in ("netflow-v5", "netflow-v9")]
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    # the expectation lists what strict capture publishes (mismatched datagrams dropped)
    cap = sekiwake.capture("--mismatched", "drop", pcap=tmp_path / "m-ethernet.pcap", publish=bus,
                           wait_subscribers=1)
    tap = sekiwake.tap(bus, "netflow")
    rc, _ = cap.wait_exit(30)
    wait_until(lambda: len(tap.stdout_lines()) >= len(netflow), 10)
    time.sleep(0.3)
    tap.terminate()
    got = tap.json_lines()
    assert rc == 0, cap.output()
    assert [(g["kind"], g["payload_hex"]) for g in got] == [(e["kind"], e["payload_hex"]) for e in netflow]
    assert all("payload_text" not in g for g in got), "payload as text is for syslog only"


def test_batched_live_capture_delivers_everything(sekiwake, tmp_path):
    from helpers.net import UdpSink, drain_socket
    port, n = free_port("udp"), 5000
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=n, timeout=30, idle=4).start()
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    cap = sekiwake.capture("--batch-ms", "2", "--snaplen", "2048", ports={"syslog": port}, publish=bus,
                           wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    with drain_socket(port):
        sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--rate", 10000, "--count", n)
        got = sink.results()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, _ = fwd.terminate()
    assert sent.returncode == 0, sent.stderr
    assert len({p for *_, p in got}) == n
    assert cap_stats["captured_total"] == cap_stats["published"] == n
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
