"""Dropped privileges: capture and forward open their privileged sockets as root, then run as `--user nobody`
(`run.user`), keeping only what they still need.

1. capture --user nobody on lo: the running process's uid and gid are nobody's, it has no capability at all
   (permitted, effective, inheritable, ambient), and it still captures and publishes.
2. forward --user nobody with a spoofing destination keeps CAP_NET_RAW alone (a reload may open another raw
   socket) and relays with the exporter's address; without one it keeps nothing.
3. A user that does not exist is refused before anything runs.
"""

import json
import pwd
import time

from helpers.net import drain_socket, free_port, send_udp
from helpers.proc import wait_until
from relay_peers import Receivers

CAP_NET_RAW = 1 << 13


def status(pid):
    """uid/gid lists and capability sets of a running process, from /proc/PID/status."""
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return {
        "uid": [int(v) for v in fields["Uid"]],
        "gid": [int(v) for v in fields["Gid"]],
        "groups": [int(v) for v in fields.get("Groups", [])],
        **{k: int(fields[k][0], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")},
    }


def dropped(proc):
    wait_until(lambda: "running as nobody" in proc.output(), 15)
    return status(proc.pid)


def test_capture_runs_as_nobody_without_capabilities_and_still_captures(sekiwake, tmp_path):
    nobody = pwd.getpwnam("nobody")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    port = free_port("udp")
    tap = sekiwake.tap(bus, "syslog", stats=True)
    cap = sekiwake.capture("--user", "nobody", ports={"syslog": port}, publish=bus, stats=False,
                           wait_subscribers=1, wait_ready=False)
    cap.wait_ready_capturing()
    s = dropped(cap)
    assert s["uid"] == [nobody.pw_uid] * 4 and s["gid"] == [nobody.pw_gid] * 4, s
    assert s["groups"] in ([], [nobody.pw_gid]), s
    assert (s["CapPrm"], s["CapEff"], s["CapInh"], s["CapAmb"]) == (0, 0, 0, 0), s
    time.sleep(1.0)  # slow joiner
    payloads = [b"<13>as nobody %d" % n for n in range(20)]
    with drain_socket(port):
        send_udp(payloads, "127.0.0.1", port)
        tap.wait_stats(lambda st: st["received"] >= 20, timeout=15)
    cap_rc, _ = cap.terminate()
    tap.terminate()
    assert cap_rc == 0, cap.output()
    assert [json.loads(x)["payload_text"].encode() for x in tap.stdout_lines()] == payloads


def test_forward_keeps_cap_net_raw_only_for_spoofing(sekiwake, tmp_path):
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    port = free_port("udp")
    with Receivers(["spoofed", "plain"]) as rx:
        spoofing = sekiwake.forward(bus, {"syslog": rx.url("spoofed", spoof=True)}, "--user", "nobody",
                                    stats=False)
        plain = sekiwake.forward(bus, {"syslog": rx.url("plain")}, "--user", "nobody", stats=False)
        spoof_status, plain_status = dropped(spoofing), dropped(plain)
        cap = sekiwake.capture(ports={"syslog": port}, publish=bus, wait_subscribers=2)
        time.sleep(1.0)  # slow joiner
        with drain_socket(port):
            send_udp([b"<13>relayed by nobody"], "127.0.0.1", port, src="127.0.0.77")
            rx.settle(expected_total=2)
        cap.terminate()
        assert spoofing.terminate()[0] == 0 and plain.terminate()[0] == 0
    assert spoof_status["CapPrm"] == spoof_status["CapEff"] == CAP_NET_RAW, spoof_status
    assert spoof_status["CapInh"] == spoof_status["CapAmb"] == 0
    assert (plain_status["CapPrm"], plain_status["CapEff"]) == (0, 0), plain_status
    assert spoof_status["uid"][0] == plain_status["uid"][0] == pwd.getpwnam("nobody").pw_uid
    assert [(src, data) for src, _, data in rx.got["spoofed"]] == [("127.0.0.77", b"<13>relayed by nobody")]
    assert [data for *_, data in rx.got["plain"]] == [b"<13>relayed by nobody"]


def test_an_unknown_user_is_refused(sekiwake, tmp_path):
    r = sekiwake.run("forward", "--subscribe", "tcp://127.0.0.1:9", "--to", "syslog=udp://127.0.0.1:9",
                     "--user", "no-such-user-e2e", "--duration", "1")
    assert r.returncode != 0 and "no user no-such-user-e2e" in r.stderr, r.stderr
