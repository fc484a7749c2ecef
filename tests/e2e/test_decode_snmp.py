"""`sekiwake decode` against tshark on SNMP notifications made by net-snmp's snmptrap and snmpinform.

One capture holds two v1 traps (enterprise-specific and generic), a v2c trap, a v2c inform, and v3 traps at every
security level: noAuthNoPriv, authNoPriv with SHA and with MD5, authPriv with SHA and AES. Each carries bindings
of every type the net-snmp command line makes. tshark decodes the same file (checking digests and decrypting
with the same users) and both must agree field by field; where they differ on purpose, the test says why.

Everything goes to a real snmptrapd, because an inform wants an answer: snmptrapd acknowledges it, and
snmpinform runs without retries (`-r 0`), so the capture holds exactly one copy of it and a missing
acknowledgement fails the send. Against a port that never answers, snmpinform would resend the same request-id
until it gives up, seconds later, and the copies would have to be told apart. The capture keeps only datagrams
to the trap port, so snmptrapd's response is not in the file.
"""

import datetime
import time

import pytest

from decode_oracle import decode, decode_with_log, dicts_with, first, tshark_json
from helpers.gating import require_programs, require_root, require_sekiwake
from helpers.snmp import SNMP_ENGINE_ID, Snmptrapd, snmptrap
from helpers.tshark import PacketCapture

ENGINE_HEX = SNMP_ENGINE_ID[2:].lower()
BASE = "1.3.6.1.4.1.99999.7"
ENTERPRISE = "1.3.6.1.4.1.8072.2.3"

# (net-snmp type letter, value on the command line, our type, our value, our hex flag)
COMMON = [
    ("s", "hello world", "octet-string", "hello world", False),
    ("s", "caf\u00e9 \u2713", "octet-string", "caf\u00e9 \u2713", False),
    ("s", "", "octet-string", "", False),
    ("i", -42, "integer", -42, False),
    ("i", 2147483647, "integer", 2147483647, False),
    ("o", "1.3.6.1.4.1.99999.9.8.7", "oid", "1.3.6.1.4.1.99999.9.8.7", False),
    ("a", "192.0.2.7", "ip-address", "192.0.2.7", False),
    ("c", 4000000000, "counter32", 4000000000, False),
    ("u", 77, "gauge32", 77, False),  # Unsigned32 and Gauge32 share one tag (RFC 2578 7.1.11)
    ("t", 4294967295, "timeticks", 4294967295, False),
    ("x", "00ff10", "octet-string", "00ff10", True),  # not UTF-8: hex
    ("x", "48690a", "octet-string", "Hi\n", False),  # printable UTF-8 with a line feed: text
    ("x", "0141", "octet-string", "0141", True),  # UTF-8 but with a control character: hex
]
# Counter64 and NULL values exist from SNMPv2 on; net-snmp wraps its 64-bit and float types in Opaque.
V2_ONLY = [
    ("C", 18446744073709551615, "counter64", 18446744073709551615, False),
    ("n", "", "null", None, False),
    ("F", 1.5, "opaque", "9f78043fc00000", True),
]

# The v3 users: (name, auth, authpass, priv, privpass); the authPriv one is snmptrapd's (helpers.snmp.SNMP_*).
NOAUTH = ("nouser", None, None, None, None)
SHA = ("shauser", "SHA", "shaauth123", None, None)
MD5 = ("md5user", "MD5", "md5auth123", None, None)
PRIV = ("tuser", "SHA", "authpass123", "AES", "privpass123")
LEVELS = {NOAUTH: "noAuthNoPriv", SHA: "authNoPriv", MD5: "authNoPriv", PRIV: "authPriv"}


def our_user(u):
    """A user as `--snmp-user NAME:sha|md5:AUTHPASS[:aes:PRIVPASS]`."""
    name, auth, authpass, priv, privpass = u
    return ":".join([name, auth.lower(), authpass] + ([priv.lower(), privpass] if priv else []))


