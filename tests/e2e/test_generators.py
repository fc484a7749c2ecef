"""`sekiwake send KIND`: every generated datagram is valid as judged by tshark (no expert warnings or errors)
and by the real receivers — nfcapd/nfdump for NetFlow v5/v9/IPFIX, sfacctd for sFlow, snmptrapd for traps and
informs, rsyslog for syslog — which account for exactly what was sent. Several exporters send from distinct
127/8 addresses, each with its own sequence numbers."""

import subprocess
from collections import defaultdict

import pytest

from helpers.gating import require_programs
from helpers.net import UdpSink
from helpers.tshark import PacketCapture

DECODE = {"netflow-v5": "cflow", "netflow-v9": "cflow", "ipfix": "cflow", "sflow": "sflow", "syslog": "syslog",
          "snmptrap-v1": "snmp", "snmptrap-v2c": "snmp", "snmpinform": "snmp"}


def tshark(pcap, port, kind, *args):
    argv = ["tshark", "-r", str(pcap), "-n", "-d", f"udp.port=={port},{DECODE[kind]}", *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def assert_tshark_clean(pcap, port, kind, count):
    """tshark decodes `count` datagrams of the kind and reports no expert warning or error."""
    frames = tshark(pcap, port, kind, "-Y", DECODE[kind], "-T", "fields", "-e", "frame.number").split()
    assert len(frames) == count
    expert = tshark(pcap, port, kind, "-q", "-z", "expert,warn")
    assert "Warnings" not in expert and "Errors" not in expert, expert


def send(sekiwake, kind, port, count, *extra):
    out = sekiwake.send(kind, "--to", f"127.0.0.1:{port}", "--count", count, "--rate", 2000, *extra)
    assert out.returncode == 0, out.stderr
    return out


def tshark_records(pcap, port, kind, field):
    """Occurrences of field over all datagrams (one per flow record or sample)."""
    lines = tshark(pcap, port, kind, "-Y", DECODE[kind], "-T", "fields", "-E", "occurrence=a",
                   "-E", "aggregator=,", "-e", field).split()
    return sum(len(l.split(",")) for l in lines)


@pytest.mark.parametrize("kind", ["netflow-v5", "netflow-v9", "ipfix"])
def test_flow_exports_decode_in_nfdump_and_tshark(nfcapd, sekiwake, tmp_path, kind):
    require_programs("tcpdump", "tshark")
    oracle = PacketCapture(tmp_path, f"udp and dst port {nfcapd.port}").start()
    send(sekiwake, kind, nfcapd.port, 40, "--exporters", 2, "--template-every", 10)
    flows = nfcapd.flush_and_read()
    oracle.stop()

    assert_tshark_clean(oracle.pcap, nfcapd.port, kind, 40)
    records = tshark_records(oracle.pcap, nfcapd.port, kind, "cflow.srcaddr")
    assert records > 40 * 20, "datagrams carry ~1400 bytes of records"
    assert len(flows) == records, "nfdump accounts every record tshark sees"
    assert {f["ip4_router"] for f in flows} == {"127.0.0.1", "127.0.0.2"}
    assert all(int(f["in_packets"]) > 0 and int(f["in_bytes"]) > 0 for f in flows)


def test_sflow_decodes_in_sfacctd_and_tshark(sfacctd, sekiwake, tmp_path):
    require_programs("tcpdump", "tshark")
    oracle = PacketCapture(tmp_path, f"udp and dst port {sfacctd.port}").start()
    send(sekiwake, "sflow", sfacctd.port, 40, "--exporters", 2)
    records = sfacctd.flush_and_read()
    oracle.stop()

    assert_tshark_clean(oracle.pcap, sfacctd.port, "sflow", 40)
    flow_samples = tshark_records(oracle.pcap, sfacctd.port, "sflow", "sflow.flow_sample.sequence_number")
    counter_samples = tshark_records(oracle.pcap, sfacctd.port, "sflow", "sflow.counters_sample.sequence_number")
    datagram_seqs = tshark(oracle.pcap, sfacctd.port, "sflow", "-Y", "sflow", "-T", "fields",
                           "-e", "sflow_245.sequence_number").split()
    # a counter sample rides in every 4th datagram of each agent (its datagram sequence 0, 4, 8, ...)
    assert flow_samples >= 40 * 5
    assert counter_samples == sum(int(q) % 4 == 0 for q in datagram_seqs) > 0
    assert {r["peer_ip_src"] for r in records} == {"127.0.0.1", "127.0.0.2"}
    assert sum(int(r["packets"]) for r in records) == flow_samples, "sfacctd accounts every flow sample"


@pytest.mark.parametrize("kind,prefix", [("snmptrap-v1", "V1 "), ("snmptrap-v2c", "V2 ")])
def test_traps_are_logged_by_snmptrapd(snmptrapd, sekiwake, tmp_path, kind, prefix):
    require_programs("tcpdump", "tshark")
    oracle = PacketCapture(tmp_path, f"udp and dst port {snmptrapd.port}").start()
    send(sekiwake, kind, snmptrapd.port, 25)
    traps = snmptrapd.wait_traps(25, timeout=20)
    oracle.stop()

    assert_tshark_clean(oracle.pcap, snmptrapd.port, kind, 25)
    assert len(traps) == 25 and all(t.startswith(prefix) for t in traps)
    assert sorted(int(t.split('"seq=')[1].split('"')[0]) for t in traps) == list(range(25))
    assert all(".1.3.6.1.2.1.2.2.1.1." in t for t in traps), "ifIndex varbind"


def test_informs_are_acknowledged_by_snmptrapd(snmptrapd, sekiwake, tmp_path):
    stats = tmp_path / "send.json"
    send(sekiwake, "snmpinform", snmptrapd.port, 30, "--stats", stats)
    import json
    r = json.loads(stats.read_text())
    assert r["sent"] == 30
    assert r["informs"] == {"acked": 30, "retried": 0, "unacked": 0}
    traps = snmptrapd.wait_traps(30, timeout=20)
    assert len(traps) == 30


def test_informs_without_a_receiver_are_retried_and_counted_unacked(sekiwake, tmp_path):
    sink = UdpSink(tmp_path, count=15, timeout=15, idle=4).start()  # receives, never answers
    stats = tmp_path / "send.json"
    send(sekiwake, "snmpinform", sink.port, 5, "--stats", stats, "--inform-timeout-ms", 200, "--inform-retries", 2)
    import json
    r = json.loads(stats.read_text())
    got = sink.results()
    assert r["informs"] == {"acked": 0, "retried": 10, "unacked": 5}
    assert len(got) == 15, "each inform sent once and retried twice"


def test_syslog_formats_reach_rsyslog_byte_exact(rsyslog, sekiwake, tmp_path):
    require_programs("tcpdump", "tshark")
    oracle = PacketCapture(tmp_path, f"udp and dst port {rsyslog.port}").start()
    send(sekiwake, "syslog", rsyslog.port, 60, "--format", "mixed", "--seed", 7)
    lines = rsyslog.wait_lines(60, timeout=20)
    sent = oracle.stop_and_payloads()

    assert_tshark_clean(oracle.pcap, rsyslog.port, "syslog", 60)
    assert sorted(m.encode() for _, m in lines) == sorted(p for *_, p in sent)
    cisco = [m for _, m in lines if "%LINK-3-UPDOWN" in m]
    rfc5424 = [m for _, m in lines if m.split(">", 1)[1].startswith("1 ")]
    assert len(cisco) == 20 and len(rfc5424) == 20
    sizes = {len(p) for *_, p in sent}
    assert len(sizes) > 20, "sizes follow a distribution"


def test_exporters_have_their_own_addresses_and_sequences(sekiwake, tmp_path):
    sink = UdpSink(tmp_path, count=100, timeout=15, idle=3).start()
    send(sekiwake, "netflow-v9", sink.port, 100, "--exporters", 5, "--domains", 2)
    got = sink.results()
    assert {src for src, _, _ in got} == {f"127.0.0.{i}" for i in range(1, 6)}
    sequences = defaultdict(list)
    for src, _, p in got:
        source_id = int.from_bytes(p[16:20], "big")
        sequences[(src, source_id)].append(int.from_bytes(p[12:16], "big"))
    assert len(sequences) == 10
    assert all(s == list(range(len(s))) for s in sequences.values()), sequences


def test_exporters_from_any_prefix_inside_a_namespace(sekiwake, tmp_path):
    """Inside a test namespace, --source picks exporter addresses from any prefix (not configured on an
    interface): the receiver across the veth sees each of them."""
    import subprocess
    from helpers.env import SEKIWAKE_BIN
    from helpers.gating import require_programs
    from helpers.netns import NetnsPair
    require_programs("ip")
    with NetnsPair() as ns:
        sink = UdpSink(tmp_path, host=ns.b4, count=30, timeout=15, idle=3, netns=ns.ns_b).start()
        out = subprocess.run(["ip", "netns", "exec", ns.ns_a, SEKIWAKE_BIN, "send", "syslog", "--to",
                              f"{ns.b4}:{sink.port}", "--count", "30", "--exporters", "3", "--source", "203.0.113.10"],
                             capture_output=True, text=True, timeout=30)
        got = sink.results()
    assert out.returncode == 0, out.stderr
    assert len(got) == 30
    assert {src for src, _, _ in got} == {"203.0.113.10", "203.0.113.11", "203.0.113.12"}
