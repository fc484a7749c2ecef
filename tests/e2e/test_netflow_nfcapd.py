"""softflowd (NetFlow v5, v9, IPFIX from a flows pcap) -> sekiwake capture -> forward -> nfcapd: nfdump shows
exactly the flows it shows when softflowd exports straight into nfcapd, and forward's output datagrams are
byte-identical to softflowd's."""

import time

import pytest

from helpers.gating import require_programs
from helpers.net import drain_socket, free_port
from helpers.netflow import flow_key, softflowd
from helpers.pcaps import flows_pcap
from helpers.tshark import PacketCapture


@pytest.mark.parametrize("version,family,kind,to_kind", [
    (5, "netflow", "netflow-v5", "netflow-v5"),
    (9, "netflow", "netflow-v9", "netflow"),  # "netflow" routes v5 + v9
    (10, "ipfix", "ipfix", "ipfix"),
])
def test_softflowd_via_sekiwake_matches_direct(nfcapd_factory, sekiwake, tmp_path, version, family, kind, to_kind):
    require_programs("softflowd", "tcpdump", "tshark")
    pcap = flows_pcap(tmp_path / "flows.pcap")

    direct = nfcapd_factory("direct")
    softflowd(pcap, "127.0.0.1", direct.port, version, tmp_path / "direct")
    baseline = sorted(flow_key(f) for f in direct.flush_and_read())
    assert baseline, "softflowd -> nfcapd directly produced no flows"

    relay = nfcapd_factory("relay")
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dest = f"udp://127.0.0.1:{relay.port}"
    fwd = sekiwake.forward(bus, {to_kind: dest})
    cap = sekiwake.capture(ports={family: port}, publish=bus, wait_subscribers=1)
    sent_oracle = PacketCapture(tmp_path, f"udp and dst port {port}", name="to-capture").start()
    out_oracle = PacketCapture(tmp_path, f"udp and dst port {relay.port}", name="to-nfcapd").start()
    time.sleep(1.0)  # slow joiner

    # a bound (never read) socket on the capture port keeps ICMP port-unreachable away from softflowd
    with drain_socket(port):
        softflowd(pcap, "127.0.0.1", port, version, tmp_path / "relay")
        time.sleep(0.5)
    sent = [p for *_, p in sent_oracle.stop_and_payloads()]
    assert sent
    fwd.wait_stats(lambda s: fwd.destination(s, dest)["forwarded"] >= len(sent), timeout=20)
    relayed = sorted(flow_key(f) for f in relay.flush_and_read())
    forwarded = [p for *_, p in out_oracle.stop_and_payloads()]
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert relayed == baseline, cap.output() + fwd.output()
    assert forwarded == sent  # byte-exact, in order
    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"][kind] == len(sent)
    assert cap_stats["captured_total"] == len(sent) == cap_stats["published"]
    assert cap_stats["mismatched"] == 0
    assert fwd_stats["received"] == len(sent)
    assert fwd.destination(fwd_stats, dest)["forwarded"] == len(sent)
