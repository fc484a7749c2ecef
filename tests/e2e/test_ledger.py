"""The loss ledger (`sekiwake ledger`) names each loss at its stage, exactly.

One path: exporters -> capture (UDP listeners, --connect) -> proxy -> two forward shards -> a UDP sink, and a
dead TCP syslog collector beside it. Loss is injected at every stage, each on an exporter of its own:

- X (NetFlow v9) and Y (sFlow) skip sequence numbers: lost before capture (5 and 4 numbers);
- A's syslog burst meets a frozen proxy: capture's queue fills (`hwm_dropped`);
- B's burst meets one frozen shard: the proxy's queue to it fills (`dropped_full`);
- C sends while its shard is stopped (SIGTERM) and until it is back: lost at the subscriber;
- every syslog datagram routed to the dead TCP collector is lost at that destination.

A second test fills a frozen capture's listener socket: the kernel's count of what it dropped and the hole in
the exporter's numbering are the same figure, and the figure the exporter and capture disagree by.

The ground truth is what each exporter sent less what the sink got; the ledger, read from the final stats
files (the restarted shard's two incarnations each have their own), must give each exporter's loss exactly
that figure, all of it at the stage injected, and nothing anywhere else.
"""

import ipaddress
import json
import os
import signal
import struct
import time

from helpers.net import UdpSink, free_port, send_udp, wait_udp_drained
from helpers.proc import wait_until

SHARDS = 2
BURST, SIZE, RATE = 20_000, 1200, 20_000  # 24 MB: more than the socket buffers between two stages hold


def bucket(ip):
    h = 0x811C9DC5
    for b in ipaddress.IPv6Address(f"::ffff:{ip}").packed:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h % 64


def exporters():
    """Five loopback addresses in five distinct buckets: X, Y, A, B, C (B and C on different shards)."""
    chosen, used = [], set()
    for i in range(1, 250):
        ip = f"127.0.9.{i}"
        if bucket(ip) not in used:
            chosen.append(ip)
            used.add(bucket(ip))
        if len(chosen) == 5 and bucket(chosen[3]) % SHARDS != bucket(chosen[4]) % SHARDS:
            return chosen
        if len(chosen) == 5:
            used.discard(bucket(chosen.pop()))
    raise AssertionError("no five addresses in distinct buckets")


def v9(seq):
    """A NetFlow v9 header with no sets, source id 1."""
    return struct.pack("!HHIIII", 9, 0, 1000, int(time.time()), seq, 1)


def sflow(agent, seq):
    """An sFlow v5 datagram header with no samples."""
    return struct.pack("!II4sIIII", 5, 1, ipaddress.IPv4Address(agent).packed, 0, seq, 1000, 0)


def syslog_burst(sekiwake, ip, port, tag, count=BURST):
    message = f"{tag} {{seq}} ".ljust(SIZE, "x")
    r = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--source", ip, "--rate", RATE, "--count", count,
                      "--message", message, timeout=60)
    assert r.returncode == 0, r.stderr
    return count


def shard_of(ip):
    return bucket(ip) % SHARDS


