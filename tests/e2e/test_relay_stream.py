"""Syslog relayed over TCP and TLS: capture (UDP listener) -> bus -> forward -> rsyslog imtcp (plain, or TLS with
the gtls netstream driver), every message stored as `<<%rawmsg%>>\\n` (helpers.rsyslog.RsyslogStream).

1. TCP, RFC 6587 octet counting and LF framing: crafted messages (RFC 3164/5424, UTF-8, tabs, 8 KiB, trailing
   LF, LF inside) and 2000 generator messages arrive byte-exact (oracle: our own bytes and tcpdump), in order;
   with LF framing a datagram's trailing LF ends the frame and is not doubled.
2. TLS (RFC 5425): a destination verifying the server with the right CA file, and one with a client certificate
   (rsyslog AuthMode x509/name), get every message byte-exact; one whose CA is another CA never connects
   (connects 0, all held in `queued`, nothing arrives, connect_failures and last_error say why, dropped_at_exit
   at the end).  A missing CA file is refused by check-config and by forward's start, both naming the file.
3. Outage: rsyslog stopped (SIGTERM by PID) for 10 s while 500 messages/s keep coming, then restarted on the
   same port: every sequence number arrives, in order apart from resent duplicates (at most `resent` of them);
   disconnects >= 1, connects >= 2.
4. Past the bound: queue_messages = 200 while rsyslog is down (it never ran yet, so no message can be in flight):
   of 500 messages exactly 300 are dropped_full and 200 queued; after rsyslog starts those 200 (0..199) arrive.
5. Throughput figures (printed and saved, never asserted on time), 200-byte syslog over TCP and over TLS:
   `live`, 200 000 messages from the generator at full speed (SEKIWAKE_STREAM_RATE to pick a rate) through the
   listener, forward and rsyslog, timed until rsyslog's file holds all; `drain`, 200 000 messages held while
   rsyslog is down, timed from its first stored byte after the restart to the last (forward -> rsyslog alone);
   forward's CPU seconds per million (utime + stime, /proc/PID/stat).  Asserted: lossless, in order.
"""

import json
import os
import re
import signal
import threading
import time

import pytest

from helpers.env import SEKIWAKE_BIN
from helpers.gating import require_programs
from helpers.net import free_port, send_udp, udp_bound
from helpers.proc import Daemon, proc_cpu_seconds, unique_name
from helpers.rsyslog import RsyslogStream, parse_raw_records, require_rsyslog_tls
from helpers.tls import make_test_pki
from helpers.tshark import PacketCapture
from relay_peers import by_name

SEQ = re.compile(rb"seq=(\d+)")


def seq_of(msg):
    m = SEQ.search(msg)
    assert m, f"no seq=N in {msg[:100]!r}"
    return int(m.group(1))


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string is a JSON string for what we write


def forward_config(path, destinations):
    """A config file with one [[forward.destination]] table per dict."""
    text = ""
    for d in destinations:
        text += "[[forward.destination]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in d.items()) + "\n"
    path.write_text(text)
    return path




def pipeline(sekiwake, tmp_path, destinations, *capture_extra):
    """forward -c (the destinations) subscribed to a capture that listens on a UDP port for syslog.  Returns
    (capture, forward, udp port)."""
    cfg = forward_config(tmp_path / f"{unique_name('forward-')}.toml", destinations)
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    fwd = sekiwake.forward(bus, [], config=cfg)
    cap = sekiwake.capture("--listen", f"127.0.0.1:{port}", *capture_extra, ifaces=(), ports={"syslog": port},
                           publish=bus, wait_subscribers=1, wait_ready=False)
    cap.wait_ready(lambda: udp_bound(port), what="listening")
    return cap, fwd, port


def send_syslog(sekiwake, port, count, rate, *extra, timeout=120):
    out = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--count", count, "--rate", rate, *extra,
                        timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out


def crafted(n, octet_counting):
    """n syslog messages carrying seq=i: RFC 3164 and 5424 shapes, UTF-8, tabs, an 8 KiB one, some ending in LF
    and (octet counting only: LF framing would split them) some with LF inside."""
    out = []
    for i in range(n):
        shape = i % 6
        if shape == 0:
            m = f"<134>Nov 26 10:00:00 edge-1 app[7]: seq={i} plain"
        elif shape == 1:
            m = f'<165>1 2026-11-26T10:00:00.1Z core-2 app 7 ID1 [x@32473 k="v\\"q"] seq={i} caf\u00e9 \u65e5\u672c'
        elif shape == 2:
            m = f"<14>Nov 26 10:00:00 fw-3 app: seq={i} trailing LF\n"
        elif shape == 3:
            m = f"<14>Nov 26 10:00:00 fw-3 app: seq={i} tab\there  two  spaces"
        elif shape == 4 and octet_counting:
            m = f"<14>Nov 26 10:00:00 fw-3 app: seq={i} line one\nline two\n"
        else:
            m = f"<14>Nov 26 10:00:00 fw-3 app: seq={i} long " + "".join(chr(0x61 + k % 26) for k in range(8000))
        out.append(m.encode())
    return out


