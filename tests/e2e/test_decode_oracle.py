"""`sekiwake decode` against tshark on pcaps made by real generators: softflowd (NetFlow v5, v9, IPFIX) and
pmacctd's sfprobe (sFlow v5) and logger (RFC 3164, RFC 5424). The same file goes to both; the records must agree field by field. Where the
two differ on purpose, the test says why."""

import subprocess
import time

import pytest

from decode_oracle import decode, dicts_with, first, tshark_json
from helpers.env import SEKIWAKE_BIN
from helpers.gating import require_programs, require_sekiwake
from helpers.net import drain_socket, free_port
from helpers.netflow import softflowd
from helpers.pcaps import flows_pcap
from helpers.rsyslog import logger
from helpers.sflow import pmacctd_sfprobe
from helpers.tshark import PacketCapture


def capture_softflowd(tmp_path, version):
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name=f"softflowd-v{version}").start()
    with drain_socket(port):
        softflowd(flows_pcap(tmp_path / "flows.pcap"), "127.0.0.1", port, version, tmp_path / "sf")
        time.sleep(0.3)
    cap.stop()
    return cap.pcap, port


def tshark_flows(pcap, port):
    """(exporter, version, sequence, domain, src, dst, sport, dport, proto, packets, bytes) per flow, in order."""
    rows = []
    for layers in tshark_json(pcap, [f"udp.port=={port},cflow"]):
        cflow = layers["cflow"]
        version = int(cflow["cflow.version"])
        domain = cflow.get("cflow.source_id", cflow.get("cflow.od_id"))
        head = (layers["ip"]["ip.src"], version, int(cflow["cflow.sequence"]),
                None if domain is None else int(domain))
        for f in dicts_with(cflow, "cflow.octets"):
            rows.append(head + (f.get("cflow.srcaddr") or f.get("cflow.srcaddrv6"),
                                f.get("cflow.dstaddr") or f.get("cflow.dstaddrv6"),
                                int(f["cflow.srcport"]), int(f["cflow.dstport"]), int(f["cflow.protocol"]),
                                int(f["cflow.packets"]), int(f["cflow.octets"])))
    return rows


def our_flows(records):
    return [(r["exporter"], r["version"], r["sequence"], r.get("domain"), r["src_addr"], r["dst_addr"],
             r["src_port"], r["dst_port"], r["protocol"], r["packets"], r["bytes"])
            for r in records if r["record"] == "flow"]


@pytest.mark.parametrize("version,kind", [(5, "netflow-v5"), (9, "netflow-v9"), (10, "ipfix")])
def test_softflowd_flows_match_tshark(tmp_path, version, kind):
    require_programs("softflowd", "tcpdump", "tshark")
    require_sekiwake()
    pcap, port = capture_softflowd(tmp_path, version)
    records, summary = decode(pcap, {"netflow": port})
    oracle = tshark_flows(pcap, port)
    assert len(oracle) >= 6, "softflowd exported too few flows to compare"
    if version == 5:
        # tshark shows v5 records without a domain; ours have none either
        oracle = [row[:3] + (None,) + row[4:] for row in oracle]
    assert our_flows(records) == oracle
    assert {r["kind"] for r in records} == {kind}
    assert summary["records"]["malformed"] == 0
    assert summary["records"]["sets_without_template"] == 0
    assert summary["datagrams"] == len(tshark_json(pcap, [f"udp.port=={port},cflow"]))


def test_softflowd_v9_templates_and_options_on_request(tmp_path):
    require_programs("softflowd", "tcpdump", "tshark")
    require_sekiwake()
    pcap, port = capture_softflowd(tmp_path, 9)
    records, _ = decode(pcap, {"netflow": port}, "--templates")
    ours = {(r["template_id"], r["options"], len(r["fields"])) for r in records if r["record"] == "template"}
    theirs = set()
    for layers in tshark_json(pcap, [f"udp.port=={port},cflow"]):
        for t in dicts_with(layers["cflow"], "cflow.template_id"):
            if "cflow.template_field_count" in t:
                theirs.add((int(t["cflow.template_id"]), False, int(t["cflow.template_field_count"])))
            elif "cflow.option_scope_length" in t:
                n = (int(t["cflow.option_scope_length"]) + int(t["cflow.option_length"])) // 4
                theirs.add((int(t["cflow.template_id"]), True, n))
    assert ours and ours == theirs
    # without --templates there are none, and the options data (softflowd's sampling) is a record of its own
    plain, _ = decode(pcap, {"netflow": port})
    assert not [r for r in plain if r["record"] == "template"]
    options = [r for r in plain if r["record"] == "options"]
    assert options and all(r["scope"] for r in options)


