"""Destination groups and sampling, on loopback: capture (UDP listener) -> bus -> forward -> receivers.

- `all` gives every member everything; `round-robin` deals datagrams out in turn (exactly even split);
- `hash` keeps each exporter on one member (8 exporters from `sekiwake send --exporters 8`, members `?spoof`
  so each datagram still names its exporter);
- NetFlow v9 through round-robin and hash groups: each member is its own nfcapd and decodes all of its flows,
  because members that do not get a datagram get its templates: the members' nfdump counts add up to what a
  plain destination got, and `sekiwake decode` of each member's traffic finds no data set without template;
- 1-in-10 sampling of a v9 stream: nfcapd still decodes it (about a tenth of the flows, no data set without
  template), templates of skipped datagrams went as template-only datagrams.
"""

import re
import subprocess
import time

from decode_oracle import decode
from helpers.env import SEKIWAKE_BIN
from helpers.gating import require_programs
from helpers.net import free_port
from helpers.tshark import PacketCapture
from relay_peers import NsNfcapd, Receivers, by_name, conserved, forward_toml, sekiwake_send, seq_of, write_config

NFCAPD_SUMMARY = re.compile(r"Flows: (\d+), .*Sequence Errors: (\d+), Bad Packets: (\d+)")


def listener(sekiwake, kind):
    """A capture listening on 127.0.0.1 for one kind: (capture, bus endpoint, port)."""
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={kind: port}, publish=bus,
                           wait_ready=False)
    return cap, bus, port