def tshark_user(u):
    """A user as a line of tshark's snmp_users table (the engine id is hex, unquoted; quoted it matches
    nothing).  Every row names a privacy protocol: DES with an empty password stands for none."""
    if isinstance(u, str):  # our NAME:sha|md5:AUTHPASS[:aes:PRIVPASS]
        name, auth, authpass, priv, privpass = (u.split(":") + [None, None])[:5]
        u = (name, auth.upper(), authpass, priv and priv.upper(), privpass)
    name, auth, authpass, priv, privpass = u
    return (f'uat:snmp_users:{ENGINE_HEX},"{name}","{"SHA1" if auth == "SHA" else auth}","{authpass}",'
            f'"{priv or "DES"}","{privpass or ""}"')


OUR_USERS = [our_user(u) for u in (SHA, MD5, PRIV)]

NOTIFICATIONS = [
    dict(name="v1-enterprise", version="1", generic=6, specific=17, varbinds=COMMON),
    dict(name="v1-linkdown", version="1", generic=2, specific=0, varbinds=COMMON[:4]),
    dict(name="v2c-trap", version="2c", trap_oid="1.3.6.1.6.3.1.1.5.4", varbinds=COMMON + V2_ONLY),
    dict(name="v2c-inform", version="2c", inform=True, community="private", trap_oid="1.3.6.1.6.3.1.1.5.5",
         varbinds=COMMON + V2_ONLY),
    dict(name="v3-noauth", version="3", usm=NOAUTH, trap_oid="1.3.6.1.4.1.99999.0.1", varbinds=COMMON + V2_ONLY),
    dict(name="v3-sha", version="3", usm=SHA, trap_oid="1.3.6.1.4.1.99999.0.2", varbinds=COMMON + V2_ONLY),
    dict(name="v3-md5", version="3", usm=MD5, trap_oid="1.3.6.1.4.1.99999.0.3", varbinds=COMMON + V2_ONLY),
    dict(name="v3-authpriv", version="3", usm=PRIV, trap_oid="1.3.6.1.4.1.99999.0.4", varbinds=COMMON + V2_ONLY,
         context=("e2e-context", "80000000aabbccdd")),
]


def source(i):
    """Each notification leaves from its own address, so exporters tell them apart."""
    return f"127.0.0.{40 + i}"


def oid_of(k):
    return f"{BASE}.{k + 1}"


@pytest.fixture(scope="module")
def snmp_pcap(tmp_path_factory):
    """(pcap, port) of all NOTIFICATIONS, each acknowledged or accepted by net-snmp."""
    require_root()
    require_programs("snmptrap", "snmpinform", "snmptrapd", "tcpdump", "tshark")
    require_sekiwake()
    work = tmp_path_factory.mktemp("snmp")
    trapd = Snmptrapd(work / "snmptrapd")  # picks its free port now, starts below
    cap = PacketCapture(work, f"udp and dst port {trapd.port}", name="snmp")
    try:
        trapd.start()
        cap.start()
        for i, n in enumerate(NOTIFICATIONS):
            vbs = [(oid_of(k), letter, value) for k, (letter, value, *_) in enumerate(n["varbinds"])]
            out = snmptrap(trapd.port, n["version"], vbs, trap_oid=n.get("trap_oid", ""),
                           community=n.get("community", "public"), clientaddr=source(i), enterprise=ENTERPRISE,
                           generic=n.get("generic", 6), specific=n.get("specific", 0),
                           inform=n.get("inform", False), usm=n.get("usm"),
                           extra=["-n", n["context"][0], "-E", "0x" + n["context"][1]] if "context" in n else ())
            assert out.returncode == 0, f"{n['name']}: {out.stdout}{out.stderr}"
        time.sleep(0.3)
    finally:
        cap.stop()
        trapd.stop()
    return cap.pcap, trapd.port


# ------------------------------------------------------------------------------------------ tshark's view

PDU_ELEMENTS = {"snmp.trap_element": "trap-v1", "snmp.snmpV2_trap_element": "trap",
                "snmp.informRequest_element": "inform"}

