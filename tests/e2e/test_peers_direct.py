"""Baselines: the real peers talking to each other directly, no sekiwake in between.  These validate the
fixtures in conftest.py and the helpers package and show what each peer records when nothing sits in the path."""

import os
import re

import pytest

from helpers.gating import require_programs, require_root
from helpers.net import UdpSink, send_udp
from helpers.netflow import flow_key, softflowd
from helpers.netns import NetnsPair
from helpers.pcaps import flows_pcap, pcap_flow_totals
from helpers.rsyslog import logger
from helpers.sflow import SFLOW_FILLER, pmacctd_sfprobe, sflow_pcap, sflow_sample_counts, sflow_totals, without_filler
from helpers.snmp import snmptrap
from helpers.tshark import PacketCapture, tshark_udp_payloads

N = 5


def test_logger_to_rsyslog_byte_exact(rsyslog, tmp_path):
    require_root()
    require_programs("logger", "tcpdump", "tshark")
    oracle = PacketCapture(tmp_path, f"udp and dst port {rsyslog.port}").start()
    try:
        texts = []
        for i in range(N):
            texts.append(f"direct-3164-{os.getpid()}-{i:03d}")
            logger(rsyslog.port, texts[-1], rfc="rfc3164")
            texts.append(f"direct-5424-{os.getpid()}-{i:03d}")
            logger(rsyslog.port, texts[-1], rfc="rfc5424", extra=["--msgid", "M1"])
        lines = rsyslog.wait_lines(2 * N)
    finally:
        sent = oracle.stop_and_payloads()
    assert len(sent) == 2 * N
    assert len(lines) == 2 * N
    assert all(ip == "127.0.0.1" for ip, _ in lines)
    assert sorted(msg.encode() for _, msg in lines) == sorted(p for *_, p in sent)
    for t in texts:
        assert sum(t in msg for _, msg in lines) == 1


@pytest.mark.parametrize("version", ["1", "2c", "3"])
def test_snmptrap_to_snmptrapd(snmptrapd, version):
    marker = f"direct-v{version}-{os.getpid()}"
    out = snmptrap(snmptrapd.port, version, [("1.3.6.1.4.1.99999.1.1", "s", marker),
                                             ("1.3.6.1.4.1.99999.1.2", "i", 42)])
    assert out.returncode == 0, out.stderr
    traps = snmptrapd.wait_traps(1)
    assert len(traps) == 1
    line = traps[0]
    assert line.startswith("V1 " if version == "1" else "V2 ")
    assert "[127.0.0.1]" in line
    assert f'.1.3.6.1.4.1.99999.1.1 = STRING: "{marker}"' in line
    assert ".1.3.6.1.4.1.99999.1.2 = INTEGER: 42" in line
    if version == "1":
        assert "ent=.1.3.6.1.4.1.8072.2.3" in line and "gen=6" in line and "agent=127.0.0.9" in line
    else:
        assert "OID: .1.3.6.1.6.3.1.1.5.3" in line


def test_snmptrap_clientaddr_shows_source(snmptrapd):
    out = snmptrap(snmptrapd.port, "2c", [("1.3.6.1.4.1.99999.1.1", "s", "src")], clientaddr="127.0.0.44")
    assert out.returncode == 0, out.stderr
    traps = snmptrapd.wait_traps(1)
    assert len(traps) == 1 and "[127.0.0.44]" in traps[0]


@pytest.mark.parametrize("version", [5, 9, 10])
def test_softflowd_to_nfcapd(nfcapd, tmp_path, version):
    require_programs("softflowd")
    pcap = flows_pcap(tmp_path / "flows.pcap")
    softflowd(pcap, "127.0.0.1", nfcapd.port, version, tmp_path)
    flows = nfcapd.flush_and_read()
    expected = pcap_flow_totals(pcap, ipv4_only=(version == 5))
    got = {}
    for f in flows:
        src, dst, sport, dport, proto, pkts, byts = flow_key(f)
        assert f.get("ip4_router") == "127.0.0.1"
        p, b = got.get((src, dst, sport, dport, proto), (0, 0))
        got[(src, dst, sport, dport, proto)] = (p + pkts, b + byts)
    # softflowd counts the captured bytes after the Ethernet header, so a SYN padded to the 60-byte Ethernet
    # minimum counts 46 bytes, not its IP length of 40
    assert got == {k: (p, fb - 14 * p) for k, (p, _, fb) in expected.items()}


def test_pmacctd_sfprobe_to_sfacctd(sfacctd, tmp_path):
    require_root()
    require_programs("tcpdump", "tshark")
    pcap = sflow_pcap(tmp_path / "flows.pcap")
    oracle = PacketCapture(tmp_path, f"udp and dst port {sfacctd.port}").start()
    pmacctd_sfprobe(pcap, "127.0.0.1", sfacctd.port, tmp_path / "pmacctd", agent_ip="127.0.0.7")
    records = sfacctd.flush_and_read()
    oracle.stop()
    samples = sflow_sample_counts(oracle.pcap, sfacctd.port)
    assert records
    assert {r["peer_ip_src"] for r in records} == {"127.0.0.7"}
    totals = sflow_totals(records)
    # sampling_rate 1: one flow sample per packet. sfacctd's print plugin can lose the last samples it holds
    # when stopped; only filler samples may be among them, which the exact per-flow check below confirms.
    accounted = sum(p for p, _ in totals.values())
    assert sum(samples) - 30 <= accounted <= sum(samples)
    got = {k: p for k, (p, _) in without_filler(totals).items()}
    proto = {6: "tcp", 17: "udp"}
    expected = {(s, d, sp, dp, proto[pr]): p for (s, d, sp, dp, pr), (p, _, _) in pcap_flow_totals(pcap).items()
                if (s, d, sp, dp, pr) != SFLOW_FILLER}
    assert got == expected


@pytest.mark.parametrize("family", [4, 6])
def test_netns_fragmented_datagram_arrives_whole(tmp_path, family):
    require_root()
    require_programs("ip")
    payload = bytes(range(256)) * 11 + bytes(184)  # 3000 bytes
    assert len(payload) == 3000
    with NetnsPair(mtu=1280) as ns:
        src, dst = (ns.a4, ns.b4) if family == 4 else (ns.a6, ns.b6)
        sink = UdpSink(tmp_path, host=dst, count=1, timeout=10, netns=ns.ns_b).start()
        try:
            oracle = PacketCapture(tmp_path, "ip or ip6", iface=ns.veth_b, netns=ns.ns_b).start()
            used = send_udp([payload], dst, sink.port, src=src, netns=ns.ns_a)
            got = sink.results()
            on_wire = oracle.stop_and_payloads()
        finally:
            sink.stop()
    assert got == [(src, used[1], payload)]
    assert [p for *_, p in on_wire] == [payload]  # tshark reassembled it from fragments


def test_tshark_reads_fragments_in_pcap(tmp_path):
    """The oracle: tshark reassembles a fragmented datagram that scapy wrote."""
    from scapy.all import IP, UDP, Ether, fragment, wrpcap
    payload = os.urandom(3000)
    pkt = Ether() / IP(src="127.0.0.5", dst="127.0.0.1", id=77) / UDP(sport=4000, dport=514) / payload
    frags = fragment(pkt[IP], fragsize=1200)
    wrpcap(str(tmp_path / "f.pcap"), [Ether() / f for f in reversed(frags)])
    rows = tshark_udp_payloads(tmp_path / "f.pcap")
    assert [r[4] for r in rows] == [payload]
    assert re.match(r"127\.0\.0\.5", rows[0][0])
