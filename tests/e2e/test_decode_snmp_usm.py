"""`sekiwake decode` on SNMPv3 traps made by net-snmp's snmptrap with every authentication and privacy algorithm it
offers, checked against what was sent and against tshark; then the USM failures: each named on stderr with its
reason, user and engine, and counted by reason.

snmptrap is given the engine boots and time (`-Z`), so the time window is under the test's control: the
algorithm traps come from one engine with its time rising by one second per trap, the window cases from engines
of their own.

Also: a manager's requests sent to a trap port decode as `pdu` records, and a community that is not UTF-8 is
kept in hex.
"""

import itertools
import os
import socket
import subprocess
import time

import pytest

from decode_oracle import decode_with_log, dicts_with, tshark_json
from helpers.gating import require_programs, require_root, require_sekiwake
from helpers.net import free_port
from helpers.snmp import NO_MIBS_ENV, snmptrap
from helpers.tshark import PacketCapture

# What `snmptrap -h` lists (net-snmp 5.9.3), and the Cisco key-extension variants it also takes.
AUTHS = ["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]
PRIVS = [None, "DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"]
ENGINE = "0x80000000aa00000001"
AUTHPASS, PRIVPASS = "authpass123", "privpass123"
TRAP_OID = "1.3.6.1.4.1.99999.0.7"
VARBINDS = [("1.3.6.1.4.1.99999.7.1", "s", "hello"), ("1.3.6.1.4.1.99999.7.2", "c", 4000000000),
            ("1.3.6.1.4.1.99999.7.3", "x", "00ff10")]
WANT_VARBINDS = [("1.3.6.1.4.1.99999.7.1", "octet-string", "hello", False),
                 ("1.3.6.1.4.1.99999.7.2", "counter32", 4000000000, False),
                 ("1.3.6.1.4.1.99999.7.3", "octet-string", "00ff10", True)]
MATRIX = list(itertools.product(AUTHS, PRIVS))
HASH_LEN = {"MD5": 16, "SHA": 20, "SHA-224": 28, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64}
KEY_LEN = {"AES-192": 24, "AES-256": 32}


def ours(name):
    """net-snmp's algorithm name as ours: lower case without dashes (SHA-224 -> sha224, AES-192-C -> aes192c)."""
    return name.lower().replace("-", "")


def user_name(auth, priv):
    return f"u_{ours(auth)}_{ours(priv) if priv else 'nopriv'}"


def flag(name, auth, authpass, priv=None, privpass=None, engine=None):
    fields = [name, ours(auth), authpass, ours(priv) if priv else "", privpass or ""]
    if engine:
        fields.append(engine)
    return ":".join(fields).rstrip(":")


def tshark_user(name, auth, authpass, priv, privpass, engine):
    """A row of tshark's snmp_users table; DES with an empty password stands for no privacy."""
    t_auth = {"MD5": "MD5", "SHA": "SHA1"}.get(auth, auth.replace("SHA-", "SHA2-"))
    t_priv = {None: "DES"}.get(priv, (priv or "").replace("-C", "").replace("-", ""))
    return f'uat:snmp_users:{engine[2:]},"{name}","{t_auth}","{authpass}","{t_priv}","{privpass or ""}"'


def source(i):
    return f"127.0.3.{i + 1}"


# The failure cases: (name, what snmptrap sends, the users decode gets, reason, log text). Each sender has its own
# engine (and source address) unless the case is about the time window of one engine.
E_BOUND, E_OTHER, E_CLOCK = "0x80000000bb00000001", "0x80000000bb00000002", "0x80000000bb00000003"
E_TWO = "0x80000000bb00000004"
SENDS = [
    # (label, user, auth, authpass, priv, privpass, engine, boots, time)
    ("bound", "ops", "SHA-256", "opspass-a1", "AES", "opspriv-a1", E_BOUND, 3, 100),
    ("bound-two", "ops", "SHA-512", "opspass-b1", "AES-256-C", "opspriv-b1", E_TWO, 3, 100),
    ("other-engine", "ops", "SHA-256", "opspass-a1", "AES", "opspriv-a1", E_OTHER, 3, 100),
    ("unknown-user", "stranger", "SHA", AUTHPASS, None, None, E_OTHER, 3, 101),
    ("wrong-password", "alice", "SHA-384", "alicepass9", None, None, E_OTHER, 3, 102),
    ("wrong-auth-protocol", "bob", "SHA-512", "bobpass123", None, None, E_OTHER, 3, 103),
    ("wrong-priv", "carol", "SHA", "carolpass1", "AES-192", "carolpriv1", E_OTHER, 3, 104),
    ("no-priv-key", "dave", "MD5", "davepass12", "DES", "davepriv12", E_OTHER, 3, 105),
    ("clock-first", "eve", "SHA", "evepass123", None, None, E_CLOCK, 5, 1000),
    ("clock-behind", "eve", "SHA", "evepass123", None, None, E_CLOCK, 5, 700),
    ("clock-old-boots", "eve", "SHA", "evepass123", None, None, E_CLOCK, 4, 5000),
    ("clock-reboot", "eve", "SHA", "evepass123", None, None, E_CLOCK, 6, 2),
]
USERS = [
    flag("ops", "SHA-256", "opspass-a1", "AES", "opspriv-a1", E_BOUND),
    flag("ops", "SHA-512", "opspass-b1", "AES-256-C", "opspriv-b1", E_TWO),
    flag("alice", "SHA-384", "alicepass0"),  # one character off
    flag("bob", "SHA-256", "bobpass123"),  # SHA-512 sent: 48-byte MAC, SHA-256 makes 24
    flag("carol", "SHA", "carolpass1", "AES-192-C", "carolpriv1"),  # the other key extension (SHA-1 is too short)
    flag("dave", "MD5", "davepass12"),  # no privacy key
    flag("eve", "SHA", "evepass123"),
]
FAILS = {  # label -> (counter reason, log text)
    "other-engine": ("unknown_engine", "USM user not configured for this engine"),
    "unknown-user": ("unknown_user", "unknown USM user"),
    "wrong-password": ("wrong_digest", "authentication failed"),
    "wrong-auth-protocol": ("wrong_auth_protocol", "unsupported authentication"),
    "wrong-priv": ("decryption_failed", "decryption failed"),
    "no-priv-key": ("no_key", "no key for the message's security level"),
    "clock-behind": ("not_in_time_window", "not in time window"),
    "clock-old-boots": ("not_in_time_window", "not in time window"),
}


def send(port, i, user, auth, authpass, priv, privpass, engine, boots, secs):
    usm = (user, auth, authpass, priv, privpass)
    extra = ["-Z", f"{boots},{secs}"]
    out = snmptrap(port, "3", VARBINDS, trap_oid=TRAP_OID, clientaddr=source(i), usm=usm, extra=extra,
                   engine=engine)
    assert out.returncode == 0, f"{user} {auth}/{priv}: {out.stdout}{out.stderr}"


@pytest.fixture(scope="module")
def usm_pcap(tmp_path_factory):
    """(pcap, port): the algorithm matrix, then the failure cases, each trap from its own source address."""
    require_root()
    require_programs("snmptrap", "tcpdump", "tshark")
    require_sekiwake()
    work = tmp_path_factory.mktemp("snmp-usm")
    port = free_port("udp")
    cap = PacketCapture(work, f"udp and dst port {port}", name="usm")
    try:
        cap.start()
        for i, (auth, priv) in enumerate(MATRIX):
            send(port, i, user_name(auth, priv), auth, AUTHPASS, priv, priv and PRIVPASS, ENGINE, 1, 100 + i)
        for j, (_, *args) in enumerate(SENDS):
            send(port, len(MATRIX) + j, *args)
        time.sleep(0.3)
    finally:
        cap.stop()
    return cap.pcap, port


def matrix_users():
    return [flag(user_name(a, p), a, AUTHPASS, p, p and PRIVPASS) for a, p in MATRIX]


def test_every_algorithm_netsnmp_offers_decodes(usm_pcap):
    pcap, port = usm_pcap
    users = matrix_users() + USERS
    records, summary, log = decode_with_log(pcap, {"snmptrap": port}, *[a for u in users for a in ("--snmp-user", u)])
    by_source = {r["exporter"]: r for r in records}
    assert summary["datagrams"] == len(MATRIX) + len(SENDS), summary

    # tshark, given the same users, authenticates and decrypts the same traps. Wireshark 4.0 extends AES-192/256
    # keys the Cisco way only (its AES192/AES256 are net-snmp's AES-192-C/AES-256-C): net-snmp's own extension it
    # cannot follow, so where that extension is needed (a hash shorter than the key) net-snmp alone is the oracle.
    t_users = [tshark_user(user_name(a, p), a, AUTHPASS, p, p and PRIVPASS, ENGINE) for a, p in MATRIX]
    frames = {f["ip"]["ip.src"]: f for f in tshark_json(pcap, [f"udp.port=={port},snmp"],
                                                          *[x for u in t_users for x in ("-o", u)])}
    for i, (auth, priv) in enumerate(MATRIX):
        what = f"{auth}/{priv}"
        r = by_source.get(source(i))
        assert r is not None, f"{what}: no record\n{log}"
        assert (r["record"], r["pdu"], r["version"]) == ("trap", "trap", "3"), what
        assert (r["user"], r["engine_id"]) == (user_name(auth, priv), ENGINE[2:]), what
        assert r["security_level"] == ("authPriv" if priv else "authNoPriv"), what
        assert (r["engine_boots"], r["engine_time"]) == (1, 100 + i), what
        assert r["trap_oid"] == TRAP_OID, what
        got = [(v["oid"], v["type"], v["value"], v.get("hex", False)) for v in r["varbinds"][2:]]
        assert got == WANT_VARBINDS, what

        frame = frames[source(i)]
        tree = dicts_with(frame, "snmp.variable_bindings_tree")
        if priv in ("AES-192", "AES-256") and HASH_LEN[auth] < KEY_LEN[priv]:
            # tshark's plaintext is noise; when the noise looks like BER it stops at "malformed" before saying
            # whether the digest was right, so only its failure to decrypt is certain
            assert not tree, f"tshark follows net-snmp's key extension for {what}: use it as the oracle"
            continue
        assert dicts_with(frame, "snmp.authentication_ok"), f"tshark does not authenticate {what}"
        assert tree, f"tshark does not decrypt {what}"
        their = [(vb["snmp.name"], vb) for vb in tree[0]["snmp.variable_bindings_tree"].values()]
        assert [name for name, _ in their] == [v["oid"] for v in r["varbinds"]], what
        assert their[2][1]["snmp.value.octets"].replace(":", "") == b"hello".hex(), what
        assert int(their[3][1]["snmp.value.counter"]) == 4000000000, what


def test_usm_failures_name_reason_user_and_engine(usm_pcap):
    pcap, port = usm_pcap
    records, summary, log = decode_with_log(pcap, {"snmptrap": port}, *[a for u in USERS for a in ("--snmp-user", u)])
    decoded = {r["exporter"] for r in records}
    labels = [s[0] for s in SENDS]
    for j, (label, user, *_rest) in enumerate(SENDS):
        engine = _rest[-3]
        src = source(len(MATRIX) + j)
        if label in FAILS:
            reason, text = FAILS[label]
            assert src not in decoded, f"{label}: decoded"
            lines = [line for line in log.splitlines() if f"from {src}:" in line]
            assert len(lines) == 1, f"{label}: {log}"
            assert text in lines[0] and f'user "{user}"' in lines[0] and f"engine {engine}" in lines[0], lines[0]
        else:
            assert src in decoded, f"{label}: no record\n{log}"
    # the two engines' "ops" decode each with its own passwords
    ops = [r for r in records if r["user"] == "ops"]
    assert sorted(r["engine_id"] for r in ops) == sorted([E_BOUND[2:], E_TWO[2:]])
    assert all(r["varbinds"][2]["value"] == "hello" for r in ops)

    # the matrix traps have no user here: each one is an unknown user
    counts = summary["records"]["snmp_usm_errors"]
    want = {k: 0 for k in counts}
    want["unknown_user"] = len(MATRIX)
    for label in labels:
        if label in FAILS:
            want[FAILS[label][0]] += 1
    assert counts == want, summary
    assert summary["records"]["snmp_usm_failed"] == sum(want.values())
    assert summary["records"]["malformed"] == sum(want.values())
    assert summary["records"]["records"] == len(SENDS) - len(FAILS)


# ------------------------------------------------------------------------------------------ other PDUs

OTHER_PDUS = [  # (program, version, our pdu name, tshark's PDU element)
    ("snmpget", "1", "get", "snmp.get_request_element"),
    ("snmpget", "2c", "get", "snmp.get_request_element"),
    ("snmpgetnext", "2c", "getnext", "snmp.get_next_request_element"),
    ("snmpbulkget", "2c", "getbulk", "snmp.getBulkRequest_element"),
]


def test_other_pdus_on_a_trap_port_are_pdu_records(tmp_path):
    """A manager's requests sent to a trap port are classified as snmptrap and decode as `pdu` records (nobody
    answers; each tool sends once, `-r 0`)."""
    require_root()
    require_programs("snmpget", "snmpgetnext", "snmpbulkget", "tcpdump", "tshark")
    require_sekiwake()
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name="pdus")
    env = dict(os.environ, **NO_MIBS_ENV)
    try:
        cap.start()
        for i, (prog, version, _, _) in enumerate(OTHER_PDUS):
            argv = [prog, "-v", version, "-c", "pub\\xfflic" if i == 1 else "public", "-r", "0", "-t", "0.3",
                    f"--clientaddr={source(200 + i)}", f"udp:127.0.0.1:{port}", "1.3.6.1.2.1.1.5.0"]
            subprocess.run(argv, capture_output=True, text=True, timeout=10, env=env)
        time.sleep(0.3)
    finally:
        cap.stop()
    records, summary, log = decode_with_log(cap.pcap, {"snmptrap": port})
    assert summary["skipped"] == 0 and summary["records"]["malformed"] == 0, log
    frames = tshark_json(cap.pcap, [f"udp.port=={port},snmp"])
    assert len(records) == len(frames) == len(OTHER_PDUS), log
    for r, frame, (prog, version, pdu, element) in zip(records, frames, OTHER_PDUS):
        assert (r["record"], r["pdu"], r["version"]) == ("pdu", pdu, version), r
        assert dicts_with(frame["snmp"], element), f"{prog}: tshark sees another PDU"
        assert r["request_id"] == int(dicts_with(frame["snmp"], "snmp.request_id")[0]["snmp.request_id"])
        assert [v["oid"] for v in r["varbinds"]] == ["1.3.6.1.2.1.1.5.0"]
        assert r["varbinds"][0]["type"] == "null"
    # a community that is not UTF-8 (sent below by scapy, as no net-snmp tool sends raw bytes) is kept in hex


