"""Live capture on lo -> bus -> `sekiwake tap --decode`: the records tap prints are those of the traffic on the
wire, one per syslog message and one per NetFlow v9 flow.

The traffic is `sekiwake send` (syslog in every format from three exporters, NetFlow v9 from two) plus logger
messages at chosen priorities. A tcpdump capture of the same ports is the oracle: `sekiwake decode --pcap` must
give the very records tap printed, and tshark must see the same messages and flows.  Nobody listens on the
capture ports; a bound socket that is never read keeps ICMP port-unreachable away from the senders.
"""

import datetime
import os
import re
import time

from decode_oracle import decode, dicts_with, first, tshark_json
from helpers.gating import require_programs
from helpers.net import drain_socket, free_port
from helpers.proc import wait_until
from helpers.rsyslog import logger
from helpers.snmp import SNMP_AUTH, SNMP_ENGINE_ID, SNMP_PRIV, SNMP_USER, snmptrap
from helpers.tshark import PacketCapture

N_SYSLOG = 300  # generated syslog messages (rfc3164, rfc5424 and Cisco IOS in turn)
N_NETFLOW = 30  # generated NetFlow v9 datagrams (~1400 bytes each, templates every 4 per domain)
# logger messages: (priority, facility, severity, text); logger sends no kern (0) messages: it makes them user
LOGGED = [("daemon.emerg", 3, 0, "tap-decode daemon panic, not really"),
          ("mail.warning", 2, 4, "tap-decode mail queue long"),
          ("auth.info", 4, 6, "tap-decode login ok"),
          ("local7.debug", 23, 7, "tap-decode debug caf\u00e9")]


