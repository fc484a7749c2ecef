"""pcap files: tools/mkpcap.py, a builtin flows pcap when the tool is absent, and per-flow totals of a pcap."""

import subprocess

from .env import PY, TOOLS
from .gating import require_tool


def mkpcap(*args, timeout=120):
    """Run tools/mkpcap.py with Debian's python (scapy)."""
    tool = require_tool("mkpcap.py")
    out = subprocess.run([PY, str(tool), *[str(a) for a in args]], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"mkpcap.py {args} failed: {out.stdout}\n{out.stderr}")
    return out


def builtin_flows_pcap(path):
    """A small deterministic flows pcap (used only by the direct peer baselines when tools/mkpcap.py is absent):
    IPv4 TCP sessions closed with FIN, IPv4 UDP exchanges, and one IPv6 UDP flow, with fixed timestamps."""
    from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, wrpcap
    pkts = []
    t = 1_700_000_000.0
    eth = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

    def add(p):
        nonlocal t
        t += 0.01
        p.time = t
        pkts.append(p)
    for i in range(4):
        c, s, sport = f"192.0.2.{10 + i}", f"198.51.100.{20 + i}", 40000 + i
        add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="S"))
        add(Ether(**eth) / IP(src=s, dst=c) / TCP(sport=80, dport=sport, flags="SA"))
        for k in range(i + 1):
            add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="PA") / Raw(b"x" * (100 + k)))
        add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="FA"))
        add(Ether(**eth) / IP(src=s, dst=c) / TCP(sport=80, dport=sport, flags="FA"))
    for i in range(3):
        c, s = f"192.0.2.{50 + i}", "203.0.113.53"
        for k in range(2 + i):
            add(Ether(**eth) / IP(src=c, dst=s) / UDP(sport=50000 + i, dport=53) / Raw(b"q" * (30 + i)))
    for k in range(3):
        add(Ether(**eth) / IPv6(src="2001:db8::10", dst="2001:db8::20") / UDP(sport=5353, dport=123)
            / Raw(b"v" * 48))
    wrpcap(str(path), pkts)
    return path


def flows_pcap(path):
    """tools/mkpcap.py flows OUT when the tool exists, else the builtin one."""
    if (TOOLS / "mkpcap.py").exists():
        mkpcap("flows", path)
        return path
    return builtin_flows_pcap(path)


def pcap_flow_totals(pcap, ipv4_only=False):
    """{(src, dst, sport, dport, proto): (packets, ip_bytes, frame_bytes)} of the TCP/UDP packets in pcap."""
    from scapy.all import IP, IPv6, TCP, UDP, rdpcap
    totals = {}
    for pkt in rdpcap(str(pcap)):
        if IP in pkt:
            ip, length = pkt[IP], pkt[IP].len
        elif IPv6 in pkt and not ipv4_only:
            ip, length = pkt[IPv6], pkt[IPv6].plen + 40
        else:
            continue
        l4 = pkt[TCP] if TCP in pkt else pkt[UDP] if UDP in pkt else None
        if l4 is None:
            continue
        key = (ip.src, ip.dst, l4.sport, l4.dport, 6 if TCP in pkt else 17)
        p, b, fb = totals.get(key, (0, 0, 0))
        totals[key] = (p + 1, b + length, fb + len(pkt))
    return totals