def test_logger_messages_match_tshark(tmp_path):
    require_programs("logger", "tcpdump", "tshark")
    require_sekiwake()
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name="logger").start()
    sent = [
        ("rfc3164", "local3.err", "app3164", "hello from 3164 [x=1]"),
        ("rfc3164", "kern.emerg", "kernel", "panic: not really"),
        ("rfc5424", "user.notice", "app5424", "hello from 5424"),
        ("rfc5424", "local7.debug", "cron", "caf\u00e9 \u2713 utf-8"),
    ]
    with drain_socket(port):
        for rfc, prio, tag, msg in sent:
            logger(port, msg, rfc=rfc, tag=tag, priority=prio)
        logger(port, "with structured data", rfc="rfc5424", tag="sd", priority="daemon.info",
               extra=["--msgid", "ID47", "--sd-id", "ex@32473", "--sd-param", 'k="v"'])
        time.sleep(0.3)
    cap.stop()
    records, summary = decode(cap.pcap, {"syslog": port})
    oracle = [l["syslog"] for l in tshark_json(cap.pcap, [f"udp.port=={port},syslog"])]
    assert len(records) == len(oracle) == len(sent) + 1 == summary["records"]["records"]
    for ours, theirs, want in zip(records, oracle, sent + [("rfc5424", "daemon.info", "sd", "with structured data")]):
        assert ours["kind"] == "syslog" and ours["record"] == "message"
        assert ours["format"] == want[0]
        assert ours["facility"] == int(first(theirs, "syslog.facility"))
        assert ours["severity"] == int(first(theirs, "syslog.level"))
        assert ours["hostname"] == first(theirs, "syslog.hostname")
        assert ours["app"] == want[2]
        assert ours["message"] == want[3]
        # tshark's syslog.msg is the whole text after PRI (5424) or after the timestamp (3164); ours is the
        # free-form message alone, which is the end of theirs
        assert first(theirs, "syslog.msg").endswith(ours["message"])
        if want[0] == "rfc5424":
            # tshark does split the RFC 5424 APP-NAME; its MSGID field runs on into the structured data
            assert ours["app"] == first(theirs, "syslog.appname")
            assert first(theirs, "syslog.msgid").startswith(ours.get("msgid", "-"))
        else:
            # tshark leaves the RFC 3164 TAG inside the text: ours is split out as `app`
            assert f"{ours['app']}:" in first(theirs, "syslog.msg")
    assert records[-1]["msgid"] == "ID47"
    assert '[ex@32473 k="v"]' in records[-1]["structured_data"]


def tshark_sflow_samples(pcap, port):
    """Per flow sample: (agent, datagram sequence, sample sequence, source index, rate, pool, drops,
    header protocol, frame length, stripped, src, dst, protocol, sport, dport), in order."""
    rows = []
    for layers in tshark_json(pcap, [f"udp.port=={port},sflow"]):
        s = layers["sflow"]
        head = (s["sflow_245.agent"], int(s["sflow_245.sequence_number"]))
        for fs in dicts_with(s, "sflow.flow_sample.sequence_number"):
            raw = dicts_with(fs, "sflow_245.header_protocol")[0]
            tree = raw["sflow_245.header_tree"]
            ip = tree.get("ip") or tree.get("ipv6")
            l4 = tree.get("tcp") or tree.get("udp") or {}
            src = ip.get("ip.src") or ip.get("ipv6.src")
            dst = ip.get("ip.dst") or ip.get("ipv6.dst")
            proto = int(ip.get("ip.proto") or ip.get("ipv6.nxt"))
            sport = l4.get("tcp.srcport") or l4.get("udp.srcport")
            dport = l4.get("tcp.dstport") or l4.get("udp.dstport")
            rows.append(head + (
                int(fs["sflow.flow_sample.sequence_number"]), int(fs["sflow.flow_sample.index"]),
                int(fs["sflow.flow_sample.sampling_rate"]), int(fs["sflow.flow_sample.sample_pool"]),
                int(fs["sflow.flow_sample.dropped_packets"]), int(raw["sflow_245.header_protocol"]),
                int(raw["sflow_245.header.frame_length"]), int(raw["sflow_245.header.payload_stripped"]),
                src, dst, proto, None if sport is None else int(sport), None if dport is None else int(dport)))
    return rows


def test_pmacct_sflow_samples_match_tshark(tmp_path):
    require_programs("pmacctd", "tcpdump", "tshark")
    require_sekiwake()
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name="sfprobe").start()
    with drain_socket(port):
        pmacctd_sfprobe(flows_pcap(tmp_path / "flows.pcap"), "127.0.0.1", port, tmp_path / "pm")
        time.sleep(0.3)
    cap.stop()
    records, summary = decode(cap.pcap, {"sflow": port})
    oracle = tshark_sflow_samples(cap.pcap, port)
    assert len(oracle) >= 20, "pmacctd sent too few samples to compare"
    ours = [(r["agent"], r["sequence"], r["sample_sequence"], r["source_id_index"], r["sampling_rate"],
             r["sample_pool"], r["drops"], r["header_protocol"], r["frame_length"], r["stripped"],
             r["src_addr"], r["dst_addr"], r["protocol"], r.get("src_port"), r.get("dst_port"))
            for r in records if r["record"] == "flow"]
    assert ours == oracle
    assert all(r["kind"] == "sflow" and r["exporter"] == "127.0.0.1" for r in records)
    assert summary["records"]["malformed"] == 0


