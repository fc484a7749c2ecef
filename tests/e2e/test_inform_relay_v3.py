"""SNMPv3 informs: capture's listener is the authoritative engine they are sent to (`--snmp-engine-id`,
`--snmp-user`), and forward delivers each to every receiver as an SNMPv3 inform of that receiver's own user,
after discovering its engine ID. Real peers: net-snmp's snmpinform as the sender, two snmptrapd receivers with
engine IDs and users of their own.

1. Every algorithm pair: the sender is acknowledged on its first try (`-r 0`), each receiver logs each inform
   once; a receiver that starts late gets what was held for it.
2. USM failures (wrong password, unknown user) are answered with the Report snmpinform names, counted by reason,
   and never relayed."""

import subprocess
import time

from helpers.gating import require_programs
from helpers.net import UdpSink, free_port
from helpers.snmp import NO_MIBS_ENV, Snmptrapd
from test_inform_relay import by_name, listener_relay, snmp_destinations

ENGINE = "0x80001f8804736b7731"  # capture's: 80001f8804 || "skw1"
TRAP_OID = "1.3.6.1.6.3.1.1.5.3"
VALUE_OID = "1.3.6.1.4.1.99999.1"
AUTHPASS, PRIVPASS = "authpass123", "privpass123"
# (user, auth, priv): what senders use towards capture
SENDERS = [("s_md5", "MD5", None), ("s_sha_aes", "SHA", "AES"), ("s_sha256_des", "SHA-256", "DES"),
           ("s_sha512_aes256", "SHA-512", "AES-256"), ("s_sha224_aes192", "SHA-224", "AES-192")]


def ours(name):
    return name.lower().replace("-", "")


def user_flag(user, auth, priv):
    """capture's / forward's NAME:AUTH:AUTHPASS[:PRIV:PRIVPASS]."""
    spec = f"{user}:{ours(auth)}:{AUTHPASS}"
    return spec + (f":{ours(priv)}:{PRIVPASS}" if priv else "")


def v3_receiver(workdir, engine_id, user, auth, priv):
    """snmptrapd with its own engine ID and one user for the informs sent to it."""
    r = Snmptrapd(workdir)
    line = f"createUser {user} {auth} {AUTHPASS}" + (f" {priv} {PRIVPASS}" if priv else "")
    with open(r.conf, "a") as f:
        f.write(f"exactEngineID {engine_id}\n{line}\n")
    return r


def snmpinform_v3(port, user, auth, priv, value, authpass=AUTHPASS):
    """One inform, no retry (`-r 0`): exit 0 only if the first try was acknowledged. No `-e`: the sender
    discovers the engine ID as snmpinform does by default."""
    argv = ["snmpinform", "-v", "3", "-u", user, "-a", auth, "-A", authpass,
            "-l", "authPriv" if priv else "authNoPriv", "-r", "0", "-t", "3"]
    if priv:
        argv += ["-x", priv, "-X", PRIVPASS]
    argv += [f"udp:127.0.0.1:{port}", "", TRAP_OID, VALUE_OID, "s", value]
    return subprocess.run(argv, capture_output=True, text=True, timeout=15, env={**NO_MIBS_ENV, "PATH": "/usr/bin:/bin"})


def test_v3_informs_are_acknowledged_first_try_and_delivered_once_to_each_receiver(sekiwake, tmp_path):
    require_programs("snmpinform", "snmptrapd")
    first = v3_receiver(tmp_path / "r1", "0x80001f8804726563763031", "r_sha256_aes", "SHA-256", "AES").start()
    late = v3_receiver(tmp_path / "r2", "0x80001f8804726563763032", "r_md5_des", "MD5", "DES")
    conf = snmp_destinations(
        tmp_path / "forward.toml",
        {"name": "first", "url": f"udp://127.0.0.1:{first.port}",
         "snmp_user": user_flag("r_sha256_aes", "SHA-256", "AES")},
        {"name": "late", "url": f"udp://127.0.0.1:{late.port}", "snmp_user": user_flag("r_md5_des", "MD5", "DES"),
         "inform_timeout_ms": 500})
    users = [a for s in SENDERS for a in ("--snmp-user", user_flag(*s))]
    port, cap, fwd = listener_relay(sekiwake, config=conf, capture_args=["--snmp-engine-id", ENGINE, *users])
    try:
        sent = [snmpinform_v3(port, user, auth, priv, f"v3-{user}") for user, auth, priv in SENDERS]
        logged_first = first.wait_traps(len(SENDERS))
        late.start()  # the informs held for it (its engine was never heard) go once it answers a probe
        logged_late = late.wait_traps(len(SENDERS))
        stats = fwd.wait_stats(lambda st: all(by_name(st, n)["informs_acknowledged"] >= len(SENDERS)
                                              for n in ("first", "late")), timeout=15)
    finally:
        first.stop()
        late.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, stats = fwd.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert all(r.returncode == 0 for r in sent), [(r.args[4:6], r.stderr) for r in sent]
    for logged in (logged_first, logged_late):
        values = sorted(line.split('STRING: "')[1].rstrip('"') for line in logged)
        assert values == sorted(f"v3-{u}" for u, _, _ in SENDERS), logged
    n = len(SENDERS)
    assert (cap_stats["informs_received"], cap_stats["informs_acknowledged"], cap_stats["informs_duplicate"],
            cap_stats["published"]) == (n, n, 0, n), cap_stats
    # each snmpinform run discovers capture's engine first
    assert cap_stats["snmp_engine_refused"] == {"discovery": n}, cap_stats
    assert cap_stats["captured_total"] == cap_stats["published"] + n, "conservation"
    for name in ("first", "late"):
        d = by_name(stats, name)
        assert (d["informs_sent"], d["informs_acknowledged"], d["informs_given_up"], d["informs_in_flight"]) == \
            (n, n, 0, 0), d
        assert d["responses"] >= n, d
        assert d["engine_probes"] >= 1 and d["reports"] >= 1, d
    assert by_name(stats, "first")["informs_held"] >= 1, "the first inform waits for discovery"
    late_d = by_name(stats, "late")
    assert late_d["informs_held"] == n and late_d["engine_probes"] >= 2, late_d


