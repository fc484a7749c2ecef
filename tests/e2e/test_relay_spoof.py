"""Spoofed forwarding across real links, IPv4 and IPv6.

Three namespaces in a row (relay_peers.Chain), IP forwarding off in all of them:

    exporter 198.51.100.1 / 2001:db8:51::1
        | veth, MTU 1500
    relay    198.51.100.2 / 2001:db8:51::2  -- sekiwake capture -i <veth> -> bus -> forward
             203.0.113.2  / 2001:db8:203::2
        | veth, MTU 1500
    collector 203.0.113.3 / 2001:db8:203::3 -- rsyslog, snmptrapd, two nfcapd, tcpdump on the veth

Forward sends every kind twice: `udp://...?spoof` to one port of each collector and plain `udp://` to another.
The collectors see the exporter's address for the spoofed copy (rsyslog %fromhost-ip%, snmptrapd from=, nfdump's
exporter address) and the relay's for the plain one.  A 3000-byte syslog datagram, fragmented on the way in,
reassembled by capture, fragmented again by forward's raw socket, arrives whole.  A spoofed destination of the
other IP version counts every datagram as `wrong_family`.
"""

import re
import subprocess
import time

import pytest

from helpers.gating import require_programs
from helpers.net import send_udp
from helpers.tshark import PacketCapture, tshark_udp_payloads
from relay_peers import (NsNfcapd, NsRsyslog, NsSnmptrapd, PortHolder, by_name, forward_toml, hostport, run_snmptrap,
                         sekiwake_send, snmptrap_argv, write_config)

# ports inside the namespaces (nothing else lives there)
CAP = {"syslog": 5514, "netflow": 2055, "snmptrap": 1162}
SYSLOG_SPOOF, SYSLOG_PLAIN = 1514, 1515
TRAP_SPOOF, TRAP_PLAIN = 2162, 2163
FLOW_SPOOF, FLOW_PLAIN = 2255, 2256
BUS = "tcp://127.0.0.1:25556"
SYSLOG_SPORT = 40514

# `from=UDP: [198.51.100.1]:40000->[203.0.113.3]:2162`, for IPv6 `from=UDP/IPv6: [2001:db8:51::1]:40000`
FROM = re.compile(r"from=UDP(?:/IPv6)?: \[([^\]]+)\]:(\d+)")


def syslog_payloads(family):
    small = [f"<14>Nov 26 10:00:{i:02d} exp1 app[7]: spoof test v{family} n={i}".encode() for i in range(20)]
    head = f"<14>Nov 26 10:01:00 exp1 app[7]: big v{family} ".encode()
    big = head + bytes(0x41 + i % 26 for i in range(3000 - len(head)))
    return small + [big], big