def test_the_ledger_names_each_loss_at_its_stage(sekiwake, tmp_path):
    X, Y, A, B, C = exporters()
    nf, sf, sy = free_port("udp"), free_port("udp"), free_port("udp")
    front, back = f"tcp://127.0.0.1:{free_port('tcp')}", f"tcp://127.0.0.1:{free_port('tcp')}"
    dead = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=10**9, timeout=180, idle=8, rcvbuf=256 << 20).start()
    proxy = sekiwake.proxy(front, back, "--hwm", 1000)
    routes = {"netflow-v9": sink.url, "sflow": sink.url}
    to = [f"{k}={v}" for k, v in routes.items()] + [f"syslog={sink.url}", f"syslog={dead}"]

    def shard(i):
        return sekiwake.forward(back, to, "--shard", f"{i}/{SHARDS}")
    shards = [shard(i) for i in range(SHARDS)]
    cap = sekiwake.capture("--listen", f"127.0.0.1:{nf}", "--listen", f"127.0.0.1:{sf}", "--listen",
                           f"127.0.0.1:{sy}", ifaces=(), ports={"netflow": nf, "sflow": sf, "syslog": sy},
                           connect=front, hwm=100, wait_ready=False)
    cap.wait_ready(lambda: cap.stats() is not None, what="running (no stats file)")
    # every shard's subscriptions crossed the proxy (one per kind and bucket of the shard, three kinds)
    proxy.wait_stats(lambda s: s["subscriptions"] >= 3 * 64, timeout=15)
    time.sleep(1.0)
    sent = {}

    # X and Y skip numbers: lost before capture
    x_seqs = [s for s in range(300) if s not in (10, 11, 100, 200, 250)]
    y_seqs = [s for s in range(300) if s not in (5, 6, 7, 299 - 1)]
    send_udp([v9(s) for s in x_seqs], "127.0.0.1", nf, src=X, gap=0.0005)
    send_udp([sflow(Y, s) for s in y_seqs], "127.0.0.1", sf, src=Y, gap=0.0005)
    sent[X], sent[Y] = len(x_seqs), len(y_seqs)

    # A: the proxy is frozen, capture's queue to it fills
    os.kill(proxy.pid, signal.SIGSTOP)
    try:
        sent[A] = syslog_burst(sekiwake, A, sy, "ledger-A")
        cap.wait_stats(lambda s: sum(e["captured"] for e in s["exporters"] if e["exporter"] == A) >= BURST)
    finally:
        os.kill(proxy.pid, signal.SIGCONT)
    time.sleep(3.0)

    # B: B's shard is frozen, the proxy's queue to it fills
    frozen = shards[shard_of(B)]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        sent[B] = syslog_burst(sekiwake, B, sy, "ledger-B")
        # the proxy has taken (and passed on or dropped) all that capture published
        wait_until(lambda: proxy.stats()["received"] == cap.stats()["published"], 15, 0.2)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    time.sleep(3.0)

    # C: C's shard stops; C sends while it is away and until its successor is there
    i = shard_of(C)
    rc, _ = shards[i].terminate()
    assert rc == 0, shards[i].output()
    sent[C] = syslog_burst(sekiwake, C, sy, "ledger-C", count=2000)
    shards.append(shard(i))
    more = 0
    while True:
        more += syslog_burst(sekiwake, C, sy, "ledger-C-after", count=200)
        if shards[-1].stats()["received"] > 0:
            break
        assert more < 20_000, "the restarted shard never received"
    sent[C] += more
    time.sleep(2.0)
    cap_rc, _ = cap.terminate()
    got = sink.results()
    finals = [s.terminate() for s in shards if s.alive()]
    proxy_rc, _ = proxy.terminate()
    assert cap_rc == 0 and proxy_rc == 0 and all(rc == 0 for rc, _ in finals)

    # the ground truth: what each exporter sent that the sink did not get
    arrived = dict.fromkeys(sent, 0)
    for _, _, payload in got:
        if payload[:2] == b"\x00\x09":
            arrived[X] += 1
        elif payload[:4] == b"\x00\x00\x00\x05":
            arrived[Y] += 1
        else:
            tag = next(t for t, ip in (("ledger-A ", A), ("ledger-B ", B), ("ledger-C", C)) if t.encode() in payload)
            arrived[dict(A=A, B=B, C=C)[tag[7]]] += 1
    truth = {ip: sent[ip] - arrived[ip] for ip in sent}

    files = [cap.stats_path, proxy.stats_path] + [s.stats_path for s in shards]
    out = sekiwake.run("ledger", "--json", *files)
    assert out.returncode == 0, out.stderr
    ledger = json.loads(out.stdout)
    text = sekiwake.run("ledger", *files).stdout

    def stage(losses, ip):
        return sum(e["lost"] for e in losses if e["exporters"] == [ip])
    capture = ledger["captures"][0]
    group = ledger["groups"][0]
    proxies = ledger["proxies"][0]
    at = {ip: {"before": sum(e["missing"] for e in ledger["before_capture"] if e["exporter"] == ip),
               "capture": stage(capture["exporters"], ip),
               "proxy": stage(proxies["exporters"], ip),
               "subscriber": stage(group["exporters"], ip)} for ip in sent}

    # before capture: exactly the numbers skipped (in datagrams for v9 and sFlow); all else arrived
    assert at[X]["before"] == 5 and at[Y]["before"] == 4, text
    assert truth[X] == 0 and truth[Y] == 0, (truth, text)
    # each exporter's loss is found exactly, at the stage injected (a burst let through once a stage thaws
    # may overflow the next one: that part is found there, and still adds up)
    for ip, where in ((A, "capture"), (B, "proxy"), (C, "subscriber")):
        assert truth[ip] > 0, f"{where}: nothing was lost, the test injected nothing\n{text}"
        assert at[ip][where] > 0, f"{ip} lost {truth[ip]}, ledger: {at[ip]}\n{text}"
        assert sum(at[ip].values()) == truth[ip], f"{ip} lost {truth[ip]}, ledger: {at[ip]}\n{text}"
    assert capture["listener_dropped"] == 0 and capture["pcap_dropped"] == 0
    assert group["shards"] == SHARDS and group["reports"] == SHARDS + 1
    # the stages' totals are the sums over exporters
    assert capture["hwm_dropped"] == sum(a["capture"] for a in at.values()), text
    assert proxies["dropped_full"] == sum(a["proxy"] for a in at.values()), text
    assert group["lost"] == sum(a["subscriber"] for a in at.values()), text
    # the dead collector lost every syslog datagram forward had for it
    syslog_forwarded = sum(arrived[ip] for ip in (A, B, C))
    dead_dest = next(d for d in ledger["destinations"] if d["url"] == dead)
    assert sum(dead_dest["lost"].values()) == syslog_forwarded, text
    sink_dest = next(d for d in ledger["destinations"] if d["url"] == sink.url)
    assert sink_dest["lost"] == {} and sink_dest["forwarded"] == len(got), text
    # the one note is the stated assumption about proxies; no shard unreported, no unknown publisher
    assert [n for n in ledger["notes"] if "behind every proxy" not in n] == [], ledger["notes"]


