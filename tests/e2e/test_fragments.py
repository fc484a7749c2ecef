"""IP fragments: a datagram bigger than the link MTU is published and forwarded whole and byte-exact.

(a) live: two namespaces joined by a veth with MTU 1280; a 3000-byte syslog datagram goes from A to B in
    fragments; capture and forward run inside B, forward sends to a receiver on B's loopback.
(b) files: tools/mkpcap.py frag writes the fragments in reverse or shuffled order; capture --pcap replays
    them to a `sekiwake tap` subscriber."""

import time

import pytest

from helpers.net import UdpSink, free_port, send_udp
from helpers.pcaps import mkpcap
from helpers.proc import wait_until


def syslog_payload(size, tag):
    head = f"<14>Nov 14 22:13:20 nshost e2e[1]: fragmented {tag} ".encode()
    body = bytes(0x41 + (i % 26) for i in range(size - len(head)))
    return head + body


@pytest.mark.parametrize("family", [4, 6])
def test_fragmented_datagram_across_veth_is_forwarded_whole(sekiwake, netns, tmp_path, family):
    pair = netns(mtu=1280)
    with pair:
        src, dst = (pair.a4, pair.b4) if family == 4 else (pair.a6, pair.b6)
        port = free_port("udp")
        bus = "tcp://127.0.0.1:25556"  # inside namespace B: nothing else is there
        sink = UdpSink(tmp_path, host="127.0.0.1", port=free_port("udp"), count=1, timeout=20,
                       netns=pair.ns_b).start()
        try:
            fwd = sekiwake.forward(bus, {"syslog": sink.url}, netns=pair.ns_b)
            cap = sekiwake.capture(ifaces=[pair.veth_b], ports={"syslog": port}, publish=bus, wait_subscribers=1,
                                   netns=pair.ns_b)
            time.sleep(1.0)  # slow joiner
            payload = syslog_payload(3000, f"ipv{family}")
            send_udp([payload], dst, port, src=src, sport=40000, netns=pair.ns_a)
            got = sink.results()
            fwd.wait_stats(lambda s: s["received"] >= 1, timeout=5)
            cap_rc, cap_stats = cap.terminate()
            fwd_rc, fwd_stats = fwd.terminate()
        finally:
            sink.stop()

    assert len(got) == 1, cap.output() + fwd.output()
    assert got[0][2] == payload
    assert got[0][0] == "127.0.0.1"
    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"]["syslog"] == 1
    assert cap_stats["captured_total"] == 1 and cap_stats["published"] == 1
    assert cap_stats["fragments_reassembled"] == 1
    assert cap_stats["fragments_dropped"] == 0 and cap_stats["fragments_expired"] == 0
    assert fwd_stats["received"] == 1
    assert fwd.destination(fwd_stats, sink.url)["forwarded"] == 1


@pytest.mark.parametrize("order", ["reverse", "shuffle"])
@pytest.mark.parametrize("family", [4, 6])
def test_out_of_order_fragments_in_pcap_are_reassembled(sekiwake, tmp_path, family, order):
    pcap = tmp_path / f"frag{family}-{order}.pcap"
    mkpcap("frag", pcap, "--family", family, "--size", 3000, "--dport", 514, "--order", order)
    payload = pcap.with_name(pcap.name + ".payload").read_bytes()
    assert len(payload) == 3000

    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=1, timeout=15).start()
    cap = sekiwake.capture(pcap=pcap, ports={"syslog": 514}, publish=bus, wait_subscribers=2)
    tap = sekiwake.tap(bus)
    fwd = sekiwake.forward(bus, {"syslog": sink.url})
    cap_rc, cap_stats = cap.wait_exit(30)
    wait_until(lambda: len(tap.stdout_lines()) >= 1, 10)
    time.sleep(0.3)
    tap.terminate()
    envelopes = tap.json_lines()
    forwarded = sink.results()
    fwd.terminate()

    assert cap_rc == 0, cap.output()
    assert len(envelopes) == 1, tap.output()
    env = envelopes[0]
    assert bytes.fromhex(env["payload_hex"]) == payload
    assert env["length"] == 3000
    assert env["kind"] == "syslog" and env["variant"] == "rfc3164"
    assert env["reassembled"] is True
    assert env["interface"] == "pcap"
    assert (env["exporter"], env["destination"]) == (("192.0.2.1", "192.0.2.2") if family == 4
                                                     else ("2001:db8::1", "2001:db8::2"))
    assert (env["exporter_port"], env["destination_port"]) == (40000, 514)
    assert cap_stats["fragments_reassembled"] == 1
    assert cap_stats["captured_total"] == 1 and cap_stats["published"] == 1
    assert [p for *_, p in forwarded] == [payload], "forwarded whole and byte-exact"
