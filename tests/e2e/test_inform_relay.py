"""Informs relayed from a passive (libpcap) capture: what the sender and the receiver see, and what forward reads.

In capture mode sekiwake is not the address the inform was sent to, so it must not answer it. forward relays
the inform byte-exact from its own source port; the receiver (a real snmptrapd) answers that port with a
Response, which forward reads and counts per destination (`responses`) instead of letting it pile up in the
socket. The sender, whose own destination does not answer, is not acknowledged (docs/ARCHITECTURE.md)."""

import socket
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


def inform_v2c(request_id, value):
    """A v2c InformRequest (community public) with sysUpTime.0, snmpTrapOID.0 and one integer varbind."""
    def tlv(tag, body):
        assert len(body) < 128
        return bytes([tag, len(body)]) + body

    def integer(n):
        return tlv(0x02, n.to_bytes(4, "big", signed=True))
    uptime = tlv(0x30, tlv(0x06, bytes.fromhex("2b06010201010300")) + tlv(0x43, b"\x05"))
    trap_oid = tlv(0x30, tlv(0x06, bytes.fromhex("2b060106030101040100")) + tlv(0x06, bytes.fromhex("2b06010401c22403")))
    extra = tlv(0x30, tlv(0x06, bytes.fromhex("2b06010401c2240302")) + integer(value))
    pdu = tlv(0xa6, integer(request_id) + integer(0) + integer(0) + tlv(0x30, uptime + trap_oid + extra))
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, b"public") + pdu)


def listener_relay(sekiwake, receiver):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    fwd = sekiwake.forward(bus, {"snmptrap": f"udp://127.0.0.1:{receiver.port}"})
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"snmptrap": port}, publish=bus,
                           wait_subscribers=1, wait_ready=False)
    time.sleep(1.0)  # slow joiner
    return port, cap, fwd


def test_informs_to_the_listener_are_acknowledged_on_the_first_try_and_delivered_once(sekiwake, tmp_path):
    require_programs("snmpinform", "snmptrapd")
    receiver = Snmptrapd(tmp_path / "snmptrapd").start()
    try:
        port, cap, fwd = listener_relay(sekiwake, receiver)
        sent = [snmptrap(port, "2c", [("1.3.6.1.4.1.8072.2.3.2.1", "i", i)], inform=True) for i in range(3)]
        fwd.wait_stats(lambda s: fwd.destination(s, f"udp://127.0.0.1:{receiver.port}")["responses"] >= 3,
                       timeout=10)
        logged = receiver.wait_traps(3)
    finally:
        receiver.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    # snmpinform runs with -r 0: a missing acknowledgement would fail it
    assert all(r.returncode == 0 for r in sent), [r.stdout + r.stderr for r in sent]
    assert len(logged) == 3, logged
    assert (cap_stats["informs_received"], cap_stats["informs_acknowledged"], cap_stats["informs_duplicate"],
            cap_stats["informs_not_acknowledged"]) == (3, 3, 0, 0), cap_stats
    assert cap_stats["published"] == 3
    assert fwd.destination(fwd_stats, f"udp://127.0.0.1:{receiver.port}")["responses"] == 3


def test_a_retried_inform_is_acknowledged_again_but_delivered_once(sekiwake, tmp_path):
    require_programs("snmptrapd")
    receiver = Snmptrapd(tmp_path / "snmptrapd").start()
    try:
        port, cap, fwd = listener_relay(sekiwake, receiver)
        inform = inform_v2c(0x5150, 42)
        answers = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            for _ in range(2):  # the same request-id from the same socket: a retry
                s.sendto(inform, ("127.0.0.1", port))
                answers.append(s.recv(65535))
            s.sendto(inform_v2c(0x5151, 43), ("127.0.0.1", port))
            answers.append(s.recv(65535))
        logged = receiver.wait_traps(2)
    finally:
        receiver.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd.terminate()

    assert cap_rc == 0, cap.output()
    response = bytearray(inform)
    response[response.index(b"\xa6")] = 0xa2
    assert answers[0] == answers[1] == bytes(response), "a Response echoing request-id and varbinds"
    assert len(logged) == 2, logged
    assert (cap_stats["informs_received"], cap_stats["informs_acknowledged"], cap_stats["informs_duplicate"]) == \
        (3, 3, 1), cap_stats
    assert cap_stats["published"] == 2
    assert cap_stats["captured_total"] == cap_stats["published"] + cap_stats["informs_duplicate"]
