#!/usr/bin/env python3
"""Writes the IPFIX and NetFlow v9 fixtures of this folder (deterministic; see README.md for what they hold)."""

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORT_TIME = 1796631302  # 2026-12-07T08:15:02Z
NTP_TO_UNIX = 2208988800
VAR = 65535


def ntp(unix_secs, frac_units, per_second):
    """NTP timestamp as an exporter writes one: seconds since 1900, fraction = units * 2^32 / per_second."""
    return struct.pack(">II", unix_secs + NTP_TO_UNIX, (frac_units << 32) // per_second)


def var(b):
    return bytes([len(b)]) + b


def ipfix_set(set_id, body):
    return struct.pack(">HH", set_id, len(body) + 4) + body


def ipfix_message(sets, sequence=0, domain=1):
    body = b"".join(sets)
    return struct.pack(">HHIII", 10, len(body) + 16, EXPORT_TIME, sequence, domain) + body


def template(tid, fields, scope=0):
    words = [tid, len(fields)] + ([scope] if scope else [])
    out = struct.pack(f">{len(words)}H", *words)
    for fid, length in fields:
        out += struct.pack(">HH", fid, length)
    return out


# (element, template length, value bytes) of one IPFIX flow, as a Cisco/Juniper/WLC exporter mixes them.
IPFIX_FLOW = [
    (8, 4, bytes([192, 0, 2, 10])),
    (12, 4, bytes([198, 51, 100, 20])),
    (4, 1, bytes([17])),
    (7, 2, struct.pack(">H", 40000)),
    (11, 2, struct.pack(">H", 53)),
    (1, 8, struct.pack(">Q", 1234)),
    (2, 8, struct.pack(">Q", 10)),
    (236, 16, b"customer-a".ljust(16, b"\0")),  # VRFname, NUL-padded as Cisco pads it
    (147, VAR, var(b"corp-wifi")),  # wlanSSID, variable length
    (365, 6, bytes([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30])),  # staMacAddress
    (245, 2, struct.pack(">H", 300)),  # dot1qCustomerVlanId
    (71, 3, bytes([0x01, 0x86, 0xa1])),  # mplsLabelStackSection2: label 6250, exp 0, bottom of stack
    (252, 4, struct.pack(">I", 7)),  # ingressPhysicalInterface
    (253, 4, struct.pack(">I", 9)),  # egressPhysicalInterface
    (231, 4, struct.pack(">I", 5000)),  # initiatorOctets, reduced-size (unsigned64 in 4 bytes)
    (232, 4, struct.pack(">I", 7000)),  # responderOctets, reduced-size
    (230, 1, bytes([1])),  # natEvent
    (198, 8, struct.pack(">Q", 152300)),  # octetDeltaSumOfSquares
    (322, 4, struct.pack(">I", EXPORT_TIME)),  # observationTimeSeconds
    (150, 4, struct.pack(">I", EXPORT_TIME - 10)),  # flowStartSeconds
    (152, 8, struct.pack(">Q", (EXPORT_TIME - 10) * 1000 + 250)),  # flowStartMilliseconds
    (153, 8, struct.pack(">Q", (EXPORT_TIME - 1) * 1000 + 750)),  # flowEndMilliseconds
    (154, 8, ntp(EXPORT_TIME - 10, 250123, 10**6)),  # flowStartMicroseconds
    (155, 8, ntp(EXPORT_TIME - 1, 750456, 10**6)),  # flowEndMicroseconds
    (156, 8, ntp(EXPORT_TIME - 10, 250123456, 10**9)),  # flowStartNanoseconds
    (157, 8, ntp(EXPORT_TIME - 1, 750456789, 10**9)),  # flowEndNanoseconds
    (276, 1, bytes([1])),  # dataRecordsReliability: true
    (434, 4, struct.pack(">i", -5)),  # mibObjectValueInteger (signed32)
    (320, 8, struct.pack(">d", 0.25)),  # absoluteError (float64)
]

# IOS-XR style selector options: scope selectorId, then samplingSize/Population and selectorName.
IPFIX_OPTIONS = [
    (302, 4, struct.pack(">I", 3)),  # selectorId (scope)
    (309, 4, struct.pack(">I", 1)),  # samplingSize
    (310, 4, struct.pack(">I", 256)),  # samplingPopulation
    (335, VAR, var(b"sampler-256")),  # selectorName
]


def ipfix_fixture():
    flow_t = template(256, [(f, n) for f, n, _ in IPFIX_FLOW])
    opt_t = template(257, [(f, n) for f, n, _ in IPFIX_OPTIONS], scope=1)
    flow = b"".join(v for _, _, v in IPFIX_FLOW)
    opts = b"".join(v for _, _, v in IPFIX_OPTIONS)
    return ipfix_message([ipfix_set(2, flow_t), ipfix_set(3, opt_t), ipfix_set(256, flow), ipfix_set(257, opts)])


def v9_flowset(set_id, body):
    body += b"\0" * (-len(body) % 4)  # v9 flowsets are padded to 4 bytes
    return struct.pack(">HH", set_id, len(body) + 4) + body


# A Cisco WLC/IOS style v9 datagram: a VRF table in options data (scope System) and a flow with the station's
# MAC and address and the SSID.
V9_OPTIONS_SCOPE = [(1, 4, struct.pack(">I", 0x0a000001))]  # scope type 1 System: the exporter's address
V9_OPTIONS = [
    (234, 4, struct.pack(">I", 5)),  # ingressVRFID
    (236, 32, b"blue".ljust(32, b"\0")),  # VRFname
]
V9_FLOW = [
    (8, 4, bytes([192, 0, 2, 30])),
    (12, 4, bytes([203, 0, 113, 40])),
    (4, 1, bytes([6])),
    (7, 2, struct.pack(">H", 50123)),
    (11, 2, struct.pack(">H", 443)),
    (1, 4, struct.pack(">I", 88000)),
    (2, 4, struct.pack(">I", 64)),
    (234, 4, struct.pack(">I", 5)),  # ingressVRFID
    (365, 6, bytes([0x02, 0x00, 0x5e, 0xaa, 0xbb, 0xcc])),  # staMacAddress
    (366, 4, bytes([192, 0, 2, 30])),  # staIPv4Address
    (147, 32, b"guest".ljust(32, b"\0")),  # wlanSSID, fixed length
    (252, 4, struct.pack(">I", 13)),  # ingressPhysicalInterface
    (61, 1, bytes([1])),  # flowDirection: egress
]


def v9_fixture():
    opt_t = struct.pack(">HHH", 257, 4 * len(V9_OPTIONS_SCOPE), 4 * len(V9_OPTIONS))
    opt_t += b"".join(struct.pack(">HH", f, n) for f, n, _ in V9_OPTIONS_SCOPE + V9_OPTIONS)
    flow_t = template(256, [(f, n) for f, n, _ in V9_FLOW])
    opts = b"".join(v for _, _, v in V9_OPTIONS_SCOPE + V9_OPTIONS)
    flow = b"".join(v for _, _, v in V9_FLOW)
    sets = [v9_flowset(1, opt_t), v9_flowset(0, flow_t), v9_flowset(257, opts), v9_flowset(256, flow)]
    # count = records (templates and data) in the datagram; uptime 1000 s; sequence 0; source id 1
    return struct.pack(">HHIIII", 9, 4, 1_000_000, EXPORT_TIME, 0, 1) + b"".join(sets)


if __name__ == "__main__":
    (HERE / "registry-elements.bin").write_bytes(ipfix_fixture())
    (HERE / "v9-registry-elements.bin").write_bytes(v9_fixture())
    print("wrote registry-elements.bin, v9-registry-elements.bin")
