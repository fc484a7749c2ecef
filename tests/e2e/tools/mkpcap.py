#!/usr/bin/python3
"""mkpcap.py - deterministic pcap files for sekiwake end-to-end tests.

Run with /usr/bin/python3 (it needs Debian's python3-scapy). Output is byte-for-byte reproducible:
fixed seeds, fixed timestamps (pcap time starts at 2023-11-14 22:13:20 UTC, microsecond pcap).
Only documentation addresses are used (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32),
and they are only written to files, never sent.

Subcommands (each prints one line saying what it wrote):

  flows OUT.pcap
      Ethernet traffic to feed `softflowd -r` and pmacctd (pcap_savefile): 12 unidirectional flows
      (IPv4/IPv6 x TCP/UDP), 3..10 packets each, different sizes, spread over ~10 s of pcap time.
      OUT.pcap.json: {"src,dst,sport,dport,proto": {"packets": n, "bytes": n, "family": 4|6}};
      bytes is the sum of IP lengths (IPv4 total length; IPv6 40 + payload length); proto is 6 or 17.

  frag OUT.pcap [--family 4|6] [--size 3000] [--dport 514] [--order forward|reverse|shuffle]
      ONE UDP datagram 192.0.2.1:40000 -> 192.0.2.2 (2001:db8::1 -> 2001:db8::2) whose payload is an
      RFC 3164 syslog line ("<14>...") padded to --size bytes, cut into IP fragments of at most 1000 bytes
      (IP header included), written in the given order on Ethernet. OUT.pcap.payload: the UDP payload.

  mixed OUT_PREFIX
      One file per link type: OUT_PREFIX-<lt>.pcap for lt in ethernet (DLT 1; frames padded to 60 bytes,
      some 802.1Q and some QinQ 0x88a8+0x8100), sll (113), sll2 (276), null (0, BSD loopback), raw (101).
      Every file holds the same datagrams, IPv4 and IPv6: syslog RFC 3164/5424 -> 514, NetFlow v5/v9 -> 2055,
      IPFIX -> 4739, sFlow v5 -> 6343, SNMP v1 trap / v2c trap / v2c inform / v3 trap -> 162, plus traffic that
      must not be published: garbage to 514/2055/4739/6343/162 ("mismatch"), UDP to port 53, TCP to 514.
      OUT_PREFIX-<lt>.expected.json: {"published": [...in file order...], "counts": {kind: n}, "mismatched": 5,
      "not_published": [...]}; a published entry has kind, variant (the envelope's), flags {ipv6, reassembled,
      inform}, src, sport, dst, dport, timestamp_ns, frame (1-based), payload_hex; not_published entries have a
      reason (mismatch | unrelated-port | tcp) instead. The last syslog is 15 bytes, so its Ethernet frame carries
      padding. The null file uses AF_INET6 24, 28 and 30 in turn. The SNMPv3 trap is noAuthNoPriv, user
      "noauthuser", engine 0x80001f880473656b6977616b65 (snmptrapd: createUser -e 0x80001f88... noauthuser).

  hostile OUT.pcap
      Ethernet pcap of broken input (runt frames, bad IPv4/IPv6/UDP lengths, extension-header chains that
      run off the end, garbage on every default port, a 20000 first-fragment flood, overlapping fragments,
      complete fragment trains ending past 65535, a snaplen-truncated frame), then 10 valid syslog datagrams
      (5 IPv4, 5 IPv6, from 192.0.2.77 / 2001:db8::77, "seq=0".."seq=9"). OUT.pcap.json:
      {"valid_count": 10, "valid": [...], "description": [{"frames": "a-b", "what": ...}, ...]}.

  check-mixed OUT_PREFIX
      Cross-check the mixed files with tshark: same UDP payloads, kinds decoded (syslog/cflow/sflow/snmp)
      without malformed/expert-warning marks on the datagrams that should be published.
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import time

from scapy.asn1.asn1 import ASN1_INTEGER, ASN1_OID, ASN1_STRING, ASN1_TIME_TICKS
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.snmp import SNMP, SNMPinform, SNMPtrapv1, SNMPtrapv2, SNMPvarbind
from scapy.packet import Raw
from scapy.utils import RawPcapWriter

BASE_US = 1_700_000_000 * 1_000_000          # 2023-11-14 22:13:20 UTC
MAC_SRC = "02:00:00:00:00:01"
MAC_DST = "02:00:00:00:00:02"
ETH_IPV4, ETH_IPV6, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
LINKTYPES = {"ethernet": 1, "sll": 113, "sll2": 276, "null": 0, "raw": 101}
KIND_PORT = {"syslog": 514, "netflow": 2055, "ipfix": 4739, "sflow": 6343, "snmptrap": 162}
DEFAULT_PORTS = [514, 2055, 9995, 9996, 4739, 6343, 162]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


# ---------------------------------------------------------------------------------------------- output

class Pcap:
    """A little-endian microsecond pcap file with explicit timestamps (no wall clock anywhere)."""

    def __init__(self, path, linktype):
        self.path = path
        self.writer = RawPcapWriter(path, linktype=linktype, endianness="<", snaplen=65535)
        self.writer.write_header(None)
        self.frames = 0

    def add(self, ts_us, frame, wirelen=None):
        """Append one frame; returns its 1-based frame number (as tshark counts)."""
        self.writer.write_packet(bytes(frame), sec=ts_us // 1_000_000, usec=ts_us % 1_000_000,
                                 wirelen=wirelen)
        self.frames += 1
        return self.frames

    def close(self):
        self.writer.close()


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def is_v6(addr):
    return ":" in addr


def addr_text(addr):
    """RFC 5952 text (Python's ipaddress already follows it)."""
    return str(ipaddress.ip_address(addr))


# ------------------------------------------------------------------------------------ layers 2 and 3

def ethernet(l3, ethertype, tag=None, pad=True):
    """Ethernet II frame; tag None, 'dot1q' (VLAN 100) or 'qinq' (S-tag 300 0x88a8, C-tag 30 0x8100)."""
    if tag == "dot1q":
        frame = Ether(src=MAC_SRC, dst=MAC_DST, type=ETH_VLAN) / Dot1Q(vlan=100, type=ethertype)
    elif tag == "qinq":
        frame = (Ether(src=MAC_SRC, dst=MAC_DST, type=ETH_QINQ) / Dot1AD(vlan=300, type=ETH_VLAN)
                 / Dot1Q(vlan=30, type=ethertype))
    else:
        frame = Ether(src=MAC_SRC, dst=MAC_DST, type=ethertype)
    raw = bytes(frame) + bytes(l3)
    if pad and len(raw) < 60:          # like a real NIC: the minimum frame, trailing zero padding
        raw += b"\x00" * (60 - len(raw))
    return raw


def encapsulate(linktype, l3, ethertype, tag=None, null_af6=24):
    """Wrap layer-3 bytes for the given link type name."""
    if linktype == "ethernet":
        return ethernet(l3, ethertype, tag)
    if linktype == "sll":
        return bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                                 src=bytes.fromhex(MAC_SRC.replace(":", "")) + b"\0\0", proto=ethertype)) + l3
    if linktype == "sll2":
        return bytes(CookedLinuxV2(proto=ethertype, ifindex=1, lladdrtype=1, pkttype=0, lladdrlen=6,
                                   src=bytes.fromhex(MAC_SRC.replace(":", "")) + b"\0\0")) + l3
    if linktype == "null":      # host byte order (we write little-endian); AF_INET6 is 24, 28 or 30 on BSDs
        return struct.pack("<I", 2 if ethertype == ETH_IPV4 else null_af6) + l3
    if linktype == "raw":
        return bytes(l3)
    raise ValueError(linktype)


