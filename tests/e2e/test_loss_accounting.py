"""Loss accounting: nothing is lost silently.

1. 100 000 syslog datagrams at 20 000/s (`sekiwake send`) -> capture on lo -> forward -> a UDP sink with a big
   receive buffer: the sink gets every sequence number exactly once, and the counters agree.
2. A forward subscriber frozen (SIGSTOP) during a burst with capture --hwm 10: capture counts what the bus
   refused (hwm_dropped), published + hwm_dropped == captured_total, forward sees the gaps, and capture goes on
   capturing afterwards."""

import os
import re
import time

from helpers.bus import burst_past_a_frozen_subscriber
from helpers.net import UdpSink, drain_socket, free_port

SEQ = re.compile(rb"seq=(\d+)")


def seqs(datagrams):
    out = []
    for _, _, payload in datagrams:
        m = SEQ.search(payload)
        assert m, f"no seq=N in {payload[:80]!r}"
        out.append(int(m.group(1)))
    return out


def test_hundred_thousand_at_20k_per_second_arrive_exactly_once(sekiwake, tmp_path):
    count, rate = 100_000, 20_000
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=count, timeout=60, idle=5, rcvbuf=64 << 20).start()
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner

    with drain_socket(port):
        t0 = time.monotonic()
        sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--rate", rate, "--count", count, timeout=60)
        elapsed = time.monotonic() - t0
        got = sink.results()
    cap_stats = cap.wait_stats(lambda s: s["captured_total"] >= count, timeout=10)
    fwd.wait_stats(lambda s: fwd.destination(s, sink.url)["forwarded"] >= count, timeout=10)
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert sent.returncode == 0, sent.stderr
    assert elapsed >= count / rate * 0.8, "send did not pace at --rate"
    numbers = seqs(got)
    assert len(numbers) == count, f"sink got {len(numbers)}; capture {cap_stats}; forward {fwd_stats}"
    assert len(set(numbers)) == count
    assert max(numbers) - min(numbers) == count - 1
    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"]["syslog"] == count
    assert cap_stats["captured_total"] == count
    assert cap_stats["published"] == count
    assert cap_stats["hwm_dropped"] == 0
    assert cap_stats["pcap_dropped"] == 0
    assert fwd_stats["received"] == count and fwd_stats["bus_gaps"] == 0
    d = fwd.destination(fwd_stats, sink.url)
    assert d["forwarded"] == count
    assert d["dropped_full"] == 0 and d["failed"] == 0


def test_frozen_subscriber_hwm_drops_are_counted_and_capture_survives(sekiwake, tmp_path):
    count, rate, size = 30_000, 20_000, 1200  # ~36 MB: more than the loopback TCP buffers can hide
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=count + 1, timeout=60, idle=5, rcvbuf=64 << 20).start()
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, hwm=10, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner

    marker = f"<14>Nov 14 22:13:20 e2e after-the-burst pid={os.getpid()}".encode()
    sent, after = burst_past_a_frozen_subscriber(sekiwake, cap, fwd, port, count, rate, size, marker)
    got = sink.results()
    assert cap.alive(), "capture must keep running after the burst"
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert sent.returncode == 0, sent.stderr
    assert after["captured_total"] == count + 1
    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured_total"] == count + 1
    assert cap_stats["hwm_dropped"] > 0
    assert cap_stats["published"] + cap_stats["hwm_dropped"] == cap_stats["captured_total"]
    # forward got exactly what the bus accepted, and saw the holes as sequence gaps
    assert fwd_stats["received"] == cap_stats["published"]
    assert fwd_stats["bus_gaps"] > 0
    assert fwd.destination(fwd_stats, sink.url)["forwarded"] == fwd_stats["received"]
    assert len(got) == fwd_stats["received"]
    assert got[-1][2] == marker, "the datagram sent after the burst is captured and forwarded"
