"""Informs: acknowledged by capture's listener, delivered by forward as informs of its own until each receiver
acknowledges them (real snmptrapd receivers), or as traps.

1. Passive (libpcap) capture: sekiwake is not the address the inform was sent to and does not answer it; forward
   delivers it from its own source port and reads the receiver's Response (the sender is not acknowledged).
2. Listener: the sender is acknowledged on its first try, the receiver logs each inform once.
3. A sender's retry is acknowledged again, delivered once.
4. A receiver that is down when the inform comes gets it when it returns; one that never returns is counted as
   given up; a destination with `informs = "trap"` gets a v2c trap."""

import socket
import time

from helpers.gating import require_programs
from helpers.net import UdpSink, drain_socket, free_port, udp_rx_queued
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
    assert (d["informs_sent"], d["informs_acknowledged"], d["informs_in_flight"]) == (3, 3, 0), d
    assert queued == 0, "forward read every answer"
    assert len(logged) == 3 and all("1.3.6.1.4.1.8072.2.3.2.1" in line for line in logged), logged
    # the sender's own destination never answers: in capture mode it is not acknowledged
    assert all(r.returncode != 0 for r in sent), [r.stdout + r.stderr for r in sent]


def inform_v2c(request_id, value, pdu_tag=0xa6):
    """A v2c InformRequest (community public) with sysUpTime.0, snmpTrapOID.0 and one integer varbind (with
    pdu_tag=0xa7, the same as a trap)."""
    def tlv(tag, body):
        assert len(body) < 128
        return bytes([tag, len(body)]) + body

    def integer(n):
        return tlv(0x02, n.to_bytes(4, "big", signed=True))
    uptime = tlv(0x30, tlv(0x06, bytes.fromhex("2b06010201010300")) + tlv(0x43, b"\x05"))
    trap_oid = tlv(0x30, tlv(0x06, bytes.fromhex("2b060106030101040100")) + tlv(0x06, bytes.fromhex("2b06010401c22403")))
    extra = tlv(0x30, tlv(0x06, bytes.fromhex("2b06010401c2240302")) + integer(value))
    pdu = tlv(pdu_tag, integer(request_id) + integer(0) + integer(0) + tlv(0x30, uptime + trap_oid + extra))
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, b"public") + pdu)


def snmp_destinations(path, *dests):
    """A forward configuration at `path` with one `[[forward.destination]]` per dict of keys (kinds:
    snmptrap); strings are quoted, numbers not. Returns the path."""
    def value(v):
        return str(v) if isinstance(v, int) else f'"{v}"'
    blocks = ["[[forward.destination]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in d.items())
              + 'kinds = ["snmptrap"]\n' for d in dests]
    path.write_text("\n".join(blocks))
    return path


def listener_relay(sekiwake, to=(), config=None, capture_args=()):
    """capture --listen -> bus -> forward (to: --to destinations, config: a forward configuration file,
    capture_args: more capture flags)."""
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    fwd = sekiwake.forward(bus, to, config=config)
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", *capture_args, ifaces=(), ports={"snmptrap": port},
                           publish=bus,
                           wait_subscribers=1, wait_ready=False)
    time.sleep(1.0)  # slow joiner
    return port, cap, fwd


def test_informs_to_the_listener_are_acknowledged_on_the_first_try_and_delivered_once(sekiwake, tmp_path):
    require_programs("snmpinform", "snmptrapd")
    receiver = Snmptrapd(tmp_path / "snmptrapd").start()
    try:
        port, cap, fwd = listener_relay(sekiwake, {"snmptrap": f"udp://127.0.0.1:{receiver.port}"})
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
    d = fwd.destination(fwd_stats, f"udp://127.0.0.1:{receiver.port}")
    assert (d["responses"], d["informs_sent"], d["informs_acknowledged"], d["informs_retried"]) == (3, 3, 3, 0), d
    assert "informs_acknowledged=3" in cap.output(), "the log line tells the informs too"
    assert "informs_sent=3 informs_held=0 informs_acknowledged=3" in fwd.output()


def test_a_retried_inform_is_acknowledged_again_but_delivered_once(sekiwake, tmp_path):
    require_programs("snmptrapd")
    receiver = Snmptrapd(tmp_path / "snmptrapd").start()
    try:
        port, cap, fwd = listener_relay(sekiwake, {"snmptrap": f"udp://127.0.0.1:{receiver.port}"})
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