# tshark's value field -> the types of ours it may be.  tshark names Counter32 and Counter64 alike.
VALUE_TYPES = {"snmp.value.int": {"integer"}, "snmp.value.octets": {"octet-string"}, "snmp.value.oid": {"oid"},
               "snmp.value.ipv4": {"ip-address"}, "snmp.value.counter": {"counter32", "counter64"},
               "snmp.value.g32": {"gauge32"}, "snmp.value.u32": {"gauge32"},
               "snmp.value.timeticks": {"timeticks"}, "snmp.value.opaque": {"opaque"},
               "snmp.value.null": {"null"}}
NUMERIC = {"snmp.value.int", "snmp.value.counter", "snmp.value.g32", "snmp.value.u32", "snmp.value.timeticks"}


def tshark_varbinds(pdu):
    """[(oid, tshark value field, value)] in order: numbers as ints, octet strings and opaque as bytes.
    (tshark's JSON names each binding by "OID: value"; the bindings of one message here are all distinct.)"""
    rows = []
    for vb in pdu["snmp.variable_bindings_tree"].values():
        fields = [k for k in vb if k.startswith("snmp.value.")]
        assert len(fields) == 1, vb
        f = fields[0]
        raw = vb[f]
        if f in NUMERIC:
            value = int(raw)
        elif f in ("snmp.value.octets", "snmp.value.opaque"):
            value = bytes.fromhex(raw.replace(":", ""))
        elif f == "snmp.value.null":
            value = None
        else:
            value = raw
        rows.append((vb["snmp.name"], f, value))
    assert len(rows) == int(pdu["snmp.variable_bindings"])
    return rows


def tshark_notifications(pcap, port, users):
    out = []
    for layers in tshark_json(pcap, [f"udp.port=={port},snmp"], *[a for u in users for a in ("-o", u)]):
        s = layers["snmp"]
        (kind,) = [PDU_ELEMENTS[k] for k in PDU_ELEMENTS if dicts_with(s, k)]
        pdu = dicts_with(s, "snmp.variable_bindings_tree")[0]
        n = {"exporter": layers["ip"]["ip.src"], "epoch": layers["frame"]["frame.time_epoch"], "pdu": kind,
             "varbinds": tshark_varbinds(pdu), "snmp": s, "pdu_fields": pdu}
        out.append(n)
    return out


def epoch_us(text):
    """tshark's frame.time_epoch ("1795691464.359795000") in whole microseconds."""
    whole, frac = text.split(".")
    return int(whole) * 1_000_000 + int(frac[:6].ljust(6, "0"))


