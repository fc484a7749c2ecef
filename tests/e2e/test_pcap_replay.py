"""pcap replay on every supported link type: capture --pcap publishes exactly the valid datagrams to the
configured ports, byte-exact, in file order, with the right kind/variant/flags/addresses/time; the rest is
counted (mismatched).  The expectation comes from tools/mkpcap.py's .expected.json and is cross-checked with
tshark's own reading of the file."""

import json

import pytest

from helpers.bus import BusSubscriber, expected_sequences
from helpers.net import free_port
from helpers.pcaps import mkpcap
from helpers.tshark import tshark_udp_payloads

LINKTYPES = ["ethernet", "sll", "sll2", "null", "raw"]
DEFAULT_PORTS = {514, 2055, 9995, 9996, 4739, 6343, 162}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("mixed") / "mixed"
    mkpcap("mixed", prefix)
    return prefix


@pytest.mark.parametrize("linktype", LINKTYPES)
def test_replay_publishes_exactly_the_valid_datagrams(sekiwake, mixed, tmp_path, linktype):
    pcap = f"{mixed}-{linktype}.pcap"
    with open(f"{mixed}-{linktype}.expected.json") as f:
        expected = json.load(f)
    published = expected["published"]
    want = [bytes.fromhex(e["payload_hex"]) for e in published]

    # tshark's reading of the same file: UDP to the default ports, minus what must not be published
    mismatch = {bytes.fromhex(e["payload_hex"]) for e in expected["not_published"] if e["reason"] == "mismatch"}
    oracle = [p for _, _, _, dport, p in tshark_udp_payloads(pcap) if dport in DEFAULT_PORTS and p not in mismatch]
    assert oracle == want, "tools/mkpcap.py's expectation disagrees with tshark"

    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    # strict: the file's mismatched datagrams are counted and not published (test_mismatched.py relays them)
    cap = sekiwake.capture("--mismatched", "drop", pcap=pcap, publish=bus, wait_subscribers=1)
    sub = BusSubscriber(tmp_path, bus, count=len(published), timeout=30).start()
    rc, stats = cap.wait_exit(30)
    got = sub.wait_done()

    assert rc == 0, cap.output()
    assert [bytes.fromhex(g["payload_hex"]) for g in got] == want, sub.output()
    for g, e in zip(got, published):
        assert "error" not in g, g
        assert g["kind"] == e["kind"]
        assert g["variant"] == e["variant"]
        assert (g["ipv6"], g["reassembled"], g["inform"]) == (e["flags"]["ipv6"], e["flags"]["reassembled"],
                                                             e["flags"]["inform"])
        assert (g["src"], g["src_port"], g["dst"], g["dst_port"]) == (e["src"], e["sport"], e["dst"], e["dport"])
        assert g["timestamp_ns"] == e["timestamp_ns"]
        assert g["interface"] == "pcap"
        assert g["topic"] == f"{e['kind']}/b{g['bucket']:02d}/{e['src']}/"
    assert [g["sequence"] for g in got] == expected_sequences(got)
    assert len({g["publisher"] for g in got}) == 1

    assert stats["mismatched"] == stats["mismatched_dropped"] == expected["mismatched"]
    assert stats["captured_total"] == len(published) == stats["published"]
    assert stats["hwm_dropped"] == 0
    for kind in ("syslog", "netflow-v5", "netflow-v9", "ipfix", "sflow", "snmptrap"):
        assert stats["captured"][kind] == sum(e["kind"] == kind for e in published) == expected["counts"].get(kind, 0)