def framed_record(payload, octet_counting):
    """What rsyslog stores for a datagram: itself (octet counting), or without its one trailing LF (LF framing)."""
    if octet_counting:
        return payload
    return payload[:-1] if payload.endswith(b"\n") else payload


# --------------------------------------------------------------------------------------------- 1. TCP

@pytest.mark.parametrize("framing", ["octet-counting", "lf"])
def test_tcp_delivers_every_message_byte_exact_in_order(sekiwake, tmp_path, framing):
    require_programs("rsyslogd", "tcpdump", "tshark")
    octet = framing == "octet-counting"
    rs = RsyslogStream(tmp_path / "rsyslog", {"tcp": None})
    oracle = None
    try:
        rs.start()
        url = f"tcp://127.0.0.1:{rs.ports['tcp']}" + ("" if octet else "?framing=lf")
        cap, fwd, port = pipeline(sekiwake, tmp_path, [{"name": "r", "url": url, "kinds": ["syslog"]}])
        oracle = PacketCapture(tmp_path, f"udp and dst port {port}")
        oracle.start()

        mine = crafted(60, octet)
        send_udp(mine, "127.0.0.1", port)
        gen_count = 2000
        send_syslog(sekiwake, port, gen_count, 10000, "--format", "mixed")
        total = len(mine) + gen_count
        got = rs.wait_records("tcp", total, timeout=20)
        sent = [p for *_, p in oracle.stop_and_payloads()]
        fwd.wait_stats(lambda s: by_name(s, "r")["forwarded"] >= total, timeout=5)
        cap_rc, cap_stats = cap.terminate()
        fwd_rc, fwd_stats = fwd.terminate()
    finally:
        if oracle:
            oracle.stop()
        rs.stop()

    assert sent[:len(mine)] == mine, "tcpdump saw what we sent"
    assert len(sent) == total
    want = [framed_record(p, octet) for p in sent]
    assert len(got) == total, f"rsyslog stored {len(got)} of {total}\n{fwd.output()}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"record {i}: {g[:200]!r} != {w[:200]!r}"
    assert [seq_of(g) for g in got[len(mine):]] == list(range(gen_count))
    if not octet:
        assert not any(g.endswith(b"\n") for g in got), "the datagram's trailing LF was doubled"

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert cap_stats["published"] == total
    d = by_name(fwd_stats, "r")
    assert fwd_stats["received"] == total and fwd_stats["bus_gaps"] == 0
    assert (d["routed"], d["forwarded"], d["dropped_full"], d["dropped_at_exit"], d["queued"]) == \
        (total, total, 0, 0, 0)
    assert (d["connects"], d["disconnects"], d["resent"]) == (1, 0, 0)


# --------------------------------------------------------------------------------------------- 2. TLS

