"""forward: a destination that refuses never stops the others, and a forwarder beside a capture on the same
host never loops, even when its destination is a captured port."""

import time

from helpers.net import UdpSink, drain_socket, free_port

N = 3000


def test_refusing_destination_is_counted_and_the_other_gets_everything(sekiwake, tmp_path):
    port = free_port("udp")
    dead = free_port("udp")  # nobody listens: the kernel answers ICMP port unreachable
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=N, timeout=40, idle=5, rcvbuf=16 << 20).start()
    dead_url = f"udp://127.0.0.1:{dead}"
    fwd = sekiwake.forward(bus, [f"syslog={dead_url}", f"syslog={sink.url}"])
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    with drain_socket(port):
        sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--rate", 3000, "--count", N)
        got = sink.results()
    fwd.wait_stats(lambda s: fwd.destination(s, sink.url)["forwarded"] >= N, timeout=10)
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert sent.returncode == 0, sent.stderr
    assert len(got) == N and len({p for *_, p in got}) == N
    healthy, refusing = fwd.destination(fwd_stats, sink.url), fwd.destination(fwd_stats, dead_url)
    assert healthy["forwarded"] == N
    assert healthy["refused"] == healthy["failed"] == healthy["dropped_full"] == 0
    assert refusing["refused"] + refusing["unreachable_reports"] > 0, refusing
    assert refusing["forwarded"] + refusing["refused"] + refusing["failed"] + refusing["dropped_full"] == N
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()


def test_no_loop_when_forward_sends_to_a_captured_port(sekiwake, tmp_path):
    port = free_port("udp")
    sink = UdpSink(tmp_path, count=N, timeout=40, idle=5, rcvbuf=16 << 20).start()
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    # capture watches the sink's port too: everything forward sends crosses lo to a captured port
    cap = sekiwake.capture(ports={"syslog": [port, sink.port]}, publish=bus, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    with drain_socket(port):
        sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--rate", 3000, "--count", N)
        got = sink.results()
    time.sleep(1.5)  # a loop would show up as captures beyond N by now
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert sent.returncode == 0, sent.stderr
    assert len(got) == N
    assert cap_stats["captured_total"] == N, cap_stats
    assert fwd_stats["received"] == N
    assert fwd.destination(fwd_stats, sink.url)["forwarded"] == N
    assert {sport for _, sport, _ in got} == {51400}, "forward sends from its loop-guard port"
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()


def test_a_forwarder_of_one_kind_sees_no_false_bus_gaps(sekiwake, tmp_path):
    """Sequences run per (publisher, kind, bucket): a forwarder subscribed to syslog only, fed a mixed replay,
    sees its streams whole."""
    from helpers.pcaps import mkpcap
    mkpcap("mixed", tmp_path / "m")
    pcap = tmp_path / "m-ethernet.pcap"
    import json
    expected = json.loads((tmp_path / "m-ethernet.expected.json").read_text())["published"]
    syslog = [e for e in expected if e["kind"] == "syslog"]
    assert 0 < len(syslog) < len(expected)
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=len(syslog), timeout=20, idle=3).start()
    # holds the file until forward is there; strict, as the expectation lists what strict capture publishes
    cap = sekiwake.capture("--mismatched", "drop", pcap=pcap, publish=bus, wait_subscribers=1)
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    cap_rc, cap_stats = cap.wait_exit(30)
    got = sink.results()
    fwd.wait_stats(lambda s: s["received"] >= len(syslog), timeout=10)
    fwd_rc, fwd_stats = fwd.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert cap_stats["published"] == len(expected)
    assert [p for *_, p in got] == [bytes.fromhex(e["payload_hex"]) for e in syslog]
    assert fwd_stats["received"] == len(syslog)
    assert fwd_stats["bus_gaps"] == 0


def test_loop_guard_spares_another_hosts_forwarder(sekiwake, tmp_path):
    """Chained relays: a forwarder on host A (source port 51400) sends to sekiwake listening on host B. B
    ignores only its own host's port-51400 traffic, not A's."""
    from helpers.bus import BusSubscriber
    from helpers.gating import require_programs
    from helpers.net import send_udp
    from helpers.netns import NetnsPair
    require_programs("ip")
    port = 5514
    bus = f"ipc://{tmp_path}/bus.sock"
    with NetnsPair() as ns:
        cap = sekiwake.capture("--listen", f"0.0.0.0:{port}", ifaces=(), ports={"syslog": port}, publish=bus,
                               netns=ns.ns_b, wait_subscribers=1, wait_ready=False)
        sub = BusSubscriber(tmp_path, bus, count=1, timeout=10).start()
        send_udp([b"<14>from A's forwarder"], ns.b4, port, src=ns.a4, sport=51400, netns=ns.ns_a)
        send_udp([b"<14>from B's own forwarder"], "127.0.0.1", port, src="127.0.0.1", sport=51400, netns=ns.ns_b)
        send_udp([b"<14>from B's own address"], ns.b4, port, src=ns.b4, sport=51400, netns=ns.ns_b)
        got = sub.wait_done()
        stats = cap.wait_stats(lambda s: s["own_traffic"] >= 2, timeout=10)
        rc, stats = cap.terminate()
    assert [bytes.fromhex(g["payload_hex"]) for g in got] == [b"<14>from A's forwarder"]
    assert got[0]["src"] == ns.a4
    assert stats["captured_total"] == 1 and stats["own_traffic"] == 2
    assert rc == 0, cap.output()