def received_us(record):
    t = datetime.datetime.strptime(record["received"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000 + t.microsecond


def without_received(records):
    return [{k: v for k, v in r.items() if k != "received"} for r in records]


def tshark_syslog(pcap, port):
    """(exporter, facility, severity, text after PRI) per syslog datagram, in order."""
    rows = []
    for layers in tshark_json(pcap, [f"udp.port=={port},syslog"], "-Y", "syslog"):
        s = layers["syslog"]
        rows.append((layers["ip"]["ip.src"], int(first(s, "syslog.facility")), int(first(s, "syslog.level")),
                     first(s, "syslog.msg")))
    return rows


def tshark_v9_flows(pcap, port):
    """(exporter, sequence, source id, src, dst, sport, dport, proto, packets, bytes) per flow, in order."""
    rows = []
    for layers in tshark_json(pcap, [f"udp.port=={port},cflow"], "-Y", "cflow"):
        c = layers["cflow"]
        assert c["cflow.version"] == "9"
        head = (layers["ip"]["ip.src"], int(c["cflow.sequence"]), int(c["cflow.source_id"]))
        for f in dicts_with(c, "cflow.octets"):
            rows.append(head + (f["cflow.srcaddr"], f["cflow.dstaddr"], int(f["cflow.srcport"]),
                                int(f["cflow.dstport"]), int(f["cflow.protocol"]), int(f["cflow.packets"]),
                                int(f["cflow.octets"])))
    return rows


def test_tap_decode_prints_the_records_of_live_traffic(sekiwake, tmp_path):
    require_programs("tcpdump", "tshark", "logger")
    syslog_port, netflow_port = free_port("udp"), free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    # the capture opens lo only once tap has subscribed: nothing published can miss it (slow joiner)
    cap = sekiwake.capture("--snaplen", "2048", ports={"syslog": syslog_port, "netflow": netflow_port},
                           publish=bus, wait_subscribers=1, wait_ready=False)
    tap = sekiwake.tap(bus, decode=True)
    cap.wait_ready_capturing()
    wire = PacketCapture(tmp_path, f"udp and (dst port {syslog_port} or dst port {netflow_port})",
                         name="wire").start()

    with drain_socket(syslog_port), drain_socket(netflow_port):
        sent_syslog = sekiwake.send("syslog", "--to", f"127.0.0.1:{syslog_port}", "--count", N_SYSLOG,
                                    "--format", "mixed", "--exporters", 3, "--rate", 3000, "--seed", 5)
        for prio, _, _, text in LOGGED:
            logger(syslog_port, text, rfc="rfc5424", tag="tapdec", priority=prio)
        sent_netflow = sekiwake.send("netflow-v9", "--to", f"127.0.0.1:{netflow_port}", "--count", N_NETFLOW,
                                     "--exporters", 2, "--rate", 1000, "--template-every", 4, "--seed", 5)
        total = N_SYSLOG + len(LOGGED) + N_NETFLOW
        cap.wait_stats(lambda s: s["published"] >= total, timeout=10)
        time.sleep(0.3)
    wire.stop()
    assert sent_syslog.returncode == 0, sent_syslog.stderr
    assert sent_netflow.returncode == 0, sent_netflow.stderr

    expected, summary = decode(wire.pcap, {"syslog": syslog_port, "netflow": netflow_port})
    assert summary["datagrams"] == total, "the oracle capture must hold every datagram sent"
    assert summary["records"]["malformed"] == 0 and summary["records"]["sets_without_template"] == 0
    wait_until(lambda: len(tap.stdout_lines()) >= len(expected), 10)
    time.sleep(0.3)  # anything extra would show up now
    tap_rc, _ = tap.terminate()
    got = tap.json_lines()
    cap_rc, cap_stats = cap.terminate()

    assert tap_rc == 0, tap.output()
    assert cap_rc == 0, cap.output()
    assert cap_stats["captured"]["syslog"] == N_SYSLOG + len(LOGGED)
    assert cap_stats["captured"]["netflow-v9"] == N_NETFLOW
    assert cap_stats["published"] == cap_stats["captured_total"] == total
    assert cap_stats["mismatched"] == 0 and cap_stats["hwm_dropped"] == 0

    # tap prints records, never envelopes, and exactly the ones decode finds in the same traffic
    assert all("payload_hex" not in r and "topic" not in r for r in got)
    assert {(r["kind"], r["record"]) for r in got} == {("syslog", "message"), ("netflow-v9", "flow")}
    assert without_received(got) == without_received(expected)
    # `received` is the capture time: tap's is the envelope's (sekiwake capture), decode's tcpdump's.  Both read
    # the kernel's receive timestamp of the same packet on lo (identical in practice); allow a millisecond.
    assert all(abs(received_us(a) - received_us(b)) <= 1000 for a, b in zip(got, expected))

    # syslog: every generated message once, from the exporter that sent it, with tshark's facility/severity
    messages = [r for r in got if r["kind"] == "syslog"]
    theirs = tshark_syslog(wire.pcap, syslog_port)
    assert len(messages) == len(theirs) == N_SYSLOG + len(LOGGED)
    for ours, (exporter, facility, severity, text) in zip(messages, theirs):
        assert (ours["exporter"], ours["facility"], ours["severity"]) == (exporter, facility, severity), ours
        assert text.endswith(ours["message"]), (ours, text)
    seqs = sorted(int(m.group(1)) for r in messages for m in [re.search(r"\bseq=(\d+)\b", r["message"])] if m)
    assert seqs == list(range(N_SYSLOG))
    generated = [r for r in messages if r.get("app") != "tapdec"]
    assert {r["exporter"] for r in generated} == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    assert {r["format"] for r in generated} == {"rfc3164", "rfc5424", "cisco-ios"}
    logged = [r for r in messages if r.get("app") == "tapdec"]
    assert [(r["facility"], r["severity"], r["message"]) for r in logged] == [(f, s, t) for _, f, s, t in LOGGED]

    # NetFlow v9: one record per flow in the data sets, as tshark counts and reads them
    flows = [(r["exporter"], r["sequence"], r["domain"], r["src_addr"], r["dst_addr"], r["src_port"],
              r["dst_port"], r["protocol"], r["packets"], r["bytes"]) for r in got if r["kind"] == "netflow-v9"]
    their_flows = tshark_v9_flows(wire.pcap, netflow_port)
    assert len(their_flows) > N_NETFLOW, "generated datagrams carry many flows each"
    assert flows == their_flows
    assert {f[0] for f in flows} == {"127.0.0.1", "127.0.0.2"}


def test_tap_decode_reads_snmpv3_only_with_its_user(sekiwake, tmp_path):
    """Two taps on one bus, one told the SNMPv3 user: both print the v2c traps, only it prints the authPriv one."""
    require_programs("snmptrap")
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture(ports={"snmptrap": port}, publish=bus, wait_subscribers=2, wait_ready=False)
    keyed = sekiwake.tap(bus, decode=True, snmp_users=[f"{SNMP_USER}:sha:{SNMP_AUTH[1]}:aes:{SNMP_PRIV[1]}"])
    blind = sekiwake.tap(bus, decode=True)
    cap.wait_ready_capturing()

    n = 20
    marker = f"tap-v3-{os.getpid()}"
    with drain_socket(port):
        sent = sekiwake.send("snmptrap-v2c", "--to", f"127.0.0.1:{port}", "--count", n, "--rate", 1000)
        out = snmptrap(port, "3", [("1.3.6.1.4.1.99999.8.1", "s", marker), ("1.3.6.1.4.1.99999.8.2", "i", 7)],
                       trap_oid="1.3.6.1.6.3.1.1.5.1", clientaddr="127.0.0.77")
        cap.wait_stats(lambda s: s["published"] >= n + 1, timeout=10)
    assert sent.returncode == 0, sent.stderr
    assert out.returncode == 0, out.stderr
    wait_until(lambda: len(keyed.stdout_lines()) >= n + 1 and len(blind.stdout_lines()) >= n, 10)
    time.sleep(0.3)
    keyed_rc, _ = keyed.terminate()
    blind_rc, _ = blind.terminate()
    cap.terminate()
    assert keyed_rc == 0 and blind_rc == 0, keyed.output() + blind.output()

    got, missed = keyed.json_lines(), blind.json_lines()
    assert len(got) == n + 1 and len(missed) == n, keyed.output() + blind.output()
    assert got[:n] == missed
    assert all(r["kind"] == "snmptrap" and r["version"] == "2c" and r["pdu"] == "trap" for r in missed)
    # the generator's request-id is its sequence + 1, and its last binding says seq=N
    assert sorted(r["request_id"] for r in missed) == list(range(1, n + 1))
    assert all(r["varbinds"][-1]["value"] == f"seq={r['request_id'] - 1}" for r in missed)
    v3 = got[-1]
    assert (v3["version"], v3["security_level"], v3["user"], v3["exporter"]) == \
        ("3", "authPriv", SNMP_USER, "127.0.0.77")
    assert v3["engine_id"] == SNMP_ENGINE_ID[2:] and v3["trap_oid"] == "1.3.6.1.6.3.1.1.5.1"
    assert [(vb["oid"], vb["value"]) for vb in v3["varbinds"][2:]] == \
        [("1.3.6.1.4.1.99999.8.1", marker), ("1.3.6.1.4.1.99999.8.2", 7)]
    # the tap without the user says why it printed nothing
    assert "unknown USM user" in blind.output()
