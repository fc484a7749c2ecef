"""Dead destinations never cost the healthy one a datagram, and forward counts what it could not send by reason.

Exporter, relay and collector namespaces (relay_peers.Chain).  The relay's capture listens on its exporter-side
address; `sekiwake send syslog` pushes 100 000 datagrams at 20 000/s into it.  Forward sends every datagram to
five destinations:

    healthy     collector:6000, a UDP sink                         -> every sequence number exactly once
    silent      collector:6001, nftables `drop` in the collector    -> forward cannot know: `forwarded`,
                                                                       and nftables counts them all dropped
    rejecting   collector:6002, nftables `reject` in the collector  -> ICMP port unreachable: `refused`
    filtered    collector:6003, nftables `drop` on the relay's own output -> EPERM on send: `failed`, each one
    unroutable  192.0.2.9, routed via the collector at start, then the route turns `unreachable`
                                                                    -> EHOSTUNREACH on send: `failed`, each one
    no_route    198.18.0.9, no route from the start                 -> forward starts anyway and retries the
                                                                       socket: `failed`, each one
"""

import json
import time

from helpers.gating import require_programs
from helpers.net import UdpSink
from relay_peers import accounted, by_name, conserved, forward_toml, sekiwake_send, seq_of, write_config

COUNT, RATE = 100_000, 20_000
BUS = "tcp://127.0.0.1:25556"
CAPTURE_PORT = 5514
HEALTHY, SILENT, REJECTING, FILTERED = 6000, 6001, 6002, 6003
NOWHERE = "192.0.2.9"
NO_ROUTE = "198.18.0.9"


def nft_apply(c, role, script, tmp_path):
    path = tmp_path / f"nft-{role}.conf"
    path.write_text(script)
    c.run(role, ["nft", "-f", path])


def nft_counters(c, role):
    """{udp dport: packets} of the counter rules in table inet skw."""
    ruleset = json.loads(c.run(role, ["nft", "-j", "list", "table", "inet", "skw"]).stdout)["nftables"]
    out = {}
    for item in ruleset:
        rule = item.get("rule")
        if not rule:
            continue
        port = packets = None
        for e in rule["expr"]:
            if "match" in e and e["match"]["left"].get("payload", {}).get("field") == "dport":
                port = e["match"]["right"]
            if "counter" in e:
                packets = e["counter"]["packets"]
        out[port] = packets
    return out


