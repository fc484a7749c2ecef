"""The envelope as a non-Rust subscriber sees it: datagrams from known 127.0.0.x (and ::1) sources and ports are
sent while capture runs on lo; tools/envelope.py (pyzmq, written from docs/wire-format.md) decodes every field
strictly: kind, variant, flags, addresses, ports, interface "lo", payload, sequence, time, topic and bucket.
A second subscriber with a topic prefix gets only its kind."""

import os
import socket
import struct
import time

from helpers.bus import BusSubscriber, expected_sequences
from helpers.net import free_port


def netflow_v5(seq):
    header = struct.pack(">HHIIIIBBH", 5, 1, 123456, 1_700_000_000, 0, seq, 0, 0, 0)
    record = struct.pack(">IIIHHIIIIHHBBBBHHBBH", 0xC0000201, 0xC6336401, 0, 1, 2, 10, 1000, 100, 200,
                         40000, 443, 0, 0x18, 6, 0, 0, 0, 24, 24, 0)
    assert len(header) == 24 and len(record) == 48
    return header + record


def netflow_v9(seq):
    template = struct.pack(">HHHH" + "HH" * 4, 0, 4 + 4 + 16, 256, 4, 8, 4, 12, 4, 7, 2, 11, 2)
    header = struct.pack(">HHIIII", 9, 1, 123456, 1_700_000_000, seq, 42)
    return header + template


def test_every_envelope_field_decodes(sekiwake, tmp_path):
    syslog_port, netflow_port = free_port("udp"), free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    tag = f"pid{os.getpid()}"
    sends = [  # (src, sport, dst, dport, payload, kind, variant)
        ("127.0.0.23", 40023, "127.0.0.1", syslog_port,
         f"<134>Nov 14 22:13:20 host23 app[1]: rfc3164 {tag}".encode(), "syslog", 1),
        ("127.0.0.24", 40024, "127.0.0.1", syslog_port,
         f"<165>1 2023-11-14T22:13:20.000Z host24 app 1 ID47 - rfc5424 {tag}".encode(), "syslog", 2),
        ("127.0.0.25", 40025, "127.0.0.1", netflow_port, netflow_v5(7), "netflow-v5", 5),
        ("127.0.0.26", 40026, "127.0.0.1", netflow_port, netflow_v9(8), "netflow-v9", 9),
        ("::1", 40027, "::1", syslog_port, f"<14>Nov 14 22:13:20 host6 app: over ipv6 {tag}".encode(), "syslog", 1),
        ("127.0.0.23", 40023, "127.0.0.1", syslog_port,
         f"<134>Nov 14 22:13:21 host23 app[1]: again from .23 {tag}".encode(), "syslog", 1),
    ]
    n_syslog = sum(s[5] == "syslog" for s in sends)

    cap = sekiwake.capture(ports={"syslog": syslog_port, "netflow": netflow_port}, publish=bus, wait_subscribers=2,
                           wait_ready=False)
    everything = BusSubscriber(tmp_path, bus, count=len(sends), timeout=20).start()
    # one more than can come: it waits out its timeout, so an extra (non-syslog) message would show
    only_syslog = BusSubscriber(tmp_path, bus, count=n_syslog + 1, timeout=8, prefix="syslog/").start()
    cap.wait_ready_capturing()
    time.sleep(0.5)

    t_start = time.time_ns()
    for src, sport, dst, dport, payload, _, _ in sends:
        family = socket.AF_INET6 if ":" in src else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, sport))
            s.sendto(payload, (dst, dport))
        time.sleep(0.02)  # keep the order on the wire unambiguous
    t_end = time.time_ns()

    got = everything.wait_done()
    got_syslog = only_syslog.wait_done()
    rc, stats = cap.terminate()

    assert len(got) == len(sends), everything.output() + cap.output()
    for g, (src, sport, dst, dport, payload, kind, variant) in zip(got, sends):
        assert "error" not in g, g
        assert g["kind"] == kind and g["variant"] == variant
        assert (g["src"], g["src_port"], g["dst"], g["dst_port"]) == (src, sport, dst, dport)
        assert g["ipv6"] is (":" in src)
        assert g["reassembled"] is False and g["inform"] is False
        assert g["interface"] == "lo"
        assert bytes.fromhex(g["payload_hex"]) == payload and g["payload_len"] == len(payload)
        assert g["header_len"] == 96
        assert t_start - 5_000_000 <= g["timestamp_ns"] <= t_end + 5_000_000  # pcap time of a live capture
        assert g["topic"] == f"{kind}/b{g['bucket']:02d}/{src}/"
    # the same exporter always lands in the same bucket
    assert got[0]["bucket"] == got[5]["bucket"]
    assert [g["sequence"] for g in got] == expected_sequences(got)
    assert len({g["publisher"] for g in got}) == 1
    stamps = [g["timestamp_ns"] for g in got]
    assert stamps == sorted(stamps)

    assert [g["kind"] for g in got_syslog] == ["syslog"] * n_syslog
    assert [bytes.fromhex(g["payload_hex"]) for g in got_syslog] == [s[4] for s in sends if s[5] == "syslog"]

    assert rc == 0
    assert stats["captured"]["syslog"] == n_syslog
    assert stats["captured"]["netflow-v5"] == 1 and stats["captured"]["netflow-v9"] == 1
    assert stats["captured_total"] == len(sends) == stats["published"]
