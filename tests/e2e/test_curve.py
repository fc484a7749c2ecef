"""CURVE on the bus: `sekiwake keygen`, a capture that lets in only the client keys of its allow-list, and a
proxy that does the same on both sides.

1. keygen writes PREFIX.key (mode 0600) and PREFIX.pub, and refuses to overwrite them without --force.
2. A capture with a secret key and an allow-list directory: a tap with an allowed key gets every datagram; a
   tap with a key not on the list and a plaintext tap get nothing, and the capture counts and logs each
   refusal (the ZAP refusal with the peer's address and key). The refused key's .pub copied into the
   directory and a SIGHUP later, a tap started again with that key gets what is sent next (libzmq does
   not retry a connection the server refused), without a restart of the capture.
3. A proxy with CURVE on both sides between a capture (`--connect`) and a tap: a forged publisher (pyzmq,
   plaintext or with a key of its own) connecting to the proxy's frontend injects nothing; the refusals are
   counted.
4. check-config reads the key files: a bad key names the configuration file, line and key, and the key
   file's line.
"""

import json
import os
import re
import signal
import stat
import time

import zmq

from helpers.bus import envelope_module
from helpers.net import drain_socket, free_port, send_udp


def tcp():
    return f"tcp://127.0.0.1:{free_port('tcp')}"


def keygen(sekiwake, prefix):
    r = sekiwake.run("keygen", "--out", prefix)
    assert r.returncode == 0, r.stderr
    return f"{prefix}.key", f"{prefix}.pub"


def public_key(pub_file):
    return [line for line in open(pub_file).read().splitlines() if line and not line.startswith("#")][0]


def bus_config(path, secret=None, server_public=None, allowed=None):
    lines = ["[bus]"]
    for key, value in (("curve_secret_key_file", secret), ("curve_server_public_key_file", server_public),
                       ("curve_allowed_clients", allowed)):
        if value is not None:
            lines.append(f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def tap_with(sekiwake, bus, config=None):
    argv = (["-c", config] if config else []) + ["--subscribe", bus]
    return sekiwake._subscriber("tap", argv, sekiwake._stats_path("tap"), None)


def test_keygen_writes_a_private_secret_key_and_refuses_to_overwrite(sekiwake, tmp_path):
    key, pub = keygen(sekiwake, tmp_path / "node")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pub).st_mode) == 0o644
    assert len(public_key(pub)) == 40
    first = public_key(pub)
    again = sekiwake.run("keygen", "--out", tmp_path / "node")
    assert again.returncode != 0 and "--force" in again.stderr
    assert public_key(pub) == first, "a refused keygen leaves the files as they were"
    assert sekiwake.run("keygen", "--out", tmp_path / "node", "--force").returncode == 0
    assert public_key(pub) != first, "--force writes a new pair"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_capture_lets_in_only_allowed_keys_and_rereads_the_list_on_sighup(sekiwake, tmp_path):
    server_key, server_pub = keygen(sekiwake, tmp_path / "capture")
    good_key, good_pub = keygen(sekiwake, tmp_path / "good")
    late_key, late_pub = keygen(sekiwake, tmp_path / "late")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "good.pub").write_text(open(good_pub).read())
    cap_cfg = bus_config(tmp_path / "cap.toml", secret=server_key, allowed=allowed)
    bus = tcp()
    port = free_port("udp")
    cap = sekiwake.capture(ports={"syslog": port}, publish=bus, config=cap_cfg)
    good = tap_with(sekiwake, bus, bus_config(tmp_path / "good.toml", good_key, server_pub))
    late = tap_with(sekiwake, bus, bus_config(tmp_path / "late.toml", late_key, server_pub))
    plain = tap_with(sekiwake, bus)
    cap.wait_stats(lambda s: s.get("curve_accepted", 0) >= 1 and s.get("curve_refused_key", 0) >= 1
                   and s.get("curve_refused_handshake", 0) >= 1, timeout=15)
    time.sleep(1.0)  # slow joiner
    first = [b"<13>curve first %d" % n for n in range(50)]
    with drain_socket(port):
        send_udp(first, "127.0.0.1", port)
        good.wait_stats(lambda s: s["received"] >= 50, timeout=15)
        time.sleep(1.0)
        assert late.stats()["received"] == 0 and plain.stats()["received"] == 0

        (allowed / "late.pub").write_text(open(late_pub).read())
        os.kill(cap.pid, signal.SIGHUP)
        assert cap.wait_stats(lambda s: s.get("curve_reloads", 0) == 1, timeout=10)["curve_reloads"] == 1
        refused_late = late
        refused_late.terminate()
        late = tap_with(sekiwake, bus, bus_config(tmp_path / "late.toml", late_key, server_pub))
        assert cap.wait_stats(lambda s: s["curve_accepted"] >= 2, timeout=15)["curve_accepted"] >= 2
        time.sleep(1.0)
        second = [b"<13>curve second %d" % n for n in range(50)]
        send_udp(second, "127.0.0.1", port)
        late.wait_stats(lambda s: s["received"] >= 50, timeout=15)
        good.wait_stats(lambda s: s["received"] >= 100, timeout=15)
    cap_rc, cap_stats = cap.terminate()
    results = {name: t.terminate() for name, t in (("good", good), ("late", late), ("plain", plain))}

    assert cap_rc == 0 and all(rc == 0 for rc, _ in results.values()), cap.output()
    texts = lambda t: [json.loads(x)["payload_text"].encode() for x in t.stdout_lines()]  # noqa: E731
    assert texts(good) == first + second
    assert texts(refused_late) == [] and texts(late) == second
    assert texts(plain) == [] and results["plain"][1]["received"] == 0
    assert cap_stats["curve_refused_key"] >= 1 and cap_stats["curve_refused_handshake"] >= 1, cap_stats
    assert cap_stats["curve_reloads"] == 1 and cap_stats["curve_reload_failures"] == 0
    log = cap.output()
    assert re.search(rf"refused 127\.0\.0\.1 with key {re.escape(public_key(late_pub))}", log), log
    assert "handshake on tcp://127.0.0.1" in log


