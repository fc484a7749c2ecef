"""Shards of a subscriber: `--shard I/N` (or `bus.shard` in the file) takes the buckets with
`bucket mod N == I`.

1. Three taps, shards 0/3, 1/3 (flags) and 2/3 (from a config file), on one capture fed syslog from 40
   exporters and IPFIX from 8: together they print every datagram capture published exactly once; each
   exporter is whole on one shard, the shard its topic bucket names, its messages in the order sent; no
   shard sees a gap; each reports its shard.
2. Two forwarders, shards 0/2 and 1/2, each to its own UDP sink: the sinks together get every message once,
   and each forwarder's counters add up to its half.
3. A shard that does not exist is refused: in a file naming file, line and key, on the command line by the
   flag's parser.
"""

import collections
import json
import re
import time

from helpers.net import UdpSink, drain_socket, free_port
from relay_peers import seq_of

SYSLOG_EXPORTERS, SYSLOG_COUNT = 40, 4000
IPFIX_EXPORTERS, IPFIX_COUNT = 8, 400
BUCKET = re.compile(r"^[a-z0-9-]+/b(\d\d)/")


def tap_shard(sekiwake, bus, shard=None, config=None):
    """A tap taking one shard, from --shard or from a config file; its stats file shows it running."""
    argv = ["--subscribe", bus]
    if shard:
        argv += ["--shard", shard]
    if config:
        argv = ["-c", config] + argv
    return sekiwake._subscriber("tap", argv, sekiwake._stats_path("tap"), None)


def test_three_tap_shards_take_every_datagram_once_and_each_exporter_whole(sekiwake, tmp_path):
    syslog_port, ipfix_port = free_port("udp"), free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cfg = tmp_path / "shard2.toml"
    cfg.write_text('[bus]\nshard = "2/3"\n')
    taps = [tap_shard(sekiwake, bus, "0/3"), tap_shard(sekiwake, bus, "1/3"),
            tap_shard(sekiwake, bus, config=cfg)]
    cap = sekiwake.capture(ports={"syslog": syslog_port, "ipfix": ipfix_port}, publish=bus,
                           wait_subscribers=3)
    time.sleep(1.0)  # slow joiner
    with drain_socket(syslog_port), drain_socket(ipfix_port):
        sent = [
            sekiwake.send("syslog", "--to", f"127.0.0.1:{syslog_port}", "--source", "127.0.7.1",
                          "--exporters", SYSLOG_EXPORTERS, "--rate", 4000, "--count", SYSLOG_COUNT),
            sekiwake.send("ipfix", "--to", f"127.0.0.1:{ipfix_port}", "--source", "127.0.8.1",
                          "--exporters", IPFIX_EXPORTERS, "--rate", 2000, "--count", IPFIX_COUNT),
        ]
        published = cap.wait_stats(lambda s: s["published"] >= SYSLOG_COUNT + IPFIX_COUNT, timeout=30)
    for t in taps:
        t.wait_stats(lambda s: s["received"] > 0, timeout=10)
    time.sleep(1.0)
    cap_rc, cap_stats = cap.terminate()
    finals = [t.terminate() for t in taps]

    assert all(r.returncode == 0 for r in sent), [r.stderr for r in sent]
    assert cap_rc == 0 and all(rc == 0 for rc, _ in finals), cap.output()
    assert published["published"] == cap_stats["published"] == SYSLOG_COUNT + IPFIX_COUNT, cap_stats
    lines = [[json.loads(x) for x in t.stdout_lines()] for t in taps]
    # exactly once over the three shards: a datagram is its publisher's (kind, bucket) stream and sequence
    seen = collections.Counter((d["publisher"], d["kind"], d["topic"], d["sequence"]) for ls in lines for d in ls)
    assert sum(seen.values()) == SYSLOG_COUNT + IPFIX_COUNT
    assert max(seen.values()) == 1
    shard_of = {}
    for i, ls in enumerate(lines):
        assert ls, f"shard {i}/3 got nothing"
        for d in ls:
            bucket = int(BUCKET.match(d["topic"]).group(1))
            assert bucket % 3 == i, d["topic"]
            assert shard_of.setdefault(d["exporter"], i) == i, f"{d['exporter']} on two shards"
    assert len(shard_of) == SYSLOG_EXPORTERS + IPFIX_EXPORTERS
    # each exporter's syslog messages in the order sent
    for ls in lines:
        order = collections.defaultdict(list)
        for d in ls:
            if d["kind"] == "syslog":
                order[d["exporter"]].append(seq_of(d["payload_text"].encode()))
        assert all(seqs == sorted(seqs) for seqs in order.values())
    for i, (_, stats) in enumerate(finals):
        assert stats["shard"] == f"{i}/3", stats
        assert stats["bus_gaps"] == 0 and stats["bad_envelope"] == 0, stats
        assert stats["received"] == stats["printed"] == len(lines[i]), stats


def test_two_forward_shards_deliver_every_message_once(sekiwake, tmp_path):
    n = 3000
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sinks = [UdpSink(tmp_path, count=n, timeout=40, idle=4, rcvbuf=16 << 20).start() for _ in range(2)]
    fwds = [sekiwake.forward(bus, {"syslog": sink.url}, "--shard", f"{i}/2") for i, sink in enumerate(sinks)]
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, wait_subscribers=2)
    time.sleep(1.0)  # slow joiner
    with drain_socket(port):
        sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--source", "127.0.9.1",
                             "--exporters", 30, "--rate", 3000, "--count", n)
        got = [sink.results() for sink in sinks]
    cap_rc, _ = cap.terminate()
    finals = [f.terminate() for f in fwds]

    assert sent.returncode == 0, sent.stderr
    assert cap_rc == 0 and all(rc == 0 for rc, _ in finals)
    seqs = [[seq_of(payload) for *_, payload in g] for g in got]
    assert all(seqs), "each shard forwards its half"
    assert sorted(seqs[0] + seqs[1]) == sorted(set(seqs[0] + seqs[1]))
    assert len(seqs[0]) + len(seqs[1]) == n
    for (rc, stats), sink, g in zip(finals, sinks, got):
        assert stats["received"] == len(g), stats
        assert fwds[0].destination(stats, sink.url)["forwarded"] == len(g)


def test_a_shard_that_does_not_exist_is_refused(sekiwake, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[bus]\nhwm = 1000\nshard = "3/3"\n')
    r = sekiwake.run("check-config", cfg)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"{cfg}:3: key `bus.shard`" in out and "numbered 0 to 2" in out, out
    r = sekiwake.run("tap", "--subscribe", "tcp://127.0.0.1:9", "--shard", "0/65")
    assert r.returncode != 0 and "shards number 1 to 64" in r.stderr, r.stderr