def received_us(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def our_value_as_tshark(vb):
    """Our binding's value in tshark's representation (octet strings as bytes)."""
    if vb["type"] in ("octet-string", "opaque"):
        return bytes.fromhex(vb["value"]) if vb.get("hex") else vb["value"].encode("utf-8")
    return vb["value"]


# ------------------------------------------------------------------------------------------ the tests

def test_snmp_notifications_match_tshark(snmp_pcap):
    pcap, port = snmp_pcap
    records, summary = decode(pcap, {"snmptrap": port}, *[a for u in OUR_USERS for a in ("--snmp-user", u)])
    oracle = tshark_notifications(pcap, port, [tshark_user(u) for u in (SHA, MD5, PRIV)])
    assert len(oracle) == len(NOTIFICATIONS), "the capture must hold each notification once"
    assert len(records) == len(NOTIFICATIONS), summary
    assert summary["records"]["malformed"] == 0 and summary["datagrams"] == len(NOTIFICATIONS)

    for i, (ours, theirs, sent) in enumerate(zip(records, oracle, NOTIFICATIONS)):
        what = f"{sent['name']}: {ours}"
        s = theirs["snmp"]
        assert ours["kind"] == "snmptrap" and ours["record"] == "trap", what
        assert ours["exporter"] == theirs["exporter"] == source(i), what
        assert received_us(ours["received"]) == epoch_us(theirs["epoch"]), what
        assert ours["pdu"] == theirs["pdu"] == ("inform" if sent.get("inform") else
                                                "trap-v1" if sent["version"] == "1" else "trap"), what

        # version, and who sent it: the community, or the v3 header
        if sent["version"] == "3":
            assert s["snmp.msgVersion"] == "3" and ours["version"] == "3", what
            assert "community" not in ours, what
            assert ours["user"] == s["snmp.msgUserName"] == sent["usm"][0], what
            assert ours["msg_id"] == int(first(s, "snmp.msgID")), what
            flags = int(first(s, "snmp.msgFlags"), 16)
            their_level = {0: "noAuthNoPriv", 1: "authNoPriv", 3: "authPriv"}[flags & 3]
            assert ours["security_level"] == their_level == LEVELS[sent["usm"]], what
            assert ours["engine_id"] == s["snmp.msgAuthoritativeEngineID"].replace(":", "") == ENGINE_HEX, what
            assert ours["engine_boots"] == int(s["snmp.msgAuthoritativeEngineBoots"]), what
            assert ours["engine_time"] == int(s["snmp.msgAuthoritativeEngineTime"]), what
            # without -E net-snmp puts its own engine id in the scoped PDU, without -n an empty context name
            assert ours["context_engine_id"] == first(s, "snmp.contextEngineID").replace(":", ""), what
            assert ours["context_name"] == first(s, "snmp.contextName"), what
            if "context" in sent:
                assert (ours["context_name"], ours["context_engine_id"]) == sent["context"], what
            else:
                assert ours["context_name"] == "" and ours["context_engine_id"].startswith("80001f88"), what
            if sent["usm"][1]:
                # tshark checked the digest with the same password, so ours was no accident
                assert dicts_with(s, "snmp.authentication_ok"), f"tshark did not authenticate {sent['name']}"
        else:
            assert ours["version"] == sent["version"], what
            assert int(s["snmp.version"]) == {"1": 0, "2c": 1}[sent["version"]], what
            assert ours["community"] == s["snmp.community"] == sent.get("community", "public"), what
            assert not {"user", "msg_id", "engine_id"} & set(ours), what

        pdu = theirs["pdu_fields"]
        their_vbs = theirs["varbinds"]
        if sent["version"] == "1":
            assert "request_id" not in ours, what
            assert ours["enterprise"] == pdu["snmp.enterprise"] == ENTERPRISE, what
            assert ours["agent_addr"] == pdu["snmp.agent_addr"] == "127.0.0.9", what
            assert ours["generic_trap"] == int(pdu["snmp.generic_trap"]) == sent["generic"], what
            assert ours["specific_trap"] == int(pdu["snmp.specific_trap"]) == sent["specific"], what
            assert ours["uptime"] == int(pdu["snmp.time_stamp"]), what
            # tshark shows no notification OID for v1; ours is RFC 3584 3.1's: snmpTraps.(generic+1), or
            # enterprise.0.specific for enterpriseSpecific (6)
            g, sp = int(pdu["snmp.generic_trap"]), int(pdu["snmp.specific_trap"])
            want = f"{pdu['snmp.enterprise']}.0.{sp}" if g == 6 else f"1.3.6.1.6.3.1.1.5.{g + 1}"
            assert ours["trap_oid"] == want, what
        else:
            assert ours["request_id"] == int(pdu["snmp.request_id"]), what
            # v2 notifications start with sysUpTime.0 and snmpTrapOID.0 (RFC 3416 4.2.6); tshark shows them as
            # bindings only, ours lifts them out as uptime and trap_oid and keeps the bindings as they are
            assert their_vbs[0][:2] == ("1.3.6.1.2.1.1.3.0", "snmp.value.timeticks"), what
            assert their_vbs[1][:2] == ("1.3.6.1.6.3.1.1.4.1.0", "snmp.value.oid"), what
            assert ours["uptime"] == their_vbs[0][2], what
            assert ours["trap_oid"] == their_vbs[1][2] == sent["trap_oid"], what

        # every binding: OID, type and value against tshark, then against what was sent
        assert len(ours["varbinds"]) == len(their_vbs), what
        for vb, (oid, field, value) in zip(ours["varbinds"], their_vbs):
            assert vb["oid"] == oid, what
            assert vb["type"] in VALUE_TYPES[field], f"{what}: {vb} vs tshark {field}"
            assert our_value_as_tshark(vb) == value, f"{what}: {vb} vs tshark {value!r}"
        mine = ours["varbinds"][2:] if sent["version"] != "1" else ours["varbinds"]
        assert [(vb["oid"], vb["type"], vb["value"], vb.get("hex", False)) for vb in mine] == \
            [(oid_of(k), typ, value, is_hex) for k, (_, _, typ, value, is_hex) in enumerate(sent["varbinds"])], what


def sender_of(usm):
    """The source address of the v3 notification of that user."""
    return source([n.get("usm") for n in NOTIFICATIONS].index(usm))


@pytest.mark.parametrize("users,failing", [
    # no users at all: the authenticated messages have nobody to check them against
    ([], {SHA: "unknown USM user", MD5: "unknown USM user", PRIV: "unknown USM user"}),
    # the authPriv user's authentication password is wrong: the digest does not match
    ([our_user(SHA), our_user(MD5), "tuser:sha:wrongpass99:aes:privpass123"],
     {PRIV: "authentication failed"}),
    # right authentication, wrong privacy password: the plaintext is no scoped PDU
    ([our_user(SHA), our_user(MD5), "tuser:sha:authpass123:aes:wrongpriv99"], {PRIV: "decryption failed"}),
    # the user without a privacy key cannot read an authPriv message
    ([our_user(SHA), our_user(MD5), "tuser:sha:authpass123"],
     {PRIV: "no key for the message's security level"}),
    # MD5 user configured as SHA, SHA user with MD5's password: both digests are wrong
    (["md5user:sha:md5auth123", "shauser:sha:md5auth123", our_user(PRIV)],
     {SHA: "authentication failed", MD5: "authentication failed"}),
], ids=["no-users", "wrong-auth", "wrong-priv", "no-priv-key", "wrong-digests"])
def test_snmpv3_without_the_right_keys_gives_no_record(snmp_pcap, users, failing):
    pcap, port = snmp_pcap
    records, summary, log = decode_with_log(pcap, {"snmptrap": port},
                                            *[a for u in users for a in ("--snmp-user", u)])
    failed_sources = {sender_of(u) for u in failing}
    want_sources = [source(i) for i in range(len(NOTIFICATIONS)) if source(i) not in failed_sources]
    assert [r["exporter"] for r in records] == want_sources, log
    assert summary["datagrams"] == len(NOTIFICATIONS)
    assert summary["records"]["records"] == len(want_sources)
    assert summary["records"]["malformed"] == len(failing), summary
    # each one is named on stderr with its sender and reason
    for u, reason in failing.items():
        assert any(f"from {sender_of(u)}:" in line and reason in line for line in log.splitlines()), log
    # the unauthenticated v3 message needs no key and always decodes
    assert sender_of(NOAUTH) in [r["exporter"] for r in records]

    # tshark with the same users finds the same wrong digests and undecryptable PDUs.  It differs on purpose in
    # what it does next: it flags a wrong digest and still shows the message (a wrong authentication password
    # does not stop it decrypting), where sekiwake gives no record: a receiver must not pass on what fails USM.
    # Without a user tshark checks nothing, so "unknown user" and "no key" have no tshark counterpart.
    options = [a for u in users for a in ("-o", tshark_user(u))]
    frames = {layers["ip"]["ip.src"]: layers for layers in tshark_json(pcap, [f"udp.port=={port},snmp"], *options)}
    for u, reason in failing.items():
        frame = frames[sender_of(u)]
        if reason == "authentication failed":
            assert dicts_with(frame, "snmp.authentication_error"), f"tshark authenticates {u[0]}"
        elif reason == "decryption failed":
            # with the wrong key the plaintext is noise: tshark says "not formatted as expected" or, when the
            # noise happens to start like a scoped PDU, stops at malformed BER; never are there bindings
            assert dicts_with(frame, "_ws.malformed"), f"tshark decrypts {u[0]}"
            assert not dicts_with(frame, "snmp.variable_bindings_tree"), f"tshark decrypts {u[0]}"
    for u in (SHA, MD5, PRIV):
        if u not in failing and any(x.startswith(u[0] + ":") for x in users):
            assert dicts_with(frames[sender_of(u)], "snmp.authentication_ok"), u