def test_all_and_round_robin_groups(sekiwake, tmp_path):
    n = 300
    with Receivers("abcde") as rx:
        cap, bus, port = listener(sekiwake, "syslog")
        dests = [{"name": d, "url": rx.url(d)} for d in "abcde"]
        groups = [{"name": "fan", "members": ["a", "b"], "mode": "all"},
                  {"name": "rr", "members": ["c", "d", "e"], "mode": "round-robin"}]
        rules = [{"match": {"kinds": ["syslog"]}, "to": ["fan", "rr"]}]
        cfg = write_config(tmp_path / "forward.toml", forward_toml(dests, groups, rules))
        fwd = sekiwake.forward(bus, [], config=cfg)
        time.sleep(1.0)  # slow joiner
        sent, summary = sekiwake_send("syslog", "--to", f"127.0.0.1:{port}", "--count", n, "--rate", 3000)
        got = rx.settle(2 * n + n, timeout=15)
    fwd.wait_stats(lambda s: s["received"] >= n, timeout=10)
    fwd_rc, stats = fwd.terminate()
    assert all(conserved(d) for d in stats["destinations"]), stats["destinations"]
    seqs = {d: [seq_of(p) for *_, p in got[d]] for d in "abcde"}

    assert sent.returncode == 0 and summary["sent"] == n, sent.stderr
    assert fwd_rc == 0, fwd.output()
    assert sorted(seqs["a"]) == sorted(seqs["b"]) == list(range(n))
    assert [len(seqs[d]) for d in "cde"] == [n // 3] * 3, {d: len(seqs[d]) for d in "cde"}
    assert sorted(seqs["c"] + seqs["d"] + seqs["e"]) == list(range(n)), "each datagram to exactly one member"
    for d in "cde":  # strict turns: every third datagram
        s = sorted(seqs[d])
        assert {b - a for a, b in zip(s, s[1:])} == {3}, (d, s[:10])
    assert stats["routed"] == n
    for d in "abcde":
        assert by_name(stats, d)["forwarded"] == len(seqs[d])


def test_hash_group_keeps_each_exporter_on_one_member(sekiwake, tmp_path):
    n, exporters = 800, 8
    with Receivers(["h1", "h2", "h3"]) as rx:
        cap, bus, port = listener(sekiwake, "syslog")
        dests = [{"name": d, "url": rx.url(d, spoof=True)} for d in ("h1", "h2", "h3")]
        groups = [{"name": "by-exporter", "members": ["h1", "h2", "h3"], "mode": "hash"}]
        rules = [{"match": {"kinds": ["syslog"]}, "to": ["by-exporter"]}]
        cfg = write_config(tmp_path / "forward.toml", forward_toml(dests, groups, rules))
        fwd = sekiwake.forward(bus, [], config=cfg)
        time.sleep(1.0)
        sent, summary = sekiwake_send("syslog", "--to", f"127.0.0.1:{port}", "--count", n, "--rate", 4000,
                                      "--exporters", exporters, "--source", "127.0.0.10")
        got = rx.settle(n, timeout=15)
    fwd_rc, stats = fwd.terminate()
    assert all(conserved(d) for d in stats["destinations"]), stats["destinations"]

    assert sent.returncode == 0 and summary["sent"] == n, sent.stderr
    assert fwd_rc == 0, fwd.output()
    members_of = {}
    for member, rows in got.items():
        for src, _, _ in rows:
            members_of.setdefault(src, set()).add(member)
    assert set(members_of) == {f"127.0.0.{10 + i}" for i in range(exporters)}, members_of
    assert all(len(m) == 1 for m in members_of.values()), f"an exporter spread over members: {members_of}"
    assert len({m for ms in members_of.values() for m in ms}) >= 2, f"all exporters on one member: {members_of}"
    all_seqs = sorted(seq_of(p) for rows in got.values() for *_, p in rows)
    assert all_seqs == list(range(n))
    assert sum(by_name(stats, d)["forwarded"] for d in ("h1", "h2", "h3")) == n


def member_pcap(all_pcap, port, out):
    r = subprocess.run(["tcpdump", "-r", str(all_pcap), "-w", str(out), f"udp dst port {port}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out


def decoded_flows(pcap, port):
    """(flow records, data sets without template) that `sekiwake decode` finds in pcap's datagrams to port."""
    records, summary = decode(pcap, {"netflow": port})
    return sum(1 for r in records if r.get("record") == "flow"), summary["records"]["sets_without_template"]


def test_v9_templates_reach_every_member_of_load_balanced_groups(sekiwake, daemons, tmp_path):
    require_programs("nfcapd", "nfdump", "tcpdump")
    members = ["r1", "r2", "h1", "h2"]
    nf = {name: NsNfcapd(tmp_path / f"nf-{name}") for name in ["base", *members]}
    for d in nf.values():
        daemons.append(d.start())
    cap, bus, port = listener(sekiwake, "netflow")
    dests = [{"name": "base", "url": f"udp://127.0.0.1:{nf['base'].port}?spoof", "kinds": ["netflow-v9"]}]
    dests += [{"name": m, "url": f"udp://127.0.0.1:{nf[m].port}?spoof"} for m in members]
    groups = [{"name": "rr", "members": ["r1", "r2"], "mode": "round-robin"},
              {"name": "hashed", "members": ["h1", "h2"], "mode": "hash"}]
    rules = [{"match": {"kinds": ["netflow-v9"]}, "to": ["rr", "hashed"]}]
    cfg = write_config(tmp_path / "forward.toml", forward_toml(dests, groups, rules))
    ports = " or ".join(f"port {p}" for p in [port, *(d.port for d in nf.values())])
    wire = PacketCapture(tmp_path, f"udp and ({ports})", name="lo-v9")
    daemons.append(wire.start())
    fwd = sekiwake.forward(bus, [], config=cfg)
    time.sleep(1.0)
    # 4 exporters x 2 observation domains, templates only in each domain's first datagram (of 25)
    n = 200
    sent, summary = sekiwake_send("netflow-v9", "--to", f"127.0.0.1:{port}", "--count", n, "--rate", 1000,
                                  "--exporters", 4, "--source", "127.0.0.50")
    fwd.wait_stats(lambda s: sum(d["forwarded"] for d in s["destinations"]) >= 3 * n, timeout=15)
    flows = {name: d.flush_and_read() for name, d in nf.items()}
    wire.stop()
    fwd_rc, stats = fwd.terminate()
    assert all(conserved(d) for d in stats["destinations"]), stats["destinations"]

    assert sent.returncode == 0 and summary["sent"] == n, sent.stderr
    assert fwd_rc == 0, fwd.output()
    sent_flows, missing = decoded_flows(wire.pcap, port)
    assert sent_flows > 0 and missing == 0
    counts = {name: len(f) for name, f in flows.items()}
    assert counts["base"] == sent_flows, counts
    assert counts["r1"] + counts["r2"] == sent_flows, counts
    assert counts["h1"] + counts["h2"] == sent_flows, counts
    assert counts["r1"] > 0 and counts["r2"] > 0, counts
    for m in members:
        member_flows, missing = decoded_flows(member_pcap(wire.pcap, nf[m].port, tmp_path / f"{m}.pcap"), nf[m].port)
        assert missing == 0, f"{m}: {missing} data sets without template"
        assert member_flows == counts[m], (m, member_flows, counts)
        d = by_name(stats, m)
        assert d["refused"] == d["failed"] == d["dropped_full"] == 0, d
    for m in ("r1", "r2"):
        assert by_name(stats, m)["routed"] == n // 2
        assert by_name(stats, m)["templates_sent"] > 0, by_name(stats, m)
    assert by_name(stats, "h1")["routed"] + by_name(stats, "h2")["routed"] == n


def test_one_in_ten_sampled_v9_stream_still_decodes(sekiwake, daemons, tmp_path):
    require_programs("nfcapd", "nfdump", "tcpdump")
    nf = {name: NsNfcapd(tmp_path / f"nf-{name}") for name in ("all", "sampled")}
    for d in nf.values():
        daemons.append(d.start())
    cap, bus, port = listener(sekiwake, "netflow")
    dests = [{"name": "all", "url": f"udp://127.0.0.1:{nf['all'].port}", "kinds": ["netflow"]},
             {"name": "sampled", "url": f"udp://127.0.0.1:{nf['sampled'].port}", "kinds": ["netflow"],
              "sample": 10}]
    cfg = write_config(tmp_path / "forward.toml", forward_toml(dests))
    wire = PacketCapture(tmp_path, f"udp and dst port {nf['sampled'].port}", name="sampled")
    daemons.append(wire.start())
    fwd = sekiwake.forward(bus, [], config=cfg)
    time.sleep(1.0)
    n = 500
    sent, summary = sekiwake_send("netflow-v9", "--to", f"127.0.0.1:{port}", "--count", n, "--rate", 2000)
    fwd.wait_stats(lambda s: by_name(s, "all")["forwarded"] >= n, timeout=15)
    flows = {name: d.flush_and_read() for name, d in nf.items()}
    wire.stop()
    fwd_rc, stats = fwd.terminate()
    assert all(conserved(d) for d in stats["destinations"]), stats["destinations"]

    assert sent.returncode == 0 and summary["sent"] == n, sent.stderr
    assert fwd_rc == 0, fwd.output()
    all_flows, sampled_flows = len(flows["all"]), len(flows["sampled"])
    assert all_flows > 0
    assert 0.085 <= sampled_flows / all_flows <= 0.115, (sampled_flows, all_flows)
    on_wire, missing = decoded_flows(wire.pcap, nf["sampled"].port)
    assert missing == 0, f"{missing} data sets without template"
    assert on_wire == sampled_flows
    s = by_name(stats, "sampled")
    assert s["routed"] == n and s["sampled_out"] == n - n // 10, s
    assert s["templates_sent"] > 0, s
    assert s["forwarded"] == n // 10 + s["templates_sent"], s
    # nfcapd's own account: every flow it stored, no bad packet (sequence errors only where datagrams were skipped)
    for name, d in nf.items():
        m = NFCAPD_SUMMARY.search(d.output())
        assert m, d.output()
        assert int(m.group(1)) == len(flows[name]) and int(m.group(3)) == 0, m.group(0)
    assert NFCAPD_SUMMARY.search(nf["all"].output()).group(2) == "0"


def test_a_member_that_comes_back_gets_the_templates_again(sekiwake, daemons, tmp_path):
    """A round-robin member whose collector is down refuses (ICMP): forward counts it down and deals its turns
    to the other member. When its collector starts, the member gets every template the group has seen before
    any data, so it decodes flows at once — although the exporter sends its templates only in its first
    datagram (--template-every 10000)."""
    require_programs("nfcapd", "nfdump")
    up = NsNfcapd(tmp_path / "nf-up")
    daemons.append(up.start())
    late_port = free_port("udp")
    cap, bus, port = listener(sekiwake, "netflow")
    dests = [{"name": "up", "url": f"udp://127.0.0.1:{up.port}"},
             {"name": "late", "url": f"udp://127.0.0.1:{late_port}"}]
    groups = [{"name": "rr", "members": ["up", "late"], "mode": "round-robin"}]
    rules = [{"match": {"kinds": ["netflow-v9"]}, "to": ["rr"]}]
    cfg = write_config(tmp_path / "forward.toml", forward_toml(dests, groups, rules))
    fwd = sekiwake.forward(bus, [], config=cfg)
    time.sleep(1.0)
    n, rate = 80, 10  # 8 s of exports; the late collector starts after 3 s
    send = subprocess.Popen([SEKIWAKE_BIN, "send", "netflow-v9", "--to", f"127.0.0.1:{port}", "--count", str(n),
                             "--rate", str(rate), "--domains", "1", "--template-every", "10000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)
        late = NsNfcapd(tmp_path / "nf-late", port=late_port)
        daemons.append(late.start())
        assert send.wait(timeout=30) == 0, send.stderr.read()
    finally:
        if send.poll() is None:
            send.kill()
    fwd.wait_stats(lambda s: s["received"] >= n, timeout=10)
    time.sleep(0.5)
    late_flows, up_flows = late.flush_and_read(), up.flush_and_read()
    fwd_rc, stats = fwd.terminate()
    assert all(conserved(d) for d in stats["destinations"]), stats["destinations"]

    assert fwd_rc == 0, fwd.output()
    late_stats = by_name(stats, "late")
    # it was down (ICMP unreachable: on a send, or read with the answers forward reads) ...
    assert late_stats["refused"] + late_stats["unreachable_reports"] >= 1, late_stats
    assert late_stats["template_replays"] >= 1, late_stats  # ... came back, and got the templates again
    assert len(late_flows) > 0, "the member that came back decoded nothing: no templates"
    assert len(up_flows) > len(late_flows), (len(up_flows), len(late_flows))
