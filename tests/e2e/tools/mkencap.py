#!/usr/bin/python3
"""Writes the encapsulation fixtures: one pcap per encapsulation capture walks through (PPPoE session, MPLS,
IP-in-IP, IPv6-in-IP, GRE, ERSPAN types I/II/III, VXLAN, and a GRE packet fragmented on the outside), each frame
carrying a syslog message or a NetFlow v5 datagram from an exporter to a collector.

    /usr/bin/python3 tests/e2e/tools/mkencap.py crates/capture/tests/data/encap

Deterministic (fixed addresses, identifications and timestamps): rerunning it rewrites the same bytes. The
expectation is not written here: tests read it from tshark (tests/e2e/test_encapsulations.py) and from the
fixed inner addresses below (crates/capture/tests/encapsulations.rs)."""

import struct
import sys
from pathlib import Path

from scapy.all import GRE, IP, PPP, UDP, VXLAN, Dot1Q, Ether, IPv6, PPPoE, Raw, fragment, wrpcap
from scapy.contrib.mpls import MPLS
from scapy.contrib.erspan import ERSPAN_III, ERSPAN_PlatformSpecific

EXPORTER4, COLLECTOR4 = "198.51.100.7", "198.51.100.9"
EXPORTER6, COLLECTOR6 = "2001:db8::7", "2001:db8::9"
OUTER4 = dict(src="203.0.113.1", dst="203.0.113.2", id=0x4321)
OUTER6 = dict(src="2001:db8:ffff::1", dst="2001:db8:ffff::2")
MACS = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
INNER_MACS = dict(src="02:00:00:00:01:01", dst="02:00:00:00:01:02")
T0 = 1_765_000_000


def syslog(name, size=0):
    text = f"<34>Dec  7 10:00:00 edge1 sshd[42]: through {name}"
    return text.encode() + b"." * max(0, size - len(text))


def netflow_v5(seq):
    """A NetFlow v5 datagram with one flow record (count agrees with the length)."""
    head = struct.pack("!HHIIIIBBH", 5, 1, 60_000, T0, 0, seq, 0, 0, 0)
    flow = struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes(4), 1, 2,
                       3, 1500, 59_000, 60_000, 43210, 443, 0, 0x18, 6, 0, 0, 0, 24, 24, 0)
    return head + flow


def syslog_v4(name, **kw):
    ident = dict(id=0x1001, **kw)
    return IP(src=EXPORTER4, dst=COLLECTOR4, **ident) / UDP(sport=40000, dport=514) / Raw(syslog(name))


def netflow_v4(seq):
    return IP(src=EXPORTER4, dst=COLLECTOR4, id=0x1002) / UDP(sport=40001, dport=2055) / Raw(netflow_v5(seq))


def syslog_v6(name):
    return IPv6(src=EXPORTER6, dst=COLLECTOR6) / UDP(sport=40000, dport=514) / Raw(syslog(name))


def netflow_v6(seq):
    return IPv6(src=EXPORTER6, dst=COLLECTOR6) / UDP(sport=40001, dport=2055) / Raw(netflow_v5(seq))


def erspan2_header(vlan, session, index):
    """ERSPAN type II: version 1, VLAN, CoS 0, En 0, T 0, session; reserved, index. (Built by hand: scapy's
    layer leaves the version at 0, which tshark rightly refuses.)"""
    return struct.pack("!HHI", 0x1000 | vlan, session, index)


def eth(inner=False):
    return Ether(**(INNER_MACS if inner else MACS))