COUNTER_FIELDS = [("if_index", "sflow_245.ifindex"), ("if_type", "sflow_245.iftype"), ("if_speed", "sflow_245.ifspeed"),
                  ("if_direction", "sflow_245.ifdirection"), ("in_octets", "sflow_245.ifinoct"),
                  ("in_ucast_pkts", "sflow_245.ifinpkt"), ("in_multicast_pkts", "sflow_245.ifinmcast"),
                  ("in_broadcast_pkts", "sflow_245.ifinbcast"), ("in_discards", "sflow_245.ifindisc"),
                  ("in_errors", "sflow_245.ifinerr"), ("out_octets", "sflow_245.ifoutoct"),
                  ("out_ucast_pkts", "sflow_245.ifoutpkt"), ("out_discards", "sflow_245.ifoutdisc"),
                  ("out_errors", "sflow_245.ifouterr"), ("promiscuous_mode", "sflow_245.ifpromisc")]


def test_sflow_counter_samples_match_tshark(tmp_path):
    """pmacctd sends no counter samples in a short replay, so the counters come from `sekiwake send sflow`
    (two agents); tshark is still the oracle for their values."""
    require_programs("tcpdump", "tshark")
    require_sekiwake()
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name="send-sflow").start()
    with drain_socket(port):
        out = subprocess.run([SEKIWAKE_BIN, "send", "sflow", "--to", f"127.0.0.1:{port}", "--count", "40",
                              "--rate", "2000", "--exporters", "2"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        time.sleep(0.3)
    cap.stop()
    records, summary = decode(cap.pcap, {"sflow": port})
    ours = [r for r in records if r["record"] == "counters"]
    theirs = []
    for layers in tshark_json(cap.pcap, [f"udp.port=={port},sflow"]):
        s = layers["sflow"]
        for cs in dicts_with(s, "sflow.counters_sample.sequence_number"):
            g = dicts_with(cs, "sflow_245.ifindex")[0]
            theirs.append((s["sflow_245.agent"], int(cs["sflow.counters_sample.sequence_number"]),
                           int(cs["sflow.counters_sample.source_id_index"]))
                          + tuple(int(g[t]) for _, t in COUNTER_FIELDS))
    assert len(theirs) >= 2
    # ifStatus is one word in sFlow (bit 0 admin up, bit 1 oper up); tshark splits it, ours keeps the word
    assert [(r["agent"], r["sample_sequence"], r["source_id_index"]) + tuple(r[o] for o, _ in COUNTER_FIELDS)
            for r in ours] == theirs
    assert all(r["if_status"] == 3 for r in ours)
    flows = [r for r in records if r["record"] == "flow"]
    assert flows and all(r.get("src_addr") and r.get("frame_length") for r in flows)
    assert {r["exporter"] for r in records} == {"127.0.0.1", "127.0.0.2"}
    assert summary["records"]["malformed"] == 0


@pytest.mark.parametrize("version", [9, 10])
def test_sampling_rate_from_softflowd_options(tmp_path, version):
    """softflowd -s N announces 1-in-N sampling in options data (v9 samplingInterval, IPFIX
    samplingPacketInterval/Space); every flow of that exporter then carries sampling_rate N."""
    require_programs("softflowd", "tcpdump", "tshark")
    require_sekiwake()
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name=f"sampled-v{version}").start()
    argv = ["softflowd", "-r", str(flows_pcap(tmp_path / "flows.pcap")), "-n", f"127.0.0.1:{port}", "-v",
            str(version), "-6", "-a", "-d", "-c", "none", "-s", "4", "-p", str(tmp_path / "sf.pid")]
    with drain_socket(port):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        time.sleep(0.3)
    cap.stop()
    records, _ = decode(cap.pcap, {"netflow": port})
    flows = [r for r in records if r["record"] == "flow"]
    assert flows, "softflowd -s 4 exported no flow"
    assert {r["sampling_rate"] for r in flows} == {4}
    # tshark's view of the options data says the same
    layers = tshark_json(cap.pcap, [f"udp.port=={port},cflow"])
    if version == 9:
        announced = {int(d["cflow.sampling_interval"]) for l in layers for d in dicts_with(l, "cflow.sampling_interval")}
        assert announced == {4}
    else:
        opts = [r for r in records if r["record"] == "options"]
        assert opts and all(r["fields"]["samplingPacketInterval"] == 1 and r["fields"]["samplingPacketSpace"] == 3
                            for r in opts)
