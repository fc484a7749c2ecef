"""logger -> (lo) -> sekiwake capture -> bus -> sekiwake forward -> rsyslog: every message arrives byte-exact.

The oracle of what was sent is a tcpdump capture of the capture port; rsyslog's %rawmsg% must equal each UDP
payload exactly (messages hold no control characters: rsyslog escapes those on receive, tab -> #011, and drops
a trailing LF).  Nobody listens on the capture port: libpcap still sees the datagrams."""

import os
import time

from helpers.gating import require_programs
from helpers.net import free_port
from helpers.rsyslog import logger
from helpers.tshark import PacketCapture

N = 20  # messages per RFC


def test_logger_via_capture_and_forward_reaches_rsyslog_byte_exact(rsyslog, sekiwake, tmp_path):
    require_programs("logger", "tcpdump", "tshark")
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dest = f"udp://127.0.0.1:{rsyslog.port}"

    fwd = sekiwake.forward(bus, {"syslog": dest})
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, wait_subscribers=1)
    oracle = PacketCapture(tmp_path, f"udp and dst port {port}").start()
    time.sleep(1.0)  # slow joiner

    texts = []
    for i in range(N):
        texts.append(f"e2e-3164-{os.getpid()}-{i:03d} caf\u00e9 [brackets] sp  aces")
        logger(port, texts[-1], rfc="rfc3164", tag="e2eapp")
        texts.append(f"e2e-5424-{os.getpid()}-{i:03d}")
        logger(port, texts[-1], rfc="rfc5424", tag="e2eapp",
               extra=["--msgid", "M1", "--sd-id", "zoo@123", "--sd-param", 'tiger="hungry"'])

    lines = rsyslog.wait_lines(2 * N, timeout=20)
    sent = oracle.stop_and_payloads()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert len(sent) == 2 * N, "the oracle must see every datagram logger sent"
    assert len(lines) == 2 * N, cap.output() + fwd.output()
    assert {ip for ip, _ in lines} == {"127.0.0.1"}
    received = sorted(msg.encode("utf-8", errors="surrogateescape") for _, msg in lines)
    assert received == sorted(payload for *_, payload in sent)
    for text in texts:
        assert sum(text in msg for _, msg in lines) == 1

    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"]["syslog"] == 2 * N
    assert cap_stats["captured_total"] == 2 * N
    assert cap_stats["published"] == 2 * N
    assert cap_stats["hwm_dropped"] == 0
    assert cap_stats["mismatched"] == 0
    assert fwd_stats["received"] == 2 * N
    assert fwd_stats["bus_gaps"] == 0
    assert fwd_stats["unrouted"] == 0
    d = fwd.destination(fwd_stats, dest)
    assert d["forwarded"] == 2 * N
    assert d["failed"] == 0 and d["dropped_full"] == 0