def test_v3_usm_failures_are_reported_to_the_sender_counted_and_never_relayed(sekiwake, tmp_path):
    require_programs("snmpinform", "snmptrapd")
    receiver = v3_receiver(tmp_path / "r", "0x80001f8804726563763033", "r_sha", "SHA", None).start()
    port, cap, fwd = listener_relay(
        sekiwake, {"snmptrap": f"udp://127.0.0.1:{receiver.port}"},
        capture_args=["--snmp-engine-id", ENGINE, "--snmp-user", user_flag("s_sha_aes", "SHA", "AES")])
    try:
        wrong = snmpinform_v3(port, "s_sha_aes", "SHA", "AES", "wrong", authpass="otherpass1")
        stranger = snmpinform_v3(port, "nobody", "SHA", "AES", "stranger")
        time.sleep(1.0)
    finally:
        receiver.stop()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert wrong.returncode != 0 and "Authentication failure" in wrong.stderr, wrong.stderr
    assert stranger.returncode != 0 and "Unknown user name" in stranger.stderr, stranger.stderr
    assert cap_stats["snmp_engine_refused"] == {"discovery": 2, "wrong_digest": 1, "unknown_user": 1}, cap_stats
    assert cap_stats["snmp_engine_reports"] == 4 and cap_stats["published"] == 0, cap_stats
    assert receiver.traps() == []
    assert "snmp_engine_wrong_digest=1" in cap.output()


def test_v3_informs_go_as_v3_traps_from_forwards_engine_or_as_v2c_traps_where_so_configured(sekiwake, tmp_path):
    """`informs = "trap"`: with snmp_user, an SNMPv3 trap from the engine `snmp_engine_id` (the receiver binds
    the user to it with `createUser -e`); without, a v2c trap with the destination's community."""
    require_programs("snmpinform", "snmptrapd")
    forward_engine = "0x80001f8804666f727731"
    v3 = Snmptrapd(tmp_path / "v3")
    with open(v3.conf, "a") as f:
        f.write(f"createUser -e {forward_engine} t_sha512_aes SHA-512 {AUTHPASS} AES {PRIVPASS}\n")
    v3.start()
    sink = UdpSink(tmp_path / "sink", count=1, timeout=15).start()
    conf = snmp_destinations(
        tmp_path / "forward.toml",
        {"name": "v3-trap", "url": f"udp://127.0.0.1:{v3.port}", "informs": "trap",
         "snmp_user": user_flag("t_sha512_aes", "SHA-512", "AES"), "snmp_engine_id": forward_engine},
        {"name": "v2c-trap", "url": sink.url, "informs": "trap", "community": "relayed"})
    port, cap, fwd = listener_relay(sekiwake, config=conf, capture_args=[
        "--snmp-engine-id", ENGINE, "--snmp-user", user_flag("s_sha_aes", "SHA", "AES")])
    try:
        sent = snmpinform_v3(port, "s_sha_aes", "SHA", "AES", "as-a-trap")
        logged = v3.wait_traps(1)
        got = sink.results()
    finally:
        v3.stop()
    cap_rc, _ = cap.terminate()
    fwd_rc, stats = fwd.terminate()

    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()
    assert sent.returncode == 0, sent.stderr
    assert len(logged) == 1 and 'STRING: "as-a-trap"' in logged[0], logged
    [(_, _, trap)] = got
    body = 2 if trap[1] < 0x80 else 2 + (trap[1] & 0x7f)  # after the message's SEQUENCE header
    head = b"\x02\x01\x01" + b"\x04\x07relayed" + b"\xa7"  # version 2c, the community, a Trap PDU
    assert trap[0] == 0x30 and trap[body:body + len(head)] == head, trap.hex()
    assert b"as-a-trap" in trap
    for name in ("v3-trap", "v2c-trap"):
        d = by_name(stats, name)
        assert (d["forwarded"], d["informs_sent"], d["rewritten"]) == (1, 0, 0), d