def ip_udp(src, dst, sport, dport, payload, ip_id=1):
    """(layer-3 bytes, ethertype) of a normal UDP datagram with correct checksums."""
    if is_v6(src):
        pkt = IPv6(src=src, dst=dst, hlim=64) / UDP(sport=sport, dport=dport) / Raw(payload)
        return bytes(pkt), ETH_IPV6
    pkt = IP(src=src, dst=dst, ttl=64, id=ip_id) / UDP(sport=sport, dport=dport) / Raw(payload)
    return bytes(pkt), ETH_IPV4


def ip_tcp(src, dst, sport, dport, payload, flags="PA", seq=1000, ip_id=1):
    if is_v6(src):
        pkt = IPv6(src=src, dst=dst, hlim=64) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=1)
        eth = ETH_IPV6
    else:
        pkt = IP(src=src, dst=dst, ttl=64, id=ip_id) / TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                                                           ack=1)
        eth = ETH_IPV4
    if payload:
        pkt = pkt / Raw(payload)
    return bytes(pkt), eth


# ----------------------------------------------------------------------------------------- payloads

def rfc3164_stamp(ts_us):
    y, mo, d, h, mi, s = _gmtime(ts_us)
    return "%s %2d %02d:%02d:%02d" % (MONTHS[mo - 1], d, h, mi, s)


def rfc5424_stamp(ts_us):
    y, mo, d, h, mi, s = _gmtime(ts_us)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (y, mo, d, h, mi, s, ts_us % 1_000_000)


def _gmtime(ts_us):
    t = time.gmtime(ts_us // 1_000_000)
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec


def syslog_3164(ts_us, msg, pri=14, host="host1", tag="app", pid=123):
    return ("<%d>%s %s %s[%d]: %s" % (pri, rfc3164_stamp(ts_us), host, tag, pid, msg)).encode()


def syslog_5424(ts_us, msg, pri=165, host="host1.example.com", app="app", procid="1234", msgid="ID47"):
    sd = '[exampleSDID@32473 iut="3" eventSource="Application"]'
    return ("<%d>1 %s %s %s %s %s %s %s" % (pri, rfc5424_stamp(ts_us), host, app, procid, msgid, sd,
                                            msg)).encode()


def ip4(addr):
    return ipaddress.IPv4Address(addr).packed


def netflow_v5(ts_us, seq):
    """NetFlow v5 header + 2 flow records (count = 2)."""
    secs = ts_us // 1_000_000
    records = [("192.0.2.101", "198.51.100.201", 40001, 80, 6, 10, 5200),
               ("192.0.2.102", "198.51.100.202", 5353, 53, 17, 2, 150)]
    hdr = struct.pack(">HHIIIIBBH", 5, len(records), 3_600_000, secs, ts_us % 1_000_000 * 1000, seq, 0, 1, 0)
    body = b""
    for src, dst, sp, dp, proto, pkts, octets in records:
        body += struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH", ip4(src), ip4(dst), ip4("0.0.0.0"), 1, 2, pkts, octets,
                            3_590_000, 3_599_000, sp, dp, 0, 0x1B if proto == 6 else 0, proto, 0,
                            64496, 64497, 24, 24, 0)
    return hdr + body


V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4), (22, 4), (21, 4)]


def _flow_records(wide):
    """Two flow records for the NetFlow v9 / IPFIX template (counters 4 or 8 bytes wide)."""
    cnt = ">Q" if wide else ">I"
    out = b""
    for src, dst, sp, dp, proto, pkts, octets in [("192.0.2.111", "198.51.100.211", 40011, 443, 6, 7, 3100),
                                                  ("192.0.2.112", "198.51.100.212", 123, 123, 17, 1, 76)]:
        out += ip4(src) + ip4(dst) + struct.pack(">HHB", sp, dp, proto)
        out += struct.pack(cnt, pkts) + struct.pack(cnt, octets)
        out += struct.pack(">II", 3_590_000 if not wide else 1_699_999_990, 3_599_000 if not wide else 1_699_999_999)
    return out


def _pad4(data):
    return data + b"\x00" * (-len(data) % 4)


