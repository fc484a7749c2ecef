"""`sekiwake proxy` between publishers and subscribers.

1. Two captures publish by connecting (`--connect`) to one proxy's frontend, two taps subscribe to its
   backend: the taps' subscriptions cross the proxy (each capture's --wait-subscribers sees them), both taps
   print every datagram of both captures, byte for byte, with no gap, and the proxy's counters add up.
2. A tap frozen (SIGSTOP) behind a proxy with --hwm 10 during a burst: the proxy never blocks, counts what
   it could not hand over as dropped_full, and the tap finds exactly that many sequence numbers missing
   (plus any the capture counted as hwm_dropped).
3. The other way round: a capture that binds, a proxy that connects to it (--frontend-connect).
"""

import json
import os
import time

from helpers.bus import burst_past_a_frozen_subscriber
from helpers.net import drain_socket, free_port, send_udp


def tcp():
    return f"tcp://127.0.0.1:{free_port('tcp')}"


def test_two_captures_two_taps_through_one_proxy(sekiwake, tmp_path):
    front, back = tcp(), tcp()
    proxy = sekiwake.proxy(front, back)
    taps = [sekiwake.tap(back, "syslog", stats=True) for _ in range(2)]
    ports = [free_port("udp"), free_port("udp")]
    # a capture that connects after the taps subscribed gets the proxy's subscription once, however many
    # subscribers share it
    caps = [sekiwake.capture(ports={"syslog": p}, connect=front, wait_subscribers=1) for p in ports]
    time.sleep(1.0)  # slow joiner
    sent = {}
    with drain_socket(ports[0]), drain_socket(ports[1]):
        for i, port in enumerate(ports):
            payloads = [b"<14>Dec  7 10:00:00 cap%d proxy-test n=%d" % (i, n) for n in range(500)]
            send_udp(payloads, "127.0.0.1", port)
            sent[i] = payloads
        for t in taps:
            t.wait_stats(lambda s: s["received"] >= 1000, timeout=20)
    capture_stats = [c.terminate() for c in caps]
    finals = [t.terminate() for t in taps]
    proxy_rc, proxy_stats = proxy.terminate()

    assert proxy_rc == 0 and all(rc == 0 for rc, _ in capture_stats + finals), proxy.output()
    published = sum(s["published"] for _, s in capture_stats)
    assert published == 1000 and all(s["hwm_dropped"] == 0 for _, s in capture_stats)
    assert proxy_stats["received"] == proxy_stats["forwarded"] == published, proxy_stats
    assert proxy_stats["dropped_full"] == 0
    assert proxy_stats["subscriptions"] >= 2, proxy_stats
    for t, (_, stats) in zip(taps, finals):
        assert (stats["received"], stats["bus_gaps"], stats["publishers"]) == (1000, 0, 2), stats
        got = [json.loads(x)["payload_text"].encode() for x in t.stdout_lines()]
        assert sorted(got) == sorted(sent[0] + sent[1])


def test_a_frozen_subscriber_behind_the_proxy_shows_every_proxy_drop_as_a_gap(sekiwake, tmp_path):
    count, rate, size = 20_000, 20_000, 1200
    front, back = tcp(), tcp()
    proxy = sekiwake.proxy(front, back, "--hwm", "10")
    tap = sekiwake.tap(back, "syslog", stats=True, hwm=10)
    port = free_port("udp")
    cap = sekiwake.capture(ports={"syslog": port}, connect=front, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    marker = f"<14>Dec  7 10:00:00 e2e after-the-burst pid={os.getpid()}".encode()
    # the proxy keeps taking from the capture while the tap sleeps: it never blocks
    sent, after = burst_past_a_frozen_subscriber(sekiwake, cap, tap, port, count, rate, size, marker)
    handed = proxy.wait_stats(lambda s: s["received"] >= after["published"], timeout=10)["forwarded"]
    tap.wait_stats(lambda s: s["received"] >= handed, timeout=10)
    cap_rc, cap_stats = cap.terminate()
    time.sleep(0.5)
    tap_rc, tap_stats = tap.terminate()
    proxy_rc, proxy_stats = proxy.terminate()

    assert sent.returncode == 0, sent.stderr
    assert cap_rc == tap_rc == proxy_rc == 0, (cap.output(), tap.output(), proxy.output())
    assert proxy_stats["dropped_full"] > 0, "the burst must outrun the frozen subscriber"
    assert proxy_stats["received"] == proxy_stats["forwarded"] + proxy_stats["dropped_full"]
    # what the capture could not hand to the proxy is capture's to count; the rest the proxy accounts for
    assert proxy_stats["received"] == cap_stats["published"], (proxy_stats, cap_stats)
    assert tap_stats["received"] == proxy_stats["forwarded"]
    assert tap_stats["bus_gaps"] == proxy_stats["dropped_full"] + cap_stats["hwm_dropped"], (tap_stats, cap_stats)
    assert json.loads(tap.stdout_lines()[-1])["payload_text"] == marker.decode()


def test_the_proxy_connects_to_a_capture_that_binds(sekiwake, tmp_path):
    publish, back = tcp(), tcp()
    port = free_port("udp")
    cap = sekiwake.capture(ports={"syslog": port}, publish=publish, wait_subscribers=1, wait_ready=False)
    proxy = sekiwake.proxy(tcp(), back, "--frontend-connect", publish)
    tap = sekiwake.tap(back, stats=True)
    cap.wait_ready_capturing()
    time.sleep(1.0)  # slow joiner
    payloads = [b"<13>bound capture %d" % n for n in range(100)]
    with drain_socket(port):
        send_udp(payloads, "127.0.0.1", port)
        tap.wait_stats(lambda s: s["received"] >= 100, timeout=20)
    cap.terminate()
    tap_rc, tap_stats = tap.terminate()
    proxy_rc, proxy_stats = proxy.terminate()
    assert tap_rc == proxy_rc == 0
    assert (tap_stats["received"], tap_stats["bus_gaps"]) == (100, 0)
    assert proxy_stats["forwarded"] == 100
    assert [json.loads(x)["payload_text"].encode() for x in tap.stdout_lines()] == payloads
