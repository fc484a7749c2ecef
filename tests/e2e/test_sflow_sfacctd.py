"""pmacctd sfprobe (sFlow v5 from a flows pcap) -> sekiwake capture -> forward -> sfacctd: sfacctd accounts
exactly what it accounts when pmacctd exports straight into it, and the relayed datagrams are byte-identical."""

import time

from helpers.gating import require_programs
from helpers.net import drain_socket, free_port
from helpers.sflow import pmacctd_sfprobe, sflow_pcap, sflow_totals, without_filler
from helpers.tshark import PacketCapture


def test_sfprobe_via_sekiwake_matches_direct(sfacctd_factory, sekiwake, tmp_path):
    require_programs("pmacctd", "tcpdump", "tshark")
    pcap = sflow_pcap(tmp_path / "flows.pcap")  # flows + a filler flow pmacctd may cut short at the end

    direct = sfacctd_factory("direct")
    pmacctd_sfprobe(pcap, "127.0.0.1", direct.port, tmp_path / "pm-direct")
    direct_records = direct.flush_and_read()
    baseline = without_filler(sflow_totals(direct_records))
    assert baseline, "pmacctd sfprobe -> sfacctd directly accounted nothing"

    relay = sfacctd_factory("relay")
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dest = f"udp://127.0.0.1:{relay.port}"
    fwd = sekiwake.forward(bus, {"sflow": dest})
    cap = sekiwake.capture(ports={"sflow": port}, publish=bus, wait_subscribers=1)
    sent_oracle = PacketCapture(tmp_path, f"udp and dst port {port}", name="to-capture").start()
    out_oracle = PacketCapture(tmp_path, f"udp and dst port {relay.port}", name="to-sfacctd").start()
    time.sleep(1.0)  # slow joiner

    with drain_socket(port):
        pmacctd_sfprobe(pcap, "127.0.0.1", port, tmp_path / "pm-relay")
        time.sleep(0.5)
    sent = [p for *_, p in sent_oracle.stop_and_payloads()]
    assert sent
    fwd.wait_stats(lambda s: fwd.destination(s, dest)["forwarded"] >= len(sent), timeout=20)
    relay_records = relay.flush_and_read()
    forwarded = [p for *_, p in out_oracle.stop_and_payloads()]
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert without_filler(sflow_totals(relay_records)) == baseline, cap.output() + fwd.output()
    # the agent address comes from inside the sFlow datagram, so it survives the relay
    assert {r["peer_ip_src"] for r in relay_records} == {r["peer_ip_src"] for r in direct_records} == {"127.0.0.7"}
    assert forwarded == sent  # byte-exact, in order
    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"]["sflow"] == len(sent)
    assert cap_stats["captured_total"] == len(sent) == cap_stats["published"]
    assert cap_stats["mismatched"] == 0
    assert fwd_stats["received"] == len(sent)
    assert fwd.destination(fwd_stats, dest)["forwarded"] == len(sent)
