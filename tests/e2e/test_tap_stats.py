"""`sekiwake tap` on the subscriber skeleton: the same bus counters as forward in its --stats file.

1. A pyzmq publisher (envelopes built from docs/wire-format.md by tools/envelope.py) sends two publishers'
   streams with holes in their sequence numbers, a body that is no envelope, a one-frame message and a kind
   tap did not ask for: tap's stats say exactly how many it received, how many were bad, how many sequence
   numbers were skipped and how many publishers it saw, and it printed exactly the good envelopes, in order.
2. A tap frozen (SIGSTOP) during a burst with capture --hwm 10: every datagram capture could not hand to the
   bus shows up as a gap at tap (bus_gaps == hwm_dropped), and tap printed what the bus accepted.
3. `--hwm 0` (no limit in ZeroMQ) is refused, by the bus crate for every socket.
"""

import json
import os
import time

import zmq

from helpers.bus import burst_past_a_frozen_subscriber, envelope_module
from helpers.net import free_port

# (publisher, sequence) of the good envelopes, in the order sent: publisher 7 skips 3 and 4, publisher 9
# skips 12.
GOOD = [(7, 0), (7, 1), (7, 2), (9, 10), (7, 5), (9, 11), (9, 13), (7, 6)]


def xpub(endpoint):
    """A pyzmq XPUB socket bound to endpoint, to see tap's subscription arrive."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.bind(endpoint)
    return sock


def test_tap_counts_received_bad_envelopes_gaps_and_publishers(sekiwake, tmp_path):
    env = envelope_module()
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    pub = xpub(bus)
    try:
        tap = sekiwake.tap(bus, "syslog", stats=True, hwm=50)
        assert pub.poll(10_000), "tap never subscribed"
        assert pub.recv() == b"\x01syslog/"
        time.sleep(0.2)
        for publisher, seq in GOOD:
            topic, body = env.build("syslog", 1, 0, "192.0.2.10", 40000, "192.0.2.1", 514,
                                    b"<13>seq %d" % seq, publisher=publisher, sequence=seq)
            pub.send_multipart([topic, body])
        topic, _ = env.build("syslog", 1, 0, "192.0.2.10", 40000, "192.0.2.1", 514, b"x")
        pub.send_multipart([topic, b"not an envelope"])
        pub.send(b"syslog/b00/one-frame/")
        sflow_topic, sflow_body = env.build("sflow", 0, 0, "192.0.2.10", 40000, "192.0.2.1", 6343, b"x" * 28)
        pub.send_multipart([sflow_topic, sflow_body])
        stats = tap.wait_stats(lambda s: s["received"] >= 10, timeout=10)
    finally:
        pub.close()
    rc, final = tap.terminate()
    assert rc == 0, tap.output()
    assert stats["received"] == 10
    for s in (stats, final):
        assert s["role"] == "tap"
        assert (s["received"], s["bad_envelope"], s["bus_gaps"], s["publishers"], s["printed"]) == \
            (10, 2, 3, 2, 8), s
    printed = [json.loads(line) for line in tap.stdout_lines()]
    assert [(p["publisher"], p["sequence"]) for p in printed] == GOOD
    assert {p["topic"] for p in printed} == {topic.decode()}


def test_frozen_tap_sees_every_hwm_drop_as_a_gap(sekiwake, tmp_path):
    count, rate, size = 20_000, 20_000, 1200  # ~24 MB: more than the loopback TCP buffers can hide
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    tap = sekiwake.tap(bus, "syslog", stats=True, hwm=10)
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, hwm=10, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner

    marker = f"<14>Nov 14 22:13:20 e2e tap-after-the-burst pid={os.getpid()}".encode()
    sent, after = burst_past_a_frozen_subscriber(sekiwake, cap, tap, port, count, rate, size, marker)
    tap.wait_stats(lambda s: s["received"] >= after["published"], timeout=30)
    cap_rc, cap_stats = cap.terminate()
    tap_rc, tap_stats = tap.terminate()

    assert sent.returncode == 0, sent.stderr
    assert cap_rc == 0 and tap_rc == 0, (cap.output(), tap.output())
    assert cap_stats["captured_total"] == count + 1
    assert cap_stats["hwm_dropped"] > 0, "the burst must outrun the frozen subscriber"
    assert cap_stats["published"] + cap_stats["hwm_dropped"] == cap_stats["captured_total"]
    assert tap_stats["received"] == cap_stats["published"]
    assert tap_stats["bus_gaps"] == cap_stats["hwm_dropped"]
    assert tap_stats["bad_envelope"] == 0 and tap_stats["publishers"] == 1
    lines = tap.stdout_lines()
    assert len(lines) == tap_stats["printed"] == tap_stats["received"]
    assert json.loads(lines[-1])["payload_text"] == marker.decode()


def test_hwm_zero_is_refused(sekiwake):
    r = sekiwake.run("tap", "--subscribe", "tcp://127.0.0.1:1", "--hwm", "0", "--duration", "0.1")
    assert r.returncode == 2
    assert "high-water mark of 0" in r.stderr
