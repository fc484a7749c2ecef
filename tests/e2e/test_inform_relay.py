"""Informs relayed from a passive (libpcap) capture: what the sender and the receiver see, and what forward reads.

In capture mode sekiwake is not the address the inform was sent to, so it must not answer it. forward relays
the inform byte-exact from its own source port; the receiver (a real snmptrapd) answers that port with a
Response, which forward reads and counts per destination (`responses`) instead of letting it pile up in the
socket. The sender, whose own destination does not answer, is not acknowledged (docs/ARCHITECTURE.md)."""

import time

from helpers.gating import require_programs
from helpers.net import drain_socket, free_port, udp_rx_queued
from helpers.snmp import Snmptrapd, snmptrap

FORWARD_SOURCE_PORT = 51400  # forward's default loop-guard source port


def test_informs_from_a_capture_reach_the_receiver_and_its_responses_are_counted(sekiwake, tmp_path):
    require_programs("snmpinform", "snmptrapd")
    receiver = Snmptrapd(tmp_path / "snmptrapd").start()
    try:
        port = free_port("udp")
        bus = f"tcp://127.0.0.1:{free_port('tcp')}"
        fwd = sekiwake.forward(bus, {"snmptrap": f"udp://127.0.0.1:{receiver.port}"})
        cap = sekiwake.capture(ports={"snmptrap": port}, publish=bus, wait_subscribers=1)
        time.sleep(1.0)  # slow joiner
        sent = []
        with drain_socket(port):  # a socket on the port, so the kernel sends no ICMP back; it never answers
            for i in range(3):
                sent.append(snmptrap(port, "2c", [("1.3.6.1.4.1.8072.2.3.2.1", "i", i)], inform=True))
        stats = fwd.wait_stats(lambda s: fwd.destination(s, f"udp://127.0.0.1:{receiver.port}")["responses"] >= 3,
                               timeout=10)
        logged = receiver.wait_traps(3)
        queued = udp_rx_queued(FORWARD_SOURCE_PORT)
    finally:
        receiver.stop()
    fwd_rc, stats = fwd.terminate()
    cap_rc, cap_stats = cap.terminate()

    assert fwd_rc == 0 and cap_rc == 0, fwd.output() + cap.output()
    assert cap_stats["captured"]["snmptrap"] == 3
    d = fwd.destination(stats, f"udp://127.0.0.1:{receiver.port}")
    assert d["forwarded"] == 3
    assert (d["responses"], d["reports"], d["answers_other"]) == (3, 0, 0), d
    assert queued == 0, "forward read every answer"
    assert len(logged) == 3 and all("1.3.6.1.4.1.8072.2.3.2.1" in line for line in logged), logged
    # the sender's own destination never answers: in capture mode it is not acknowledged
    assert all(r.returncode != 0 for r in sent), [r.stdout + r.stderr for r in sent]