def test_informs_are_resent_until_acknowledged_given_up_or_sent_as_traps(sekiwake, tmp_path):
    require_programs("snmptrapd")
    returns_port, never_port = free_port("udp"), free_port("udp")
    sink = UdpSink(tmp_path / "sink", count=1, timeout=15).start()
    conf = snmp_destinations(
        tmp_path / "forward.toml",
        {"name": "returns", "url": f"udp://127.0.0.1:{returns_port}", "inform_timeout_ms": 300, "inform_sends": 6},
        {"name": "never", "url": f"udp://127.0.0.1:{never_port}", "inform_timeout_ms": 200, "inform_sends": 3},
        {"name": "as-trap", "url": sink.url, "informs": "trap"})
    port, cap, fwd = listener_relay(sekiwake, config=conf)
    inform = inform_v2c(0x0bad, 7)
    receiver = Snmptrapd(tmp_path / "snmptrapd", port=returns_port)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(inform, ("127.0.0.1", port))
            ack = s.recv(65535)
        receiver.start()  # after the first send: the inform reaches it by a resend
        logged = receiver.wait_traps(1)
        stats = fwd.wait_stats(lambda st: by_name(st, "never")["informs_given_up"] >= 1, timeout=10)
        trap = sink.results()
    finally:
        receiver.stop()
    fwd_rc, stats = fwd.terminate()
    cap.terminate()

    assert ack[ack.index(b"\xa2")] == 0xa2, "the sender was acknowledged by capture"
    assert len(logged) == 1 and "1.3.6.1.4.1.8484.3.2" in logged[0], logged
    back = by_name(stats, "returns")
    assert (back["informs_sent"], back["informs_acknowledged"], back["informs_given_up"]) == (1, 1, 0), back
    assert back["informs_retried"] >= 1, back
    never = by_name(stats, "never")
    assert (never["informs_sent"], never["informs_acknowledged"], never["informs_given_up"]) == (1, 0, 1), never
    assert never["informs_retried"] == 2 and never["informs_in_flight"] == 0, never
    as_trap = by_name(stats, "as-trap")
    assert as_trap["informs_sent"] == 0 and as_trap["forwarded"] == 1, as_trap
    expected = bytearray(inform)
    expected[expected.index(b"\xa6")] = 0xa7
    assert [p for _, _, p in trap] == [bytes(expected)], "a v2c trap with the inform's request-id and varbinds"
    assert fwd_rc == 0, fwd.output()


def by_name(stats, name):
    return next(d for d in stats["destinations"] if d["name"] == name)


def test_a_flood_of_informs_to_a_dead_receiver_never_holds_up_traps(sekiwake, tmp_path):
    """5000 informs for a receiver that never answers (more than the 4096 kept in flight) and 200 traps: the
    other destination gets every one, the dead one's informs are bounded and given up, capture acknowledges
    every inform."""
    informs, traps = 5000, 200
    dead = free_port("udp")
    sink = UdpSink(tmp_path / "sink", count=informs + traps, timeout=30, idle=5, rcvbuf=16 << 20).start()
    conf = snmp_destinations(
        tmp_path / "forward.toml",
        {"name": "dead", "url": f"udp://127.0.0.1:{dead}", "inform_timeout_ms": 200, "inform_sends": 2},
        {"name": "live", "url": sink.url, "informs": "trap"})
    port, cap, fwd = listener_relay(sekiwake, config=conf)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(informs):
            s.sendto(inform_v2c(i + 1, i), ("127.0.0.1", port))
            if i % (informs // traps) == 0:
                s.sendto(inform_v2c(0, i, pdu_tag=0xa7), ("127.0.0.1", port))
            if i % 500 == 499:
                time.sleep(0.05)  # within the listener's and the bus's buffers
    got = sink.results()
    stats = fwd.wait_stats(lambda st: by_name(st, "dead")["informs_given_up"] >= informs, timeout=20)
    fwd_rc, stats = fwd.terminate()
    cap_rc, cap_stats = cap.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert (cap_stats["informs_received"], cap_stats["informs_acknowledged"]) == (informs, informs), cap_stats
    assert len(got) == informs + traps, f"live got {len(got)}: {by_name(stats, 'live')}"
    d = by_name(stats, "dead")
    assert (d["informs_sent"], d["informs_given_up"], d["informs_in_flight"]) == (informs, informs, 0), d
    assert d["informs_acknowledged"] == 0