def test_a_forged_publisher_cannot_inject_through_a_curve_proxy(sekiwake, tmp_path):
    proxy_key, proxy_pub = keygen(sekiwake, tmp_path / "proxy")
    cap_key, cap_pub = keygen(sekiwake, tmp_path / "cap")
    tap_key, tap_pub = keygen(sekiwake, tmp_path / "tap")
    allowed = tmp_path / "allowed.keys"
    allowed.write_text(f"# capture and tap\n{public_key(cap_pub)}\n{public_key(tap_pub)}\n")
    front, back = tcp(), tcp()
    proxy = sekiwake.proxy(front, back, "-c", bus_config(tmp_path / "proxy.toml", proxy_key, allowed=allowed))
    tap = tap_with(sekiwake, back, bus_config(tmp_path / "tap.toml", tap_key, proxy_pub))
    port = free_port("udp")
    cap = sekiwake.capture(ports={"syslog": port}, connect=front, wait_subscribers=1,
                           config=bus_config(tmp_path / "cap.toml", cap_key, proxy_pub))
    time.sleep(1.0)  # slow joiner

    env = envelope_module()
    ctx = zmq.Context()
    forged = []
    try:
        plain = ctx.socket(zmq.XPUB)
        keyed = ctx.socket(zmq.XPUB)
        keyed.curve_publickey, keyed.curve_secretkey = zmq.curve_keypair()
        keyed.curve_serverkey = public_key(proxy_pub).encode()
        for s in (plain, keyed):
            s.setsockopt(zmq.LINGER, 0)
            s.connect(front)
            forged.append(s)
        topic, body = env.build("syslog", 1, 0, "192.0.2.66", 514, "192.0.2.1", 514, b"<13>FORGED",
                                publisher=0xbad, sequence=0)
        real = [b"<13>real %d" % n for n in range(20)]
        with drain_socket(port):
            end = time.monotonic() + 3
            while time.monotonic() < end:
                for s in forged:
                    s.send_multipart([topic, body], zmq.NOBLOCK)
                time.sleep(0.05)
            send_udp(real, "127.0.0.1", port)
            tap.wait_stats(lambda s: s["received"] >= 20, timeout=15)
            proxy_now = proxy.wait_stats(lambda s: s.get("curve_refused_key", 0) >= 1
                                         and s.get("curve_refused_handshake", 0) >= 1, timeout=10)
    finally:
        for s in forged:
            s.close()
        ctx.term()
    cap.terminate()
    tap_rc, tap_stats = tap.terminate()
    proxy_rc, proxy_stats = proxy.terminate()
    assert tap_rc == proxy_rc == 0, proxy.output()
    got = [json.loads(x)["payload_text"].encode() for x in tap.stdout_lines()]
    assert got == real, "nothing forged, everything real"
    assert tap_stats["publishers"] == 1
    assert proxy_stats["received"] == 20, proxy_stats
    assert proxy_now["curve_accepted"] >= 2, proxy_now  # the capture and the tap


def test_check_config_reads_the_key_files(sekiwake, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("# a secret key\nnot a key at all\n")
    cfg = tmp_path / "bus.toml"
    cfg.write_text(f'[bus]\nhwm = 1000\ncurve_secret_key_file = "{bad}"\n')
    r = sekiwake.run("check-config", cfg)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"{cfg}:3: key `bus.curve_secret_key_file`" in out and f"{bad}:2:" in out, out