def test_tls_verifies_the_server_and_delivers_everything(sekiwake, tmp_path):
    require_programs("rsyslogd", "openssl")
    require_rsyslog_tls()
    pki = make_test_pki(tmp_path / "pki")
    rs = RsyslogStream(tmp_path / "rsyslog", {"anon": "anon", "mtls": "x509/name", "rogue": "anon"}, pki=pki)
    n = 1200
    try:
        rs.start()
        dests = [
            {"name": "tls", "url": f"tls://127.0.0.1:{rs.ports['anon']}", "kinds": ["syslog"],
             "tls_ca": str(pki["ca"])},
            # by address, verified against the name the certificate carries; with a client certificate
            {"name": "mtls", "url": f"tls://127.0.0.1:{rs.ports['mtls']}", "kinds": ["syslog"],
             "tls_ca": str(pki["ca"]), "tls_server_name": "localhost", "tls_cert": str(pki["client"]),
             "tls_key": str(pki["client_key"])},
            # the server's certificate does not chain to this CA
            {"name": "wrongca", "url": f"tls://127.0.0.1:{rs.ports['rogue']}", "kinds": ["syslog"],
             "tls_ca": str(pki["other"])},
        ]
        cap, fwd, port = pipeline(sekiwake, tmp_path, dests)
        mine = crafted(n, octet_counting=True)
        send_udp(mine, "127.0.0.1", port, gap=0.0002)
        got = {name: rs.wait_records(name, n, timeout=20, settle=0) for name in ("anon", "mtls")}
        live = fwd.wait_stats(lambda s: by_name(s, "tls")["forwarded"] == n and by_name(s, "mtls")["forwarded"] == n
                              and by_name(s, "wrongca")["routed"] == n, timeout=10)
        time.sleep(1.0)  # several more connect attempts of wrongca
        live = fwd.wait_stats(lambda s: True)
        rogue_records = rs.records("rogue")
        cap_rc, _ = cap.terminate()
        fwd_rc, final = fwd.terminate()
    finally:
        rs.stop()

    for name in ("anon", "mtls"):
        assert got[name] == mine, f"{name}: {len(got[name])} of {n} records, or not byte-exact\n{fwd.output()}"
    for name in ("tls", "mtls"):
        d = by_name(final, name)
        assert (d["routed"], d["forwarded"], d["dropped_full"], d["dropped_at_exit"], d["queued"]) == \
            (n, n, 0, 0, 0), d
        assert (d["connects"], d["disconnects"], d["resent"]) == (1, 0, 0), d

    assert rogue_records == [], "nothing may reach a server the CA does not vouch for"
    w = by_name(live, "wrongca")
    assert (w["routed"], w["connects"], w["connected"], w["forwarded"], w["queued"], w["dropped_full"]) == \
        (n, 0, False, 0, n, 0), w
    assert w["connect_failures"] >= 2 and "certificate" in w.get("last_error", ""), w
    assert "certificate" in fwd.output(), "the final log line says why wrongca never connected"
    w = by_name(final, "wrongca")
    assert (w["connects"], w["forwarded"], w["dropped_at_exit"], w["queued"]) == (0, 0, n, 0), w
    assert cap_rc == 0 and fwd_rc == 0, fwd.output()


def test_missing_ca_file_is_refused_naming_it(sekiwake, tmp_path):
    missing = tmp_path / "no-such-dir" / "collector-ca.pem"
    cfg = forward_config(tmp_path / "missing-ca.toml", [
        {"name": "r", "url": f"tls://127.0.0.1:{free_port('tcp')}", "kinds": ["syslog"], "tls_ca": str(missing)}])

    check = sekiwake.run("check-config", cfg, timeout=20)
    assert check.returncode != 0, f"check-config accepted a missing CA file: {check.stdout}{check.stderr}"
    assert str(missing) in check.stdout + check.stderr

    start = sekiwake.run("forward", "-c", cfg, "--subscribe", f"tcp://127.0.0.1:{free_port('tcp')}",
                         timeout=20)
    assert start.returncode != 0, "forward started without its CA file"
    assert str(missing) in start.stderr, start.stderr


# --------------------------------------------------------------------------------------------- 3. outage

def test_outage_of_ten_seconds_loses_nothing(sekiwake, tmp_path):
    require_programs("rsyslogd")
    rate, before, outage, after = 500, 2.0, 10.0, 2.0
    count = int(rate * (before + outage + after))
    rs = RsyslogStream(tmp_path / "rsyslog", {"tcp": None})
    try:
        rs.start()
        cap, fwd, port = pipeline(sekiwake, tmp_path, [
            {"name": "r", "url": f"tcp://127.0.0.1:{rs.ports['tcp']}", "kinds": ["syslog"]}])
        sender = Daemon("send", [SEKIWAKE_BIN, "send", "syslog", "--to", f"127.0.0.1:{port}", "--count", count,
                                 "--rate", rate, "--format", "mixed"], tmp_path / "send").start()
        try:
            time.sleep(before)
            assert len(rs.records("tcp")) > 0.5 * rate * before, "messages flow before the outage"
            t_kill = time.monotonic()
            rs.stop(signal.SIGTERM)
            down = fwd.wait_stats(lambda s: not by_name(s, "r")["connected"], timeout=5)
            assert not by_name(down, "r")["connected"], "forward noticed the peer went away"
            time.sleep(max(0.0, outage - (time.monotonic() - t_kill)))
            held = by_name(fwd.wait_stats(lambda s: True), "r")["queued"]
            rs.start()
            sender.proc.wait(after + outage + 30)
        finally:
            sender.stop()
        assert sender.proc.returncode == 0, sender.output()
        got = rs.wait_records("tcp", count, timeout=20)
        fwd.wait_stats(lambda s: by_name(s, "r")["forwarded"] >= count, timeout=5)
        cap_rc, cap_stats = cap.terminate()
        fwd_rc, fwd_stats = fwd.terminate()
    finally:
        rs.stop()

    d = by_name(fwd_stats, "r")
    seqs = [seq_of(g) for g in got]
    first, seen = [], {}
    for s, g in zip(seqs, got):
        if s in seen:
            assert seen[s] == g, f"seq {s} arrived twice with different bytes"
        else:
            seen[s] = g
            first.append(s)
    duplicates = len(seqs) - len(first)
    print(f"\noutage: {count} messages, {held} held at the end of the outage, {duplicates} duplicates, "
          f"destination {d}")
    assert held > 0.5 * rate * outage * 0.8, f"messages were held during the outage ({held})"
    missing = sorted(set(range(count)) - set(first))
    assert not missing, f"{len(missing)} lost, first {missing[:10]}; stats {d}"
    assert first == list(range(count)), "in order apart from resent duplicates"
    assert duplicates <= d["resent"], f"{duplicates} duplicates, only {d['resent']} resent"
    assert cap_stats["published"] == count and fwd_stats["received"] == count
    assert (d["routed"], d["forwarded"], d["dropped_full"], d["dropped_at_exit"], d["queued"]) == \
        (count, count, 0, 0, 0), d
    assert d["disconnects"] >= 1 and d["connects"] >= 2, d
    assert cap_rc == 0 and fwd_rc == 0