def wire_fragments(pcap, src, dst):
    """(IP fragments from src to dst, largest IP packet from src to dst) in pcap, frame by frame (tshark without
    reassembly)."""
    fields = ["-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "ip.len",
              "-e", "ipv6.plen", "-e", "ip.flags.mf", "-e", "ip.frag_offset", "-e", "ipv6.fraghdr.offset",
              "-e", "ipv6.fraghdr.more"]
    out = subprocess.run(["tshark", "-r", str(pcap), "-n", "-o", "ip.defragment:FALSE", "-o",
                          "ipv6.defragment:FALSE", "-Y", "ip or ipv6", "-T", "fields", "-E", "separator=|",
                          "-E", "occurrence=f", *fields], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    frags, largest = 0, 0
    for line in out.stdout.splitlines():
        s4, s6, d4, d6, len4, plen6, mf4, off4, off6, mf6 = line.split("|")
        if (s4 or s6) != src or (d4 or d6) != dst:
            continue
        size = int(len4) if len4 else int(plen6) + 40
        largest = max(largest, size)
        fragment = (mf4 in ("1", "True") or (off4 not in ("", "0"))) if s4 else (off6 != "" or mf6 != "")
        frags += bool(fragment)
    return frags, largest


@pytest.mark.parametrize("family", [4, 6])
def test_spoofed_datagrams_keep_the_exporter_address_across_namespaces(chain, daemons, sekiwake, tmp_path,
                                                                       family):
    require_programs("rsyslogd", "snmptrapd", "snmptrap", "nfcapd", "nfdump", "tcpdump", "tshark")
    c = chain(mtu=1500)
    exp, rly_in, rly_out, col = (c.addr(w, family) for w in ("exp", "rly_in", "rly_out", "col"))
    ns_exp, ns_rly, ns_col = c.ns["exp"], c.ns["rly"], c.ns["col"]

    # collectors
    rsyslog = NsRsyslog(tmp_path / "rsyslog", {"spoof": (col, SYSLOG_SPOOF), "plain": (col, SYSLOG_PLAIN)},
                        netns=ns_col)
    daemons.append(rsyslog.start())
    # one snmptrapd per port: for IPv6 its from= shows only the sender
    trapd_spoof = NsSnmptrapd(tmp_path / "snmptrapd-spoof", [(col, TRAP_SPOOF)], netns=ns_col)
    trapd_plain = NsSnmptrapd(tmp_path / "snmptrapd-plain", [(col, TRAP_PLAIN)], netns=ns_col)
    daemons += [trapd_spoof.start(), trapd_plain.start()]
    nf_spoof = NsNfcapd(tmp_path / "nf-spoof", col, FLOW_SPOOF, netns=ns_col)
    nf_plain = NsNfcapd(tmp_path / "nf-plain", col, FLOW_PLAIN, netns=ns_col)
    daemons += [nf_spoof.start(), nf_plain.start()]
    wire = PacketCapture(tmp_path, "ip or ip6", iface=c.dev["col"], netns=ns_col, name="collector-wire")
    daemons.append(wire.start())

    # relay: forward, then capture on the exporter-side veth (a holder keeps ICMP unreachable away)
    def url(port, spoof):
        return f"udp://{hostport(col, port)}" + ("?spoof" if spoof else "")
    dests = []
    for kind, spoof_port, plain_port in (("syslog", SYSLOG_SPOOF, SYSLOG_PLAIN), ("netflow", FLOW_SPOOF, FLOW_PLAIN),
                                         ("snmptrap", TRAP_SPOOF, TRAP_PLAIN)):
        dests.append({"name": f"{kind}-spoof", "url": url(spoof_port, True), "kinds": [kind]})
        dests.append({"name": f"{kind}-plain", "url": url(plain_port, False), "kinds": [kind]})
    # a spoofed destination of the other IP version cannot carry these exporters' datagrams: counted, not sent
    other = c.addr("col", 10 - family)
    dests.append({"name": "syslog-other-family", "url": f"udp://{hostport(other, SYSLOG_SPOOF)}?spoof",
                  "kinds": ["syslog"]})
    cfg = write_config(tmp_path / "forward.toml", forward_toml(dests))
    daemons.append(PortHolder(tmp_path, [(rly_in, p) for p in CAP.values()], netns=ns_rly).start())
    fwd = sekiwake.forward(BUS, [], config=cfg, netns=ns_rly)
    cap = sekiwake.capture(ifaces=[c.dev["rly_in"]], ports=CAP, publish=BUS, wait_subscribers=3, netns=ns_rly)
    time.sleep(0.5)

    # exporter: syslog (20 small + one of 3000 bytes), two v2c traps, 20 NetFlow v9 datagrams
    payloads, big = syslog_payloads(family)
    send_udp(payloads, rly_in, CAP["syslog"], src=exp, sport=SYSLOG_SPORT, netns=ns_exp, gap=0.002)
    for i in range(2):
        run_snmptrap(snmptrap_argv(rly_in, CAP["snmptrap"], "2c", [("1.3.6.1.4.1.99999.5.1", "s", f"trap-{i}")]),
                     netns=ns_exp)
    sent, summary = sekiwake_send("netflow-v9", "--to", hostport(rly_in, CAP["netflow"]), "--source", exp,
                                  "--count", 20, "--rate", 400, netns=ns_exp)
    assert sent.returncode == 0 and summary["sent"] == 20 and summary["refused"] == 0, sent.stderr
    n_sys, n_trap, n_flow = len(payloads), 2, 20
    total = n_sys + n_trap + n_flow

    spoofed_lines = rsyslog.wait_lines("spoof", n_sys)
    plain_lines = rsyslog.wait_lines("plain", n_sys)
    traps_spoof = trapd_spoof.wait_traps(n_trap)
    traps_plain = trapd_plain.wait_traps(n_trap)
    fwd.wait_stats(lambda s: s["received"] >= total
                   and sum(d["forwarded"] for d in s["destinations"]) >= 2 * total, timeout=15)
    flows_spoof = nf_spoof.flush_and_read()
    flows_plain = nf_plain.flush_and_read()
    time.sleep(0.3)
    wire.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()
    diag = cap.output() + fwd.output()

    # rsyslog: every message byte-exact, the spoofed copy from the exporter, the plain one from the relay
    def split(lines):
        return [tuple(l.split(" ", 1)) for l in lines]
    assert sorted(split(spoofed_lines)) == sorted((exp, p.decode()) for p in payloads), diag
    assert sorted(split(plain_lines)) == sorted((rly_out, p.decode()) for p in payloads), diag

    # snmptrapd: from= the exporter on the spoofed port, the relay (source port 51400) on the plain one
    def senders(traps):
        out = []
        for t in traps:
            m = FROM.search(t)
            assert m and 'STRING: "trap-' in t, t
            out.append((m.group(1), m.group(2)))
        return out
    assert [a for a, _ in senders(traps_spoof)] == [exp] * n_trap, traps_spoof
    assert senders(traps_plain) == [(rly_out, "51400")] * n_trap, traps_plain

    # nfdump: the same flows from both, with the exporter (spoofed) or the relay (plain) as the router
    router = "ip4_router" if family == 4 else "ip6_router"
    assert flows_spoof and len(flows_spoof) == len(flows_plain), (len(flows_spoof), len(flows_plain))
    assert {f[router] for f in flows_spoof} == {exp}
    assert {f[router] for f in flows_plain} == {rly_out}

    # the wire: the big datagram crossed the 1500-byte link in fragments from the exporter's address and port,
    # none larger than the MTU, and reassembles to the original bytes
    frags, largest = wire_fragments(wire.pcap, exp, col)
    assert frags == 3 and largest <= 1500, (frags, largest)
    on_wire = tshark_udp_payloads(wire.pcap, display_filter=f"udp.dstport=={SYSLOG_SPOOF}")
    assert {(s, sp) for s, sp, *_ in on_wire} == {(exp, SYSLOG_SPORT)}
    assert big in [p for *_, p in on_wire]
    plain_wire = tshark_udp_payloads(wire.pcap, display_filter=f"udp.dstport=={SYSLOG_PLAIN}")
    assert {(s, sp) for s, sp, *_ in plain_wire} == {(rly_out, 51400)}

    # counters: capture reassembled the incoming fragments; forward sent each kind to both destinations
    assert cap_rc == 0 and fwd_rc == 0, diag
    assert cap_stats["captured_total"] == cap_stats["published"] == total, cap_stats
    assert cap_stats["fragments_reassembled"] == 1, cap_stats
    assert fwd_stats["received"] == fwd_stats["routed"] == total, fwd_stats
    for kind, n in (("syslog", n_sys), ("netflow", n_flow), ("snmptrap", n_trap)):
        for how in ("spoof", "plain"):
            d = by_name(fwd_stats, f"{kind}-{how}")
            assert d["routed"] == d["forwarded"] == n, d
            assert d["refused"] == d["failed"] == d["dropped_full"] == d["wrong_family"] == 0, d
    d = by_name(fwd_stats, "syslog-other-family")
    assert d["routed"] == d["wrong_family"] == n_sys and d["forwarded"] == 0, d
