"""Hostile input never crashes capture.

File: tools/mkpcap.py hostile (runt frames, broken IPv4/IPv6/UDP headers, extension-header loops, garbage on every
default port, a 20 000 first-fragment flood, overlapping fragments, fragments past 65535, truncated records, then
10 valid syslog datagrams): capture --pcap exits 0 and publishes exactly the 10 valid ones.
Live: garbage to every default port on lo while capture runs: it stays up, counts each one as mismatched under
a reason, and publishes it flagged (the default, as a relay must not be stricter than its collector)."""

import contextlib
import json
import random
import time

from helpers.bus import BusSubscriber
from helpers.gating import unavailable
from helpers.net import drain_socket, free_port, send_udp
from helpers.pcaps import mkpcap

DEFAULT_PORTS = {"syslog": [514], "netflow": [2055, 9995, 9996], "ipfix": [4739], "sflow": [6343],
                 "snmptrap": [162]}


def test_hostile_pcap_publishes_only_the_valid_datagrams(sekiwake, tmp_path):
    pcap = tmp_path / "hostile.pcap"
    mkpcap("hostile", pcap)
    with open(f"{pcap}.json") as f:
        meta = json.load(f)
    valid = [bytes.fromhex(v["payload_hex"]) for v in meta["valid"]]
    assert meta["valid_count"] == len(valid) == 10

    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--mismatched", "drop", pcap=pcap, publish=bus, wait_subscribers=1)
    sub = BusSubscriber(tmp_path, bus, count=len(valid), timeout=60).start()
    rc, stats = cap.wait_exit(60)
    got = sub.wait_done()

    assert rc == 0, cap.output()
    assert [bytes.fromhex(g["payload_hex"]) for g in got] == valid, sub.output()
    assert all(g["kind"] == "syslog" for g in got)
    assert stats["captured_total"] == 10 and stats["published"] == 10
    assert stats["captured"]["syslog"] == 10
    assert stats["malformed"] > 0
    assert stats["fragments_dropped"] > 0
    # 5 garbage payloads to each of the 7 default ports, not published with --mismatched drop
    assert stats["mismatched"] == stats["mismatched_dropped"] == 5 * 7
    assert sum(n for reasons in stats["refused"].values() for n in reasons.values()) == 5 * 7
    assert stats["fragments_reassembled"] == 0
    # the ledger names the fragments never reassembled at capture's reassembly stage
    ledger = sekiwake.run("ledger", "--json", cap.stats_path)
    assert ledger.returncode == 0, ledger.stderr
    lost = json.loads(ledger.stdout)["captures"][0]
    assert (lost["fragments_expired"], lost["fragments_dropped"]) == (
        stats["fragments_expired"], stats["fragments_dropped"])


def garbage_for(family, rng):
    """Payloads that fit no format (first byte 0xff or 0x00, truncated headers), one set per port family."""
    common = [b"", b"\xff", bytes(64), b"\xff" * 64, b"\xff\xfe" + rng.randbytes(298),
              b"\xff" + rng.randbytes(65000)]
    truncated = {
        "syslog": [b"<14", b"<1234>too many digits", b"<192>pri too big"],
        "netflow": [b"\x00\x05\x00\x01" + bytes(20), b"\x00\x09" + bytes(10), b"\x00\x05\x00\x00" + bytes(68)],
        "ipfix": [b"\x00\x0a\x00\x40" + bytes(12), b"\x00\x0a\x00\x08"],
        "sflow": [b"\x00\x00\x00\x05\x00\x00\x00\x01" + bytes(4), b"\x00\x00\x00\x04\x00\x00\x00\x01" + bytes(40)],
        # (any PDU tag is an SNMP message a trap port may receive, a get included: the third element here is an
        # OCTET STRING where the PDU belongs)
        "snmptrap": [b"\x30\x03\x02\x01\x01", b"\x30\x0a\x02\x01\x01\x04\x01p\x04\x02\x00\x00",
                     b"\x30\x82\xff\xff\x02\x01\x00"],
    }
    return common + truncated[family]


def test_live_garbage_on_every_default_port_is_counted_not_fatal(sekiwake, tmp_path):
    rng = random.Random(1234)
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture(publish=bus)  # default ports
    time.sleep(0.5)
    sent = 0
    with contextlib.ExitStack() as stack:
        for family, ports in DEFAULT_PORTS.items():
            for port in ports:
                try:
                    stack.enter_context(drain_socket(port))  # no ICMP back to the sender
                except OSError:
                    unavailable(f"default port {port}/udp is in use on this machine")
                payloads = garbage_for(family, rng)
                send_udp(payloads, "127.0.0.1", port, src="127.0.0.66", sport=41066, gap=0.001)
                sent += len(payloads)
        stats = cap.wait_stats(lambda s: s["mismatched"] >= sent, timeout=10)
        time.sleep(0.5)
        assert cap.alive(), cap.output()
        # still capturing: a valid datagram after all that is published
        send_udp([b"<14>Nov 14 22:13:20 host app: still alive"], "127.0.0.1", 514, src="127.0.0.66", sport=41066)
        stats = cap.wait_stats(lambda s: s["captured_total"] >= sent + 1, timeout=10)
    rc, stats = cap.terminate()

    assert rc == 0, cap.output()
    assert stats["mismatched"] == sent and stats["mismatched_dropped"] == 0
    assert sum(n for reasons in stats["refused"].values() for n in reasons.values()) == sent
    assert set(stats["refused"]) == {"syslog", "netflow-v5", "netflow-v9", "ipfix", "sflow", "snmptrap"}
    # published flagged under their port's kind, plus the valid one
    assert stats["captured_total"] == stats["published"] == sent + 1
    assert stats["captured"]["syslog"] == len(garbage_for("syslog", random.Random(0))) + 1
    assert stats["malformed"] == 0


def test_fragment_flood_stays_within_a_small_memory_cap(sekiwake, tmp_path):
    """The same hostile file with reassembly capped at 200 kB: the cap holds, the valid datagrams still pass."""
    pcap = tmp_path / "hostile.pcap"
    mkpcap("hostile", pcap)
    conf = tmp_path / "small-defrag.toml"
    conf.write_text('[capture]\nmismatched = "drop"\n'
                    "[capture.defrag]\nmax_bytes = 200000\nmax_datagrams = 1000\ntimeout_secs = 30\n")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture(pcap=pcap, publish=bus, wait_subscribers=1, config=conf)
    sub = BusSubscriber(tmp_path, bus, count=10, timeout=60).start()
    rc, stats = cap.wait_exit(60)
    got = sub.wait_done()

    assert rc == 0, cap.output()
    assert len(got) == 10 and stats["published"] == 10
    assert 0 < stats["fragments_peak_bytes"] <= 200_000
    assert stats["fragments_dropped"] >= 20_000 - 1000, "the flood was evicted, not held"