# --------------------------------------------------------------------------------------------- 4. bound

def test_queue_bound_drops_the_excess_and_delivers_the_rest(sekiwake, tmp_path):
    require_programs("rsyslogd")
    bound, count = 200, 500
    rs = RsyslogStream(tmp_path / "rsyslog", {"tcp": None})  # not started: nothing listens on its port yet
    try:
        cap, fwd, port = pipeline(sekiwake, tmp_path, [
            {"name": "r", "url": f"tcp://127.0.0.1:{rs.ports['tcp']}", "kinds": ["syslog"],
             "queue_messages": bound}])
        send_syslog(sekiwake, port, count, 5000, "--format", "mixed")
        held = fwd.wait_stats(lambda s: by_name(s, "r")["routed"] >= count, timeout=10)
        d = by_name(held, "r")
        assert (d["routed"], d["dropped_full"], d["queued"], d["forwarded"], d["connects"]) == \
            (count, count - bound, bound, 0, 0), d
        rs.start()
        got = rs.wait_records("tcp", bound, timeout=15)
        fwd.wait_stats(lambda s: by_name(s, "r")["forwarded"] >= bound, timeout=5)
        cap_rc, cap_stats = cap.terminate()
        fwd_rc, fwd_stats = fwd.terminate()
    finally:
        rs.stop()

    assert [seq_of(g) for g in got] == list(range(bound)), "the first 200, in order, once"
    d = by_name(fwd_stats, "r")
    assert (d["routed"], d["forwarded"], d["dropped_full"], d["dropped_at_exit"], d["queued"]) == \
        (count, bound, count - bound, 0, 0), d
    assert (d["connects"], d["disconnects"], d["resent"]) == (1, 0, 0), d
    assert cap_stats["published"] == count
    assert cap_rc == 0 and fwd_rc == 0


# --------------------------------------------------------------------------------------------- 5. throughput

THROUGHPUT_COUNT = int(os.environ.get("SEKIWAKE_STREAM_COUNT", "200000"))
THROUGHPUT_RATE = int(os.environ.get("SEKIWAKE_STREAM_RATE", "0"))  # 0: as fast as the generator goes