def test_kernel_drops_at_a_full_listener_are_counted_and_seen_in_the_exporters_numbering(sekiwake, tmp_path):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"netflow": port}, publish=bus,
                           wait_ready=False)
    cap.wait_ready(lambda: cap.stats() is not None, what="running (no stats file)")
    # 40 000 v9 datagrams of 1400 bytes while capture sleeps: more than its 32 MiB receive buffer holds
    padding = bytes(1400 - 20)
    count = 40_000
    os.kill(cap.pid, signal.SIGSTOP)
    try:
        send_udp([v9(s) + padding for s in range(count)], "127.0.0.1", port, src="127.0.9.200")
    finally:
        os.kill(cap.pid, signal.SIGCONT)
    # one more once capture has read what the kernel held, so that the loss at the end is a hole too
    wait_udp_drained(port)
    send_udp([v9(count) + padding], "127.0.0.1", port, src="127.0.9.200")
    cap.wait_stats(lambda s: s["listener_dropped"] + s["captured_total"] == count + 1, timeout=15)
    rc, stats = cap.terminate()
    assert rc == 0, cap.output()
    out = sekiwake.run("ledger", "--json", cap.stats_path)
    assert out.returncode == 0, out.stderr
    ledger = json.loads(out.stdout)
    dropped = ledger["captures"][0]["listener_dropped"]
    holes = ledger["before_capture"][0]
    assert dropped > 0, "the burst fitted in the buffer: nothing was dropped"
    assert dropped == count + 1 - stats["captured_total"]
    assert (holes["exporter"], holes["missing"], holes["late"], holes["resets"]) == ("127.0.9.200", dropped, 0, 0)