def netflow_v9(ts_us, seq, source_id=1):
    """NetFlow v9: template flowset (id 0, template 256) + data flowset (2 records); count = 3 records."""
    fields = b"".join(struct.pack(">HH", t, n) for t, n in V9_FIELDS)
    tmpl = struct.pack(">HH", 256, len(V9_FIELDS)) + fields
    tmpl_set = struct.pack(">HH", 0, 4 + len(tmpl)) + tmpl
    data = _pad4(struct.pack(">HH", 256, 0) + _flow_records(wide=False))
    data_set = struct.pack(">HH", 256, len(data)) + data[4:]
    hdr = struct.pack(">HHIIII", 9, 3, 3_600_000, ts_us // 1_000_000, seq, source_id)
    return hdr + tmpl_set + data_set


IPFIX_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 8), (1, 8), (150, 4), (151, 4)]


def ipfix(ts_us, seq, domain=1):
    """IPFIX: template set (id 2, template 256) + data set (2 records, no padding); length field correct."""
    fields = b"".join(struct.pack(">HH", t, n) for t, n in IPFIX_FIELDS)
    tmpl = struct.pack(">HH", 256, len(IPFIX_FIELDS)) + fields
    tmpl_set = struct.pack(">HH", 2, 4 + len(tmpl)) + tmpl
    records = _flow_records(wide=True)
    data_set = struct.pack(">HH", 256, 4 + len(records)) + records
    body = tmpl_set + data_set
    return struct.pack(">HHIII", 10, 16 + len(body), ts_us // 1_000_000, seq, domain) + body


def sflow_v5(ts_us, seq, agent):
    """sFlow v5 datagram, one flow sample holding one sampled-header record (an Ethernet/IPv4/TCP header)."""
    sampled = bytes(Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02")
                    / IP(src="198.51.100.31", dst="203.0.113.31", id=7, ttl=63)
                    / TCP(sport=50000, dport=443, flags="PA", seq=1, ack=1))
    frame_length = len(sampled) + 1000 + 4          # the original frame had 1000 more payload bytes and an FCS
    record = struct.pack(">IIII", 1, frame_length, 4, len(sampled)) + _pad4(sampled)
    record = struct.pack(">II", 1, len(record)) + record          # raw packet header, enterprise 0 format 1
    sample = struct.pack(">IIIIIIII", seq, 3, 1, seq, 0, 3, 4, 1) + record
    sample = struct.pack(">II", 1, len(sample)) + sample          # flow sample, enterprise 0 format 1
    if is_v6(agent):
        agent_part = struct.pack(">I", 2) + ipaddress.IPv6Address(agent).packed
    else:
        agent_part = struct.pack(">I", 1) + ip4(agent)
    return struct.pack(">I", 5) + agent_part + struct.pack(">IIII", 0, seq, 3_600_000, 1) + sample


def _trap_varbinds(if_index):
    return [SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.3.0"), value=ASN1_TIME_TICKS(360000)),
            SNMPvarbind(oid=ASN1_OID("1.3.6.1.6.3.1.1.4.1.0"), value=ASN1_OID("1.3.6.1.6.3.1.1.5.3")),
            SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.2.2.1.1.%d" % if_index), value=ASN1_INTEGER(if_index))]


def snmp_v1_trap(agent_addr):
    pdu = SNMPtrapv1(enterprise=ASN1_OID("1.3.6.1.4.1.8072.2.3"), agent_addr=agent_addr, generic_trap=6,
                     specific_trap=17, time_stamp=ASN1_TIME_TICKS(360000),
                     varbindlist=[SNMPvarbind(oid=ASN1_OID("1.3.6.1.4.1.8072.2.3.2.1"), value=ASN1_INTEGER(1))])
    return bytes(SNMP(version=0, community=b"public", PDU=pdu))


def snmp_v2c_trap(req_id):
    return bytes(SNMP(version=1, community=b"public", PDU=SNMPtrapv2(id=req_id, varbindlist=_trap_varbinds(2))))


def snmp_v2c_inform(req_id):
    return bytes(SNMP(version=1, community=b"public", PDU=SNMPinform(id=req_id, varbindlist=_trap_varbinds(3))))


def _tlv(tag, content):
    """BER tag-length-value (definite length)."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


SNMPV3_ENGINE_ID = bytes.fromhex("80001f8804") + b"sekiwake"     # RFC 3411: enterprise 8072, format 4 (text)
SNMPV3_USER = b"noauthuser"


def snmp_v3_trap(msg_id, req_id, engine_id=SNMPV3_ENGINE_ID, user=SNMPV3_USER):
    """SNMPv3 (USM, noAuthNoPriv) message carrying an SNMPv2-Trap PDU; scapy has no v3 message layer.
    snmptrapd accepts it with: createUser -e 0x80001f880473656b6977616b65 noauthuser"""
    integer = lambda v: bytes(ASN1_INTEGER(v))          # noqa: E731
    octets = lambda v: bytes(ASN1_STRING(v))            # noqa: E731
    global_data = _tlv(0x30, integer(msg_id) + integer(65507) + octets(b"\x00") + integer(3))
    usm = _tlv(0x30, octets(engine_id) + integer(1) + integer(3600) + octets(user) + octets(b"") + octets(b""))
    pdu = bytes(SNMPtrapv2(id=req_id, varbindlist=_trap_varbinds(4)))
    scoped = _tlv(0x30, octets(engine_id) + octets(b"") + pdu)
    return _tlv(0x30, integer(3) + global_data + octets(usm) + scoped)


def garbage(rng, port, size=48):
    """Bytes that match no format: first byte 0xff (not '<', not BER SEQUENCE, version 0xfffe / 0xfffe....)."""
    text = b"\xff\xfeGARBAGE for port %d " % port
    return text + bytes(rng.randrange(256) for _ in range(max(0, size - len(text))))


# ------------------------------------------------------------------------------------------- flows

FLOWS = [("192.0.2.10", "198.51.100.20", 40001, 80, 6), ("192.0.2.11", "198.51.100.21", 40002, 443, 6),
         ("203.0.113.5", "192.0.2.12", 51000, 22, 6), ("192.0.2.13", "198.51.100.22", 5353, 53, 17),
         ("198.51.100.23", "192.0.2.14", 123, 123, 17), ("192.0.2.15", "203.0.113.9", 40005, 5001, 17),
         ("2001:db8:1::10", "2001:db8:2::20", 40010, 80, 6), ("2001:db8:1::11", "2001:db8:2::21", 40011, 443, 6),
         ("2001:db8:3::5", "2001:db8:1::12", 51001, 8080, 6), ("2001:db8:1::13", "2001:db8:2::22", 40013, 53, 17),
         ("2001:db8:1::14", "2001:db8:2::23", 123, 123, 17), ("2001:db8:1::15", "2001:db8:2::24", 40015, 5001, 17)]


def flow_packets(rng, flow, index):
    """[(ts_us, layer-3 bytes, ethertype)] of one flow: 3..10 packets, TCP opens with SYN and ends with FIN."""
    src, dst, sport, dport, proto = flow
    count = rng.randint(3, 10)
    start = rng.randint(0, 4_000_000)
    gap = (rng.randint(start + 2_000_000, 10_000_000) - start) // (count - 1)
    out = []
    for i in range(count):
        ts = BASE_US + start + i * gap + index           # +index: no two packets share a timestamp
        size = rng.randint(20, 1200)
        payload = bytes((index * 31 + i + k) & 0xFF for k in range(size))
        if proto == 6:
            flags = "S" if i == 0 else ("FA" if i == count - 1 else "PA")
            l3, eth = ip_tcp(src, dst, sport, dport, b"" if i == 0 else payload, flags, seq=1000 + i * 1500,
                             ip_id=i + 1)
        else:
            l3, eth = ip_udp(src, dst, sport, dport, payload, ip_id=i + 1)
        out.append((ts, l3, eth))
    return out


def ip_length(l3, eth):
    if eth == ETH_IPV4:
        return struct.unpack_from(">H", l3, 2)[0]
    return 40 + struct.unpack_from(">H", l3, 4)[0]


def cmd_flows(args):
    rng = random.Random(5)
    packets, expected = [], {}
    for index, flow in enumerate(FLOWS):
        pkts = flow_packets(rng, flow, index)
        packets += pkts
        key = "%s,%s,%d,%d,%d" % flow
        expected[key] = {"packets": len(pkts), "bytes": sum(ip_length(l3, e) for _, l3, e in pkts),
                         "family": 6 if is_v6(flow[0]) else 4}
    packets.sort(key=lambda p: p[0])
    out = Pcap(args.out, LINKTYPES["ethernet"])
    for ts, l3, eth in packets:
        out.add(ts, ethernet(l3, eth, pad=False))     # no Ethernet padding: softflowd counts it as IP bytes
    out.close()
    write_json(args.out + ".json", expected)
    span = (packets[-1][0] - packets[0][0]) / 1e6
    print("wrote %s (%d packets, %d flows, %.1f s) and %s.json" % (args.out, len(packets), len(FLOWS), span,
                                                                   args.out))


# -------------------------------------------------------------------------------------------- frag

def udp_datagram(src, dst, sport, dport, payload):
    """The UDP header + payload as it would be reassembled (checksum over the right pseudo-header)."""
    l3, _ = ip_udp(src, dst, sport, dport, payload)
    return l3[40:] if is_v6(src) else l3[20:]


def fragments(src, dst, datagram, ident, max_ip_len=1000):
    """[(layer-3 bytes, ethertype)] of IP fragments, each at most max_ip_len bytes, offsets in order."""
    if is_v6(src):
        chunk, eth = (max_ip_len - 48) // 8 * 8, ETH_IPV6
    else:
        chunk, eth = (max_ip_len - 20) // 8 * 8, ETH_IPV4
    out = []
    for off in range(0, len(datagram), chunk):
        data = datagram[off:off + chunk]
        more = off + chunk < len(datagram)
        if eth == ETH_IPV6:
            pkt = (IPv6(src=src, dst=dst, hlim=64)
                   / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more), id=ident) / Raw(data))
        else:
            pkt = IP(src=src, dst=dst, ttl=64, id=ident, proto=17, flags="MF" if more else 0,
                     frag=off // 8) / Raw(data)
        out.append((bytes(pkt), eth))
    return out


def padded_syslog(ts_us, size):
    head = syslog_3164(ts_us, "fragmented datagram size=%d seq=0 " % size, host="fraghost", tag="fragtest")
    if size < len(head) + 3:
        raise SystemExit("--size must be at least %d" % (len(head) + 3))
    filler = b"abcdefghijklmnopqrstuvwxyz0123456789"
    body = (filler * (size // len(filler) + 1))[:size - len(head) - 3]
    return head + body + b"END"


def order_fragments(frags, order):
    frags = list(frags)
    if order == "reverse":
        frags.reverse()
    elif order == "shuffle":
        original = list(frags)
        random.Random(3164).shuffle(frags)
        if len(frags) > 2 and frags in (original, original[::-1]):
            frags = frags[1:] + frags[:1]           # make sure the order really is neither forward nor reverse
    return frags


def cmd_frag(args):
    src, dst = ("2001:db8::1", "2001:db8::2") if args.family == 6 else ("192.0.2.1", "192.0.2.2")
    limit = 65527 if args.family == 6 else 65507
    if args.size > limit:
        raise SystemExit("--size at most %d for IPv%d" % (limit, args.family))
    ts = BASE_US + 1_000_000
    payload = padded_syslog(ts, args.size)
    datagram = udp_datagram(src, dst, 40000, args.dport, payload)
    frags = order_fragments(fragments(src, dst, datagram, ident=0x1234 if args.family == 4 else 0x12345678),
                            args.order)
    out = Pcap(args.out, LINKTYPES["ethernet"])
    for i, (l3, eth) in enumerate(frags):
        out.add(ts + i * 1000, ethernet(l3, eth))
    out.close()
    with open(args.out + ".payload", "wb") as f:
        f.write(payload)
    what = "%d IPv%d fragments, %s order" % (len(frags), args.family, args.order) if len(frags) > 1 else \
        "1 IPv%d packet, small enough not to fragment" % args.family
    print("wrote %s (%s, %d-byte UDP payload to port %d) and %s.payload"
          % (args.out, what, len(payload), args.dport, args.out))


# ------------------------------------------------------------------------------------------- mixed

def mixed_datagrams():
    """The datagram list shared by every link type: dicts with kind (or none + reason), addresses, payload."""
    rng = random.Random(42)
    t0 = BASE_US + 2_000_000
    items = []

    def pub(kind, variant, src, sport, dst, dport, payload, inform=False):
        items.append({"kind": kind, "variant": variant, "inform": inform, "src": src, "sport": sport,
                      "dst": dst, "dport": dport, "payload": payload, "l4": "udp"})

    def nopub(reason, src, sport, dst, dport, payload, l4="udp"):
        items.append({"kind": None, "reason": reason, "src": src, "sport": sport, "dst": dst, "dport": dport,
                      "payload": payload, "l4": l4})

    ts = lambda: t0 + len(items) * 10_000           # noqa: E731  (the timestamp each item will get)
    v4c, v6c = "198.51.100.1", "2001:db8::1"           # the collector address exporters send to
    pub("syslog", 1, "192.0.2.10", 40514, v4c, 514, syslog_3164(ts(), "mixed rfc3164 over IPv4 seq=1"))
    pub("syslog", 2, "2001:db8::10", 40515, v6c, 514, syslog_5424(ts(), "mixed rfc5424 over IPv6 seq=2"))
    pub("netflow-v5", 5, "192.0.2.20", 40055, v4c, 2055, netflow_v5(ts(), 1000))
    nopub("mismatch", "192.0.2.99", 40999, v4c, 514, garbage(rng, 514))
    pub("netflow-v9", 9, "2001:db8::20", 40056, v6c, 2055, netflow_v9(ts(), 2000))
    pub("ipfix", 10, "192.0.2.30", 44739, v4c, 4739, ipfix(ts(), 3000))
    nopub("unrelated-port", "192.0.2.40", 5353, "198.51.100.53", 53,
          bytes(DNS(id=0x5353, rd=1, qd=DNSQR(qname="example.com", qtype="A"))))
    pub("ipfix", 10, "2001:db8::30", 44740, v6c, 4739, ipfix(ts(), 3001, domain=2))
    pub("sflow", 5, "192.0.2.40", 46343, v4c, 6343, sflow_v5(ts(), 4000, "192.0.2.40"))
    nopub("mismatch", "2001:db8::99", 40999, v6c, 2055, garbage(rng, 2055))
    pub("sflow", 5, "2001:db8::40", 46344, v6c, 6343, sflow_v5(ts(), 4001, "2001:db8::40"))
    pub("snmptrap", 0, "192.0.2.50", 40162, v4c, 162, snmp_v1_trap("192.0.2.50"))
    pub("snmptrap", 1, "2001:db8::50", 40163, v6c, 162, snmp_v2c_trap(5001))
    nopub("tcp", "192.0.2.60", 40600, v4c, 514, syslog_3164(ts(), "syslog over TCP must not be captured"), "tcp")
    pub("snmptrap", 1, "192.0.2.51", 40164, v4c, 162, snmp_v2c_inform(5002), inform=True)
    nopub("mismatch", "192.0.2.99", 40998, v4c, 4739, garbage(rng, 4739))
    pub("snmptrap", 3, "2001:db8::51", 40165, v6c, 162, snmp_v3_trap(6001, 5003))
    pub("syslog", 1, "2001:db8::11", 40516, v6c, 514, syslog_3164(ts(), "mixed rfc3164 over IPv6 seq=3"))
    nopub("mismatch", "2001:db8::98", 40997, v6c, 6343, garbage(rng, 6343))
    pub("syslog", 2, "192.0.2.11", 40517, v4c, 514, syslog_5424(ts(), "mixed rfc5424 over IPv4 seq=4"))
    pub("netflow-v9", 9, "192.0.2.21", 40057, v4c, 2055, netflow_v9(ts(), 2001, source_id=7))
    nopub("mismatch", "192.0.2.98", 40996, v4c, 162, garbage(rng, 162))
    pub("syslog", 1, "192.0.2.12", 40518, v4c, 514, b"<14>tiny padded")   # Ethernet pads this frame to 60 bytes
    pub("netflow-v5", 5, "2001:db8::21", 40058, v6c, 2055, netflow_v5(ts(), 1002))
    for i, item in enumerate(items):
        item["ts_us"] = t0 + i * 10_000
    return items


def vlan_tag(index):
    return {1: "dot1q", 3: "qinq"}.get(index % 4)


def mixed_frame(linktype, index, item):
    if item["l4"] == "tcp":
        l3, eth = ip_tcp(item["src"], item["dst"], item["sport"], item["dport"], item["payload"], ip_id=index + 1)
    else:
        l3, eth = ip_udp(item["src"], item["dst"], item["sport"], item["dport"], item["payload"], ip_id=index + 1)
    return encapsulate(linktype, l3, eth, tag=vlan_tag(index), null_af6=(24, 28, 30)[index % 3])


def expected_entry(item, frame):
    entry = {"frame": frame, "src": addr_text(item["src"]), "sport": item["sport"], "dst": addr_text(item["dst"]),
             "dport": item["dport"], "timestamp_ns": item["ts_us"] * 1000, "payload_hex": item["payload"].hex()}
    if item["kind"]:
        entry = {"kind": item["kind"], "variant": item["variant"],
                 "flags": {"ipv6": is_v6(item["src"]), "reassembled": False, "inform": item["inform"]}, **entry}
    else:
        entry = {"reason": item["reason"], "l4": item["l4"], **entry}
    return entry


def write_mixed(prefix, linktype, items):
    path = "%s-%s.pcap" % (prefix, linktype)
    out = Pcap(path, LINKTYPES[linktype])
    published, not_published = [], []
    for index, item in enumerate(items):
        frame = out.add(item["ts_us"], mixed_frame(linktype, index, item))
        (published if item["kind"] else not_published).append(expected_entry(item, frame))
    out.close()
    counts = {}
    for e in published:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    write_json("%s-%s.expected.json" % (prefix, linktype),
               {"pcap": os.path.basename(path), "linktype": LINKTYPES[linktype], "linktype_name": linktype,
                "frames": out.frames,
                "published": published, "counts": counts,
                "mismatched": sum(1 for e in not_published if e["reason"] == "mismatch"),
                "not_published": not_published})
    return path, len(published), len(not_published)


def cmd_mixed(args):
    items = mixed_datagrams()
    results = [write_mixed(args.prefix, lt, items) for lt in LINKTYPES]
    print("wrote %s (each %d to publish, %d not) and their .expected.json"
          % (" ".join(p for p, _, _ in results), results[0][1], results[0][2]))


# ------------------------------------------------------------------------------------------ hostile

class Hostile:
    """Collects hostile frames in groups, each group described with its frame range."""

    def __init__(self, path):
        self.pcap = Pcap(path, LINKTYPES["ethernet"])
        self.ts = BASE_US + 3_000_000
        self.description = []

    def group(self, what, frames):
        first = self.pcap.frames + 1
        for frame in frames:
            if isinstance(frame, tuple):          # (bytes, wirelen): a snaplen-truncated record
                self.pcap.add(self.ts, frame[0], wirelen=frame[1])
            else:
                self.pcap.add(self.ts, frame)
            self.ts += 100
        self.description.append({"frames": "%d-%d" % (first, self.pcap.frames), "count": self.pcap.frames - first + 1,
                                 "what": what})
        return first


H_SRC4, H_DST4, H_SRC6, H_DST6 = "192.0.2.66", "192.0.2.2", "2001:db8::66", "2001:db8::2"


def hostile_syslog(note):
    return syslog_3164(BASE_US, "HOSTILE %s: must not be published" % note, host="evil")


def eth4(pkt, tag=None):
    return ethernet(bytes(pkt), ETH_IPV4, tag, pad=False)


def eth6(pkt):
    return ethernet(bytes(pkt), ETH_IPV6, pad=False)


def hostile_runts(h):
    h.group("frames shorter than an Ethernet header (0, 1, 6, 13 bytes)",
            [b"", b"\x02", bytes.fromhex("020000000002"), bytes.fromhex("02000000000202000000000108")])
    h.group("Ethernet headers announcing IPv4 / IPv6 / 802.1Q / QinQ with nothing (or 3 bytes) after them",
            [ethernet(b"", ETH_IPV4, pad=False), ethernet(b"", ETH_IPV6, pad=False),
             ethernet(b"", ETH_VLAN, pad=False), ethernet(b"\x45\x00\x00", ETH_IPV4, pad=False),
             bytes(Ether(src=MAC_SRC, dst=MAC_DST, type=ETH_VLAN)) + b"\x00\x64",
             bytes(Ether(src=MAC_SRC, dst=MAC_DST, type=ETH_QINQ) / Dot1AD(vlan=300, type=ETH_VLAN))])


def hostile_ipv4(h):
    payload = hostile_syslog("bad IPv4 header")
    udp = UDP(sport=40001, dport=514, chksum=0) / Raw(payload)
    h.group("IPv4 with IHL 0 and IHL 4 (< 5), UDP syslog behind",
            [eth4(IP(src=H_SRC4, dst=H_DST4, ihl=0) / udp), eth4(IP(src=H_SRC4, dst=H_DST4, ihl=4) / udp)])
    h.group("IPv4 with IHL 15 (60 bytes) but only 20 header bytes + 8 more in the packet (total length 28)",
            [eth4(IP(src=H_SRC4, dst=H_DST4, ihl=15, len=28, proto=17) / Raw(bytes(UDP(sport=40001, dport=514))))])
    h.group("IPv4 total length 1400, frame holds far less; total length 12 (< header); version nibble 6 in 0x0800",
            [eth4(IP(src=H_SRC4, dst=H_DST4, len=1400) / udp), eth4(IP(src=H_SRC4, dst=H_DST4, len=12) / udp),
             eth4(IP(src=H_SRC4, dst=H_DST4, version=6) / udp)])
    h.group("same bad IPv4 total length behind an 802.1Q tag",
            [eth4(IP(src=H_SRC4, dst=H_DST4, len=1400) / udp, tag="dot1q")])


def hostile_ipv6(h):
    payload = hostile_syslog("bad IPv6 header")
    udp = UDP(sport=40001, dport=514) / Raw(payload)
    h.group("IPv6 payload length 1000 with ~80 bytes present; payload length 4 (< UDP header); payload length 0",
            [eth6(IPv6(src=H_SRC6, dst=H_DST6, plen=1000) / udp), eth6(IPv6(src=H_SRC6, dst=H_DST6, plen=4) / udp),
             eth6(IPv6(src=H_SRC6, dst=H_DST6, plen=0) / udp)])
    loop = b"".join(bytes([0, 0]) + b"\x01\x04\x00\x00\x00\x00" for _ in range(300))   # next header 0 forever
    h.group("IPv6 extension-header loop: 300 Hop-by-Hop headers each naming Hop-by-Hop next, off the end",
            [eth6(IPv6(src=H_SRC6, dst=H_DST6, nh=0, plen=len(loop)) / Raw(loop))])
    runaway = bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00" + bytes([17, 255]) + b"\x01\x04\x00\x00\x00\x00"
    h.group("IPv6 Destination Options chain whose last header claims 2048 bytes (runs off the end, then UDP)",
            [eth6(IPv6(src=H_SRC6, dst=H_DST6, nh=60, plen=len(runaway) + 8) / Raw(runaway + bytes(8)))])
    h.group("IPv6 next header 59 (no next header) with a syslog-looking payload",
            [eth6(IPv6(src=H_SRC6, dst=H_DST6, nh=59) / Raw(payload))])


def hostile_udp(h):
    payload = hostile_syslog("bad UDP length")
    frames = []
    for ulen in (0, 7):
        frames.append(eth4(IP(src=H_SRC4, dst=H_DST4) / UDP(sport=40002, dport=514, len=ulen, chksum=0)
                           / Raw(payload)))
    frames.append(eth4(IP(src=H_SRC4, dst=H_DST4) / UDP(sport=40002, dport=514, len=500, chksum=0) / Raw(payload)))
    frames.append(eth6(IPv6(src=H_SRC6, dst=H_DST6) / UDP(sport=40002, dport=514, len=3, chksum=0x1111)
                       / Raw(payload)))
    frames.append(eth6(IPv6(src=H_SRC6, dst=H_DST6) / UDP(sport=40002, dport=514, len=900, chksum=0x1111)
                       / Raw(payload)))
    frames.append(eth4(IP(src=H_SRC4, dst=H_DST4, len=24, proto=17) / Raw(bytes(UDP(sport=40002, dport=514))[:4])))
    h.group("UDP length 0, 7 (< 8), 500 (> remaining) over IPv4; 3 and 900 over IPv6; IPv4 holding half a "
            "UDP header", frames)


def hostile_garbage(h):
    rng = random.Random(666)
    frames = []
    for port in DEFAULT_PORTS:
        blobs = [b"", b"\x00", bytes(64), b"\xff" * 64, garbage(rng, port, 300)]
        for i, blob in enumerate(blobs):
            src, dst = (H_SRC4, H_DST4) if i % 2 == 0 else (H_SRC6, H_DST6)
            l3, eth = ip_udp(src, dst, 41000 + i, port, blob)
            frames.append(ethernet(l3, eth, pad=False))
    h.group("garbage payloads (empty, 1 byte, 64 zeros, 64 0xff, 300 random) to each of %s"
            % ",".join(map(str, DEFAULT_PORTS)), frames)


def patch_ipv4_id(frame, ident):
    """Set the IPv4 id of an untagged Ethernet frame and recompute the header checksum."""
    hdr = bytearray(frame[14:34])
    struct.pack_into(">HH", hdr, 4, ident, 0x2000)          # id, flags=MF offset=0
    struct.pack_into(">H", hdr, 10, 0)
    total = sum(struct.unpack(">10H", bytes(hdr)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into(">H", hdr, 10, ~total & 0xFFFF)
    return frame[:14] + bytes(hdr) + frame[34:]


def hostile_flood(h, v4=18000, v6=2000):
    payload = hostile_syslog("fragment flood")
    udp = bytes(UDP(sport=40003, dport=514, len=1508, chksum=0x1234) / Raw(payload))   # claims 1500 bytes
    template4 = eth4(IP(src=H_SRC4, dst=H_DST4, proto=17, flags="MF", frag=0) / Raw(udp))
    h.group("fragment flood: %d IPv4 first fragments (MF, offset 0, ids 1..%d) never completed" % (v4, v4),
            (patch_ipv4_id(template4, i) for i in range(1, v4 + 1)))
    template6 = eth6(IPv6(src=H_SRC6, dst=H_DST6) / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0) / Raw(udp))
    id_at = 14 + 40 + 4
    h.group("fragment flood: %d IPv6 first fragments (M, offset 0, ids 0x10000..) never completed" % v6,
            (template6[:id_at] + struct.pack(">I", 0x10000 + i) + template6[id_at + 4:] for i in range(v6)))


def v4frag(data, ident, off, more, src=H_SRC4, dst=H_DST4):
    """Ethernet frame of one IPv4 fragment (off in bytes)."""
    return eth4(IP(src=src, dst=dst, id=ident, proto=17, flags="MF" if more else 0, frag=off // 8) / Raw(data))


def v6frag(data, ident, off, more, src=H_SRC6, dst=H_DST6):
    """Ethernet frame of one IPv6 fragment (off in bytes)."""
    return eth6(IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more), id=ident)
                / Raw(data))


def flip(data):
    return bytes(b ^ 0x20 for b in data)


def hostile_overlaps(h):
    """Fragment sets that cover the whole datagram (UDP length matches), so only overlap checks stop them."""
    payload = hostile_syslog("overlap")
    payload += b"A" * (288 - len(payload))                 # UDP datagram = 296 bytes
    dg4 = udp_datagram(H_SRC4, H_DST4, 40004, 514, payload)
    dg6 = udp_datagram(H_SRC6, H_DST6, 40004, 514, payload)
    h.group("overlapping IPv4 fragments covering the datagram: 0..199 MF, then 96..295 last with different bytes",
            [v4frag(dg4[:200], 0x7001, 0, True), v4frag(flip(dg4[96:]), 0x7001, 96, False)])
    h.group("overlapping IPv6 fragments, same shape (RFC 5722: drop)",
            [v6frag(dg6[:200], 0x7002, 0, True), v6frag(flip(dg6[96:]), 0x7002, 96, False)])
    h.group("conflicting duplicate IPv4 first fragment (0..199 twice, payload bytes differ), then 200..295 last",
            [v4frag(dg4[:200], 0x7003, 0, True), v4frag(dg4[:8] + flip(dg4[8:200]), 0x7003, 0, True),
             v4frag(dg4[200:], 0x7003, 200, False)])


def hostile_oversize(h, chunk=1008):
    """Complete fragment trains whose end is past 65535 (ping of death); the UDP length is the wrapped total."""
    end = 65520 + 100
    for family, frag in ((4, v4frag), (6, v6frag)):
        src, dst = (H_SRC4, H_DST4) if family == 4 else (H_SRC6, H_DST6)
        payload = hostile_syslog("past 65535")
        payload += b"P" * (end - 8 - len(payload))
        header = bytes(UDP(sport=40006, dport=514, len=end & 0xFFFF, chksum=0x2222))
        dg = header + payload
        frames = [frag(dg[off:off + chunk], 0x7004, off, True, src, dst) for off in range(0, 65520, chunk)]
        frames.append(frag(dg[65520:], 0x7004, 65520, False, src, dst))
        h.group("IPv%d fragment train of %d bytes: %d fragments, the last at offset 65520 with 100 bytes; UDP "
                "length %d (the total mod 65536)" % (family, end, len(frames), end & 0xFFFF), frames)


def hostile_truncated(h):
    small = udp_datagram(H_SRC4, H_DST4, 40005, 514, hostile_syslog("snaplen"))
    whole = ethernet(bytes(IP(src=H_SRC4, dst=H_DST4, proto=17) / Raw(small)), ETH_IPV4, pad=False)
    h.group("snaplen-truncated record: a syslog datagram with only 50 of its bytes captured (caplen < len)",
            [(whole[:50], len(whole))])


def hostile_valid(h, count=10):
    """The 10 datagrams that must be published, IPv4 and IPv6 alternating."""
    valid, frames = [], []
    for i in range(count):
        src, dst = ("192.0.2.77", "192.0.2.2") if i % 2 == 0 else ("2001:db8::77", "2001:db8::2")
        ts = h.ts + i * 100
        payload = syslog_3164(ts, "survived hostile input seq=%d" % i, host="goodhost", tag="valid")
        l3, eth = ip_udp(src, dst, 40100 + i, 514, payload, ip_id=i + 1)
        frames.append(ethernet(l3, eth))
        valid.append({"kind": "syslog", "variant": 1, "flags": {"ipv6": is_v6(src), "reassembled": False,
                                                                  "inform": False},
                      "src": addr_text(src), "sport": 40100 + i, "dst": addr_text(dst), "dport": 514,
                      "timestamp_ns": ts * 1000, "payload_hex": payload.hex()})
    first = h.group("VALID: %d syslog datagrams that must be published" % count, frames)
    for i, v in enumerate(valid):
        v["frame"] = first + i
    return valid


def cmd_hostile(args):
    h = Hostile(args.out)
    for part in (hostile_runts, hostile_ipv4, hostile_ipv6, hostile_udp, hostile_garbage, hostile_flood,
                 hostile_overlaps, hostile_oversize, hostile_truncated):
        part(h)
    valid = hostile_valid(h)
    h.pcap.close()
    write_json(args.out + ".json", {"pcap": os.path.basename(args.out), "frames": h.pcap.frames,
                                    "valid_count": len(valid), "valid": valid, "description": h.description})
    print("wrote %s (%d frames, %d valid syslog datagrams at the end) and %s.json"
          % (args.out, h.pcap.frames, len(valid), args.out))


# -------------------------------------------------------------------------------------- check-mixed

PROTO_OF_KIND = {"syslog": "syslog", "netflow-v5": "cflow", "netflow-v9": "cflow", "ipfix": "cflow",
                 "sflow": "sflow", "snmptrap": "snmp"}


def tshark_rows(path, *args):
    out = subprocess.run(["tshark", "-r", path, *args], capture_output=True, text=True, check=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def check_mixed_file(path, expected):
    """Returns a list of problems found by tshark for one mixed pcap."""
    problems = []
    rows = tshark_rows(path, "-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "frame.protocols",
                       "-e", "udp.payload")
    by_frame = {int(r[0]): r for r in rows}
    bad = {int(r[0]): r[1:] for r in tshark_rows(path, "-Y", "_ws.malformed or _ws.expert.severity >= warning",
                                                  "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message")}
    for e in expected["published"] + expected["not_published"]:
        row = by_frame.get(e["frame"], [None, "", ""])
        protos = row[1].split(":")
        if e.get("l4") == "tcp":
            if "tcp" not in protos:
                problems.append("frame %d: tcp expected, got %s" % (e["frame"], row[1]))
            continue
        if row[2] != e["payload_hex"]:
            problems.append("frame %d: udp.payload differs" % e["frame"])
        if "kind" in e:
            if PROTO_OF_KIND[e["kind"]] not in protos:
                problems.append("frame %d: %s not decoded (%s)" % (e["frame"], e["kind"], row[1]))
            if e["frame"] in bad:
                problems.append("frame %d: %s flagged: %s" % (e["frame"], e["kind"], bad[e["frame"]]))
    return problems, by_frame


def cmd_check_mixed(args):
    failed = False
    for lt in LINKTYPES:
        path = "%s-%s.pcap" % (args.prefix, lt)
        with open("%s-%s.expected.json" % (args.prefix, lt)) as f:
            expected = json.load(f)
        subprocess.run(["tshark", "-r", path, "-q", "-z", "io,stat,0"], capture_output=True, check=True)
        problems, by_frame = check_mixed_file(path, expected)
        failed |= bool(problems)
        for p in problems:
            print("%s: %s" % (path, p))
        if args.verbose:
            for n in sorted(by_frame):
                print("%s #%d %s" % (lt, n, by_frame[n][1]))
    print("check-mixed %s: %s" % (args.prefix, "FAILED" if failed else "ok (%d files)" % len(LINKTYPES)))
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("flows", help="flow traffic for softflowd / pmacctd")
    p.add_argument("out")
    p.set_defaults(func=cmd_flows)
    p = sub.add_parser("frag", help="one fragmented syslog datagram")
    p.add_argument("out")
    p.add_argument("--family", type=int, choices=(4, 6), default=4)
    p.add_argument("--size", type=int, default=3000, help="UDP payload bytes")
    p.add_argument("--dport", type=int, default=514)
    p.add_argument("--order", choices=("forward", "reverse", "shuffle"), default="forward")
    p.set_defaults(func=cmd_frag)
    p = sub.add_parser("mixed", help="every kind on every link type")
    p.add_argument("prefix")
    p.set_defaults(func=cmd_mixed)
    p = sub.add_parser("hostile", help="broken input, then 10 valid syslog datagrams")
    p.add_argument("out")
    p.set_defaults(func=cmd_hostile)
    p = sub.add_parser("check-mixed", help="cross-check mixed files with tshark")
    p.add_argument("prefix")
    p.add_argument("-v", "--verbose", action="store_true", help="print frame.protocols of every frame")
    p.set_defaults(func=cmd_check_mixed)
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