class SizeWatch(threading.Thread):
    """Polls input NAME's file every 2 ms from now on: `first` is when it first grew past its size at the start,
    `done` when it reached `size` bytes (None until then)."""

    def __init__(self, rs, name, size, timeout=60):
        super().__init__(daemon=True)
        self.rs, self.name, self.size, self.timeout = rs, name, size, timeout
        self.start_size = rs.log_size(name)
        self.first = self.done = None
        self.start()

    def run(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            now, have = time.monotonic(), self.rs.log_size(self.name)
            if self.first is None and have > self.start_size:
                self.first = now
            if have >= self.size:
                self.done = now
                return
            time.sleep(0.002)

    def wait(self):
        self.join(self.timeout + 5)
        return self.done is not None


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_throughput_figure(sekiwake, tmp_path, transport):
    """Two figures, printed and saved next to tmp_path as stream-throughput-TRANSPORT.json:
    live: the generator at THROUGHPUT_RATE into capture's listener, timed from the first datagram until
    rsyslog's file holds every one; drain: the same count held in forward's queue while rsyslog is down, timed
    from the first byte rsyslog stores after its restart until it holds them all (forward -> rsyslog alone).
    Asserted: whatever capture published arrives, once, in order; nothing dropped by forward."""
    require_programs("rsyslogd", "openssl")
    require_rsyslog_tls()
    count, rate, size = THROUGHPUT_COUNT, THROUGHPUT_RATE, 200
    record = size + 5  # `<<` MSG `>>\n`
    tls = transport == "tls"
    pki = make_test_pki(tmp_path / "pki") if tls else None
    rs = RsyslogStream(tmp_path / "rsyslog", {"in": "anon" if tls else None}, pki=pki)
    figure = {"transport": transport, "messages": count, "size": size, "offered_rate": rate or "max"}
    try:
        rs.start()
        dest = {"name": "r", "url": f"{transport}://127.0.0.1:{rs.ports['in']}", "kinds": ["syslog"],
                "queue_messages": count + 1000}
        if tls:
            dest["tls_ca"] = str(pki["ca"])
        cap, fwd, port = pipeline(sekiwake, tmp_path, [dest])

        # live
        watch = SizeWatch(rs, "in", count * record)
        cpu0, rs_cpu0, t0 = proc_cpu_seconds(fwd.pid), proc_cpu_seconds(rs.pid), time.monotonic()
        send_syslog(sekiwake, port, count, rate, "--size", size, "--format", "rfc3164")
        t_sent = time.monotonic()
        published = cap.wait_stats(lambda s: s["captured_total"] + s.get("mismatched", 0) >= count,
                                   timeout=3)["published"]
        watch.size = published * record  # less if capture's listener lost datagrams (counted, printed)
        live_ok = watch.wait()
        t_all = watch.done or time.monotonic()
        figure["live"] = {
            "send_s": round(t_sent - t0, 3), "all_stored_s": round(t_all - t0, 3),
            "msgs_per_s": round(published / (t_all - t0)), "capture_lost": count - published,
            "forward_cpu_s_per_M": round((proc_cpu_seconds(fwd.pid) - cpu0) / published * 1e6, 2),
            "rsyslog_cpu_s_per_M": round((proc_cpu_seconds(rs.pid) - rs_cpu0) / published * 1e6, 2)}
        live = parse_raw_records(rs.log("in").read_bytes())

        # drain
        rs.stop()
        send_syslog(sekiwake, port, count, 0, "--size", size, "--format", "rfc3164")
        total = cap.wait_stats(lambda s: s["captured_total"] + s.get("mismatched", 0) >= 2 * count,
                               timeout=3)["published"]
        held = fwd.wait_stats(lambda s: by_name(s, "r")["routed"] >= total, timeout=10)
        queued = by_name(held, "r")["queued"]
        cpu0 = proc_cpu_seconds(fwd.pid)
        watch = SizeWatch(rs, "in", (published + queued) * record)
        rs.start()
        drain_ok = watch.wait()
        t_first, t_all = watch.first or 0, watch.done or time.monotonic()
        figure["drain"] = {
            "queued": queued, "capture_lost": 2 * count - total, "msgs_per_s": round(queued / max(t_all - t_first, 1e-3)),
            "forward_cpu_s_per_M": round((proc_cpu_seconds(fwd.pid) - cpu0) / max(queued, 1) * 1e6, 2)}
        got = parse_raw_records(rs.log("in").read_bytes())
        cap_rc, cap_stats = cap.terminate()
        fwd_rc, fwd_stats = fwd.terminate()
    finally:
        rs.stop()

    print("\nthroughput:", json.dumps(figure))
    (tmp_path.parent / f"stream-throughput-{transport}.json").write_text(json.dumps(figure))
    d = by_name(fwd_stats, "r")
    assert live_ok and drain_ok, f"rsyslog did not get everything within 60 s: {figure} {d}"
    assert len(live) == published
    seqs = [seq_of(g) for g in live]
    assert all(a < b for a, b in zip(seqs, seqs[1:])), "live: in order, each once"
    assert queued == total - published, "the queue held every message of the second run"
    drained = [seq_of(g) for g in got[len(live):]]
    assert len(drained) == queued and all(a < b for a, b in zip(drained, drained[1:])), \
        "drain: every message, in order, once"
    assert cap_stats["published"] == total
    # resent may be above 0: what forward wrote between rsyslog's exit and noticing it went again (once)
    assert (d["routed"], d["forwarded"], d["dropped_full"], d["dropped_at_exit"]) == (total, total, 0, 0), d
    assert d["connects"] == 2 and d["disconnects"] == 1, d
    assert cap_rc == 0 and fwd_rc == 0
