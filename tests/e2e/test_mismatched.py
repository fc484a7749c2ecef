"""Datagrams that do not fit their port's kind: relayed flagged by default (a relay is no stricter than the
collector behind it), dropped with `--mismatched drop`, and counted under a named reason at every stage.

1. Four datagrams to a watched syslog port -- `<13>ok`, `hello` (no PRI), a BSD header without PRI, `<999>...`
   -- go capture on lo -> bus -> forward -> rsyslog: rsyslog receives all four, byte-exact; capture and
   forward count the three that did not fit under `no_pri` / `bad_pri`, and capture logs them.
2. The same with `--mismatched drop`: only `<13>ok` arrives; the three are counted as `mismatched_dropped`.
3. A pcap with a NetFlow v5 header whose count lies, an SNMP GetRequest and a non-BER datagram on the trap
   port, and an IPFIX message followed by two stray bytes: `sekiwake decode` counts each under its reason (the
   IPFIX one fits: its message decodes and the tail is counted), and tshark sees the same datagrams."""

import struct
import subprocess
import time

from decode_oracle import decode_with_log
from helpers.net import UdpSink, drain_socket, free_port, send_udp
from helpers.rsyslog import Rsyslog

OK = b"<13>ok from the mismatched test"
NO_PRI = b"hello from the mismatched test"
BSD_NO_PRI = b"Dec  7 08:15:02 router1 app[42]: no PRI at all"
BAD_PRI = b"<999>Dec  7 08:15:02 router1 app: PRI out of range"
PAYLOADS = [OK, NO_PRI, BSD_NO_PRI, BAD_PRI]
SYSLOG_REFUSED = {"syslog": {"no_pri": 2, "bad_pri": 1}}


def relay(sekiwake, tmp_path, to, *capture_flags):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    fwd = sekiwake.forward(bus, {"syslog": to})
    cap = sekiwake.capture(*capture_flags, ports={"syslog": port}, publish=bus, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    with drain_socket(port):
        send_udp(PAYLOADS, "127.0.0.1", port, gap=0.01)
        cap.wait_stats(lambda s: s["frames"] >= len(PAYLOADS), timeout=10)
    return cap, fwd


def test_mismatched_syslog_reaches_rsyslog_flagged_and_counted(sekiwake, tmp_path):
    rsyslog = Rsyslog(tmp_path / "rsyslog").start()
    try:
        cap, fwd = relay(sekiwake, tmp_path, f"udp://127.0.0.1:{rsyslog.port}")
        fwd.wait_stats(lambda s: s["received"] >= len(PAYLOADS), timeout=10)
        lines = rsyslog.wait_lines(len(PAYLOADS))
    finally:
        rsyslog.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()

    assert sorted(raw for _, raw in lines) == sorted(p.decode() for p in PAYLOADS), lines
    assert cap_stats["captured"]["syslog"] == 4 and cap_stats["published"] == 4
    assert (cap_stats["mismatched"], cap_stats["mismatched_dropped"]) == (3, 0)
    assert cap_stats["refused"] == SYSLOG_REFUSED
    assert (fwd_stats["mismatched"], fwd_stats["refused"]) == (3, SYSLOG_REFUSED)
    assert fwd.destination(fwd_stats, f"udp://127.0.0.1:{rsyslog.port}")["forwarded"] == 4
    log = cap.output()
    assert "did not fit their port's kind" in log and "syslog/no_pri=2" in log, log
    assert log.count("did not fit their port's kind") == 1, "one line for a burst, not one per datagram"


def test_mismatched_drop_restores_strict_capture(sekiwake, tmp_path):
    sink = UdpSink(tmp_path, count=len(PAYLOADS), timeout=8, idle=3).start()
    cap, fwd = relay(sekiwake, tmp_path, sink.url, "--mismatched", "drop")
    got = sink.results()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()

    assert [payload for _, _, payload in got] == [OK]
    assert (cap_stats["captured_total"], cap_stats["mismatched"], cap_stats["mismatched_dropped"]) == (1, 3, 3)
    assert cap_stats["refused"] == SYSLOG_REFUSED
    assert fwd_stats["mismatched"] == 0
    assert "dropped (capture.mismatched" in cap.output()


def v5_count_lies():
    """A NetFlow v5 header that announces 2 records but carries one."""
    header = struct.pack("!HHIIIIBBH", 5, 2, 1000, 1_700_000_000, 0, 7, 0, 0, 0)
    return header + bytes(48)


def snmp_get_request():
    """SNMPv2c GetRequest for sysUpTime.0 (not a notification)."""
    varbind = bytes.fromhex("300c06082b060102010103000500")
    pdu_body = bytes.fromhex("020101" "020100" "020100") + b"\x30" + bytes([len(varbind)]) + varbind
    pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
    body = bytes.fromhex("020101") + b"\x04\x06public" + pdu
    return b"\x30" + bytes([len(body)]) + body


def ipfix_with_stray_bytes():
    """An IPFIX message with one template set (one field: octetDeltaCount) and two stray bytes after it."""
    template_set = struct.pack("!HHHHHH", 2, 12, 256, 1, 1, 8)
    header = struct.pack("!HHIII", 10, 16 + len(template_set), 1_700_000_000, 1, 0)
    return header + template_set + b"\xde\xad"


def test_decode_counts_refused_datagrams_by_reason(tmp_path):
    from scapy.all import IP, UDP, Ether, Raw, wrpcap
    ports = {"netflow": free_port("udp"), "ipfix": free_port("udp"), "snmptrap": free_port("udp")}
    datagrams = [("netflow", v5_count_lies()), ("snmptrap", snmp_get_request()),
                 ("snmptrap", b"\x02\x01\x00 not BER"), ("ipfix", ipfix_with_stray_bytes())]
    frames = [Ether() / IP(src="192.0.2.7", dst="192.0.2.1") / UDP(sport=40000 + i, dport=ports[family])
              / Raw(payload) for i, (family, payload) in enumerate(datagrams)]
    pcap = tmp_path / "mismatched.pcap"
    wrpcap(str(pcap), frames)

    _, summary, _ = decode_with_log(pcap, ports)
    assert summary["datagrams"] == 4 and summary["mismatched_dropped"] == 0, summary
    r = summary["records"]
    assert r["mismatched"] == 3, r
    assert r["refused"] == {"netflow-v5": {"v5_count": 1}, "snmptrap": {"not_notification": 1, "not_snmp": 1}}
    assert r["ipfix_trailing_bytes"] == 2

    _, strict, _ = decode_with_log(pcap, ports, "-c", str(strict_config(tmp_path)))
    assert (strict["datagrams"], strict["mismatched_dropped"], strict["records"]["mismatched"]) == (1, 3, 0)

    # tshark sees the four datagrams, with the payloads we wrote (the oracle for what a collector receives).
    out = subprocess.run(["tshark", "-r", str(pcap), "-n", "-T", "fields", "-e", "udp.dstport", "-e", "data.data",
                          "-d", f"udp.port=={ports['netflow']},data", "-d", f"udp.port=={ports['ipfix']},data",
                          "-d", f"udp.port=={ports['snmptrap']},data"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = [line.split("\t") for line in out.stdout.splitlines()]
    assert [(int(p), bytes.fromhex(h)) for p, h in seen] == [(ports[f], d) for f, d in datagrams]


def strict_config(tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text('[capture]\nmismatched = "drop"\n')
    return path