def test_a_community_that_is_not_utf8_is_hex(tmp_path):
    require_root()
    require_programs("tcpdump", "tshark")
    require_sekiwake()
    from scapy.layers.snmp import SNMP, SNMPtrapv2, SNMPvarbind
    from scapy.asn1.asn1 import ASN1_OID, ASN1_TIME_TICKS
    community = b"pub\xfflic\x01"
    trap = SNMP(version=1, community=community, PDU=SNMPtrapv2(id=7, varbindlist=[
        SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.3.0"), value=ASN1_TIME_TICKS(5)),
        SNMPvarbind(oid=ASN1_OID("1.3.6.1.6.3.1.1.4.1.0"), value=ASN1_OID("1.3.6.1.6.3.1.1.5.1"))]))
    port = free_port("udp")
    cap = PacketCapture(tmp_path, f"udp and dst port {port}", name="community")
    try:
        cap.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(bytes(trap), ("127.0.0.1", port))
        time.sleep(0.3)
    finally:
        cap.stop()
    records, summary, log = decode_with_log(cap.pcap, {"snmptrap": port})
    (frame,) = tshark_json(cap.pcap, [f"udp.port=={port},snmp"])
    assert len(records) == 1, log
    r = records[0]
    assert (r["record"], r["version"], r["trap_oid"]) == ("trap", "2c", "1.3.6.1.6.3.1.1.5.1")
    assert (r["community"], r["community_hex"]) == (community.hex(), True)
    # tshark replaces the byte that is not UTF-8 (what sekiwake did before); the hex keeps every byte
    assert frame["snmp"]["snmp.community"] == community.decode("utf-8", errors="replace")