def cases():
    """{name: [frames]}: every frame carries exactly one telemetry datagram."""
    return {
        # An ISP edge: PPPoE sessions, one on a VLAN, IPv4 and IPv6 inside.
        "pppoe": [
            eth() / Dot1Q(vlan=100) / PPPoE(sessionid=0x2a) / PPP(proto=0x0021) / syslog_v4("pppoe"),
            eth() / PPPoE(sessionid=0x2a) / PPP(proto=0x0057) / netflow_v6(1),
        ],
        # A label stack of two, and one label over IPv6.
        "mpls": [
            eth() / MPLS(label=16, s=0, ttl=64) / MPLS(label=17, s=1, ttl=64) / syslog_v4("mpls"),
            eth() / MPLS(label=2, s=1, ttl=64) / netflow_v6(2),
            # An Ethernet pseudo-wire with its control word (RFC 4448).
            eth() / MPLS(label=18, s=1, ttl=64) / Raw(bytes(4) + bytes(eth(True) / syslog_v4("mpls-pw"))),
        ],
        # IPv4 in IPv4 and IPv4 in IPv6 (protocol 4).
        "ipip": [
            eth() / IP(proto=4, **OUTER4) / syslog_v4("ipip"),
            eth() / IPv6(nh=4, **OUTER6) / netflow_v4(3),
        ],
        # IPv6 in IPv4 (6in4, protocol 41) and IPv6 in IPv6.
        "ip6in4": [
            eth() / IP(proto=41, **OUTER4) / syslog_v6("6in4"),
            eth() / IPv6(nh=41, **OUTER6) / netflow_v6(4),
        ],
        # GRE with checksum, key and sequence; GRE over IPv6; transparent Ethernet bridging.
        "gre": [
            eth() / IP(**OUTER4) / GRE(chksum_present=1, key_present=1, seqnum_present=1, key=7, sequence_number=1)
            / syslog_v4("gre"),
            eth() / IPv6(**OUTER6) / GRE(key_present=1, key=8) / netflow_v6(5),
            eth() / IP(**OUTER4) / GRE(proto=0x6558) / eth(True) / syslog_v4("gre-teb"),
        ],
        # How mirror ports deliver: ERSPAN type I (no header) and type II with the mirrored frame on a VLAN.
        "erspan2": [
            eth() / IP(**OUTER4) / GRE(proto=0x88BE) / Raw(bytes(eth(True) / syslog_v4("erspan-1"))),
            eth() / IP(**OUTER4) / GRE(proto=0x88BE, seqnum_present=1, sequence_number=9)
            / Raw(erspan2_header(vlan=100, session=5, index=7) + bytes(eth(True) / Dot1Q(vlan=200) / netflow_v4(6))),
        ],
        # ERSPAN type III, without and with the platform-specific subheader.
        "erspan3": [
            eth() / IP(**OUTER4) / GRE(proto=0x22EB, seqnum_present=1, sequence_number=1)
            / ERSPAN_III(session_id=5, timestamp=123456, o=0) / eth(True) / syslog_v4("erspan-3"),
            eth() / IP(**OUTER4) / GRE(proto=0x22EB, seqnum_present=1, sequence_number=2)
            / ERSPAN_III(session_id=5, timestamp=123457, o=1) / ERSPAN_PlatformSpecific(platf_id=3)
            / eth(True) / netflow_v6(7),
        ],
        # VXLAN over IPv4 and IPv6, the inner frame once on a VLAN.
        "vxlan": [
            eth() / IP(**OUTER4) / UDP(sport=51000, dport=4789) / VXLAN(vni=4242) / eth(True) / syslog_v4("vxlan"),
            eth() / IPv6(**OUTER6) / UDP(sport=51001, dport=4789) / VXLAN(vni=4242) / eth(True) / Dot1Q(vlan=300)
            / netflow_v6(8),
        ],
        # A GRE packet too large for the path, fragmented on the outside: reassembled, then walked.
        "gre-fragmented": [
            eth() / f for f in fragment(
                IP(proto=47, **OUTER4) / GRE() / IP(src=EXPORTER4, dst=COLLECTOR4, id=0x1003)
                / UDP(sport=40000, dport=514) / Raw(syslog("gre-fragmented", size=2400)), fragsize=1400)
        ],
    }


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, frames in cases().items():
        for i, f in enumerate(frames):
            f.time = T0 + i
        wrpcap(str(out / f"{name}.pcap"), frames)


if __name__ == "__main__":
    main()
