"""SIGHUP under load: forward re-reads its configuration between two batches without losing a datagram.

`sekiwake send syslog` runs at 10 000/s for 5 s into a capture listener on loopback; forward sends every
datagram to destinations A and B.  While it runs, the configuration file is rewritten and forward gets SIGHUP
(by PID) three times:

1. add destination C and a rule sending C the even sequence numbers (a rule without kinds: forward's bus
   subscription widens from syslog to everything under load);
2. change that rule: C gets every datagram;
3. a broken file: refused, the running configuration stays.

A and B (unchanged throughout) get every sequence number exactly once; C's sequence numbers are exactly the even
ones from some point on, then all of them from a later point to the end; forward logs two reloads and one
refusal, and its bus shows no gap.

Also: a new `source_port` applies to destinations that were already there, and a file that does not parse or
names no destination is refused.
"""

import os
import signal
import time

from helpers.env import SEKIWAKE_BIN
from helpers.net import UdpSink, free_port, send_udp
from helpers.proc import Daemon, wait_until
from relay_peers import Receivers, by_name, forward_toml, seq_of, write_config

RATE, SECONDS = 10_000, 5
COUNT = RATE * SECONDS


def reloads(fwd):
    err = fwd.stderr_path.read_text(errors="replace")
    return err.count("configuration reloaded"), err.count("reload refused")


def hup_and_wait(fwd, expect, timeout=5):
    os.kill(fwd.pid, signal.SIGHUP)
    ok = wait_until(lambda: reloads(fwd) == expect, timeout)
    assert ok, f"after SIGHUP expected (reloaded, refused) = {expect}, got {reloads(fwd)}\n{fwd.output()}"


def test_sighup_under_load_loses_nothing_and_refuses_a_broken_file(sekiwake, tmp_path):
    sinks = {n: UdpSink(tmp_path, count=COUNT, timeout=40, idle=4, rcvbuf=64 << 20).start() for n in "ABC"}
    dest_a, dest_b = ({"name": n, "url": sinks[n].url, "kinds": ["syslog"]} for n in "AB")
    dest_c = {"name": "C", "url": sinks["C"].url}
    cfg = write_config(tmp_path / "forward.toml", forward_toml([dest_a, dest_b]))

    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"syslog": port}, publish=bus,
                           wait_ready=False)
    fwd = sekiwake.forward(bus, [], config=cfg)
    time.sleep(1.0)  # slow joiner
    sender = Daemon("send", [SEKIWAKE_BIN, "send", "syslog", "--to", f"127.0.0.1:{port}", "--rate", RATE,
                             "--count", COUNT], tmp_path)
    sekiwake.procs.append(sender)  # stopped at teardown if the test fails early
    sender.start()
    try:
        time.sleep(1.5)
        write_config(cfg, forward_toml([dest_a, dest_b, dest_c],
                                       rules=[{"match": {"message": r"^seq=\d*[02468] "}, "to": ["C"]}]))
        hup_and_wait(fwd, (1, 0))
        time.sleep(1.0)
        write_config(cfg, forward_toml([dest_a, dest_b, dest_c], rules=[{"match": {"message": "seq="}, "to": ["C"]}]))
        hup_and_wait(fwd, (2, 0))
        time.sleep(0.5)
        write_config(cfg, forward_toml([dest_a, dest_b, dest_c], rules=[{"match": {"message": "x"}, "to": ["D"]}]))
        hup_and_wait(fwd, (2, 1))
        assert sender.alive(), "the sender finished before the reloads were done: the test proves nothing"
        sender.proc.wait(30)
    finally:
        sender.stop()
    got = {n: [seq_of(p) for *_, p in s.results()] for n, s in sinks.items()}
    fwd.wait_stats(lambda s: s["received"] >= COUNT, timeout=10)
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, stats = fwd.terminate()
    diag = fwd.output()

    assert sender.proc.returncode == 0, sender.output()
    assert cap_rc == 0 and cap_stats["published"] == COUNT, cap.output()
    assert fwd_rc == 0, diag
    assert stats["received"] == COUNT and stats["bus_gaps"] == 0, stats
    for n in "AB":
        assert sorted(got[n]) == list(range(COUNT)), f"{n}: {len(got[n])} datagrams, {len(set(got[n]))} distinct"
        d = by_name(stats, n)
        assert d["routed"] == d["forwarded"] == COUNT, d

    # C: the even numbers from its first one (reload 1), then every number from its first odd one (reload 2) on
    seqs = sorted(got["C"])
    assert len(seqs) == len(set(seqs)), "C got a datagram twice"
    first, switch = seqs[0], next(s for s in seqs if s % 2)
    assert 0 < first < switch < COUNT, (first, switch)
    assert seqs == [s for s in range(first, switch) if s % 2 == 0] + list(range(switch, COUNT)), (first, switch)
    assert by_name(stats, "C")["forwarded"] == len(seqs)
    assert [d["name"] for d in stats["destinations"]] == ["A", "B", "C"], "the broken file changed nothing"
    assert "reload refused" in diag and "`D`" in diag, diag


def test_sighup_applies_a_new_source_port_and_refuses_files_without_destinations(sekiwake, tmp_path):
    """A changed `source_port` reaches the destinations that were already there (their sockets are bound to the
    old port); a file that does not parse, or has no destination at all (as startup would refuse), is refused."""
    old_port, new_port = 51400, free_port("udp")
    with Receivers(["A"]) as rx:
        dest = {"name": "A", "url": rx.url("A"), "kinds": ["syslog"]}
        cfg = write_config(tmp_path / "forward.toml", forward_toml([dest], source_port=old_port))
        port = free_port("udp")
        bus = f"tcp://127.0.0.1:{free_port('tcp')}"
        sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"syslog": port}, publish=bus,
                         wait_ready=False)
        fwd = sekiwake.forward(bus, [], config=cfg)
        time.sleep(1.0)

        def through(text):
            before = len(rx.got["A"])
            send_udp([text.encode()], "127.0.0.1", port)
            assert wait_until(lambda: len(rx.got["A"]) > before, 5), f"{text!r} never arrived\n{fwd.output()}"
            return rx.got["A"][-1][1]

        assert through("<14>app: one") == old_port
        write_config(cfg, forward_toml([dest], source_port=new_port))
        hup_and_wait(fwd, (1, 0))
        assert through("<14>app: two") == new_port
        write_config(cfg, "[forward\n")
        hup_and_wait(fwd, (1, 1))
        write_config(cfg, "")
        hup_and_wait(fwd, (1, 2))
        assert through("<14>app: three") == new_port
        fwd_rc, stats = fwd.terminate()
    assert fwd_rc == 0, fwd.output()
    assert "no destination" in fwd.output()
    assert [d["name"] for d in stats["destinations"]] == ["A"]