def test_dead_destinations_do_not_cost_the_healthy_one_anything(chain, daemons, sekiwake, tmp_path):
    require_programs("nft")
    c = chain()
    rly_in, col = c.addr("rly_in", 4), c.addr("col", 4)
    nft_apply(c, "col", f"""table inet skw {{
  chain input {{
    type filter hook input priority 0; policy accept;
    udp dport {SILENT} counter drop
    udp dport {REJECTING} counter reject
  }}
}}
""", tmp_path)
    nft_apply(c, "rly", f"""table inet skw {{
  chain output {{
    type filter hook output priority 0; policy accept;
    udp dport {FILTERED} counter drop
  }}
}}
""", tmp_path)
    c.run("rly", ["ip", "route", "add", "192.0.2.0/24", "via", col])

    sink = UdpSink(tmp_path, host=col, port=HEALTHY, count=COUNT, timeout=60, idle=5, rcvbuf=64 << 20,
                   netns=c.ns["col"])
    daemons.append(sink.start())
    names = {"healthy": HEALTHY, "silent": SILENT, "rejecting": REJECTING, "filtered": FILTERED}
    dests = [{"name": n, "url": f"udp://{col}:{p}", "kinds": ["syslog"]} for n, p in names.items()]
    dests.append({"name": "unroutable", "url": f"udp://{NOWHERE}:514", "kinds": ["syslog"]})
    dests.append({"name": "no_route", "url": f"udp://{NO_ROUTE}:514", "kinds": ["syslog"]})
    cfg = write_config(tmp_path / "forward.toml", forward_toml(dests))
    fwd = sekiwake.forward(BUS, [], config=cfg, netns=c.ns["rly"])
    # the collector network behind 192.0.2.0/24 goes away after forward opened its socket
    c.run("rly", ["ip", "route", "replace", "unreachable", "192.0.2.0/24"])
    cap = sekiwake.capture("--listen", f"{rly_in}:{CAPTURE_PORT}", ifaces=(), ports={"syslog": CAPTURE_PORT},
                           publish=BUS, wait_subscribers=1, netns=c.ns["rly"], wait_ready=False)
    time.sleep(0.5)

    t0 = time.monotonic()
    sent, summary = sekiwake_send("syslog", "--to", f"{rly_in}:{CAPTURE_PORT}", "--rate", RATE, "--count", COUNT,
                                  netns=c.ns["exp"], timeout=60)
    elapsed = time.monotonic() - t0
    got = sink.results()
    fwd.wait_stats(lambda s: all(accounted(d) >= COUNT for d in s["destinations"]), timeout=15)
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()
    assert all(conserved(d) for d in fwd_stats["destinations"]), fwd_stats["destinations"]
    col_counters, rly_counters = nft_counters(c, "col"), nft_counters(c, "rly")
    diag = f"{cap.output()}{fwd.output()}\n{json.dumps(fwd_stats, indent=1)}"

    assert sent.returncode == 0 and summary["sent"] == COUNT and summary["refused"] == 0, sent.stderr
    assert elapsed >= COUNT / RATE * 0.8, "send did not pace at --rate"
    assert cap_rc == 0 and fwd_rc == 0, diag
    assert cap_stats["captured_total"] == cap_stats["published"] == COUNT, cap_stats
    assert fwd_stats["received"] == fwd_stats["routed"] == COUNT and fwd_stats["bus_gaps"] == 0, diag

    # the healthy destination: every datagram, exactly once, nothing counted lost
    seqs = [seq_of(p) for *_, p in got]
    assert len(seqs) == COUNT and len(set(seqs)) == COUNT, f"sink got {len(seqs)} ({len(set(seqs))} distinct)"
    healthy = by_name(fwd_stats, "healthy")
    assert healthy["routed"] == healthy["forwarded"] == COUNT, healthy
    assert healthy["refused"] == healthy["failed"] == healthy["dropped_full"] == 0, healthy

    # every dead destination accounts for each datagram, under the reason that stopped it
    for name in ("silent", "rejecting", "filtered", "unroutable", "no_route"):
        d = by_name(fwd_stats, name)
        assert d["routed"] == COUNT and accounted(d) == COUNT, d
    silent = by_name(fwd_stats, "silent")
    assert silent["forwarded"] == COUNT, silent  # dropped past the relay: invisible to it ...
    assert col_counters[SILENT] == COUNT, col_counters  # ... but every one reached the collector's filter
    rejecting = by_name(fwd_stats, "rejecting")
    assert rejecting["refused"] + rejecting["unreachable_reports"] > 0, rejecting
    assert rejecting["forwarded"] + rejecting["refused"] == COUNT, rejecting
    assert col_counters[REJECTING] == rejecting["forwarded"], (col_counters, rejecting)
    filtered = by_name(fwd_stats, "filtered")
    assert filtered["failed"] == COUNT and filtered["forwarded"] == 0, filtered
    assert rly_counters[FILTERED] == COUNT, rly_counters
    unroutable = by_name(fwd_stats, "unroutable")
    assert unroutable["failed"] == COUNT and unroutable["forwarded"] == 0, unroutable
    no_route = by_name(fwd_stats, "no_route")
    assert no_route["failed"] == COUNT and no_route["forwarded"] == 0, no_route
    assert "unreachable" in (no_route.get("last_error") or "").lower(), no_route
    assert "no_route" in fwd.output() and "trying again" in fwd.output(), fwd.output()
