"""Forward's routing rules, table-driven, on loopback.

One capture (UDP listeners on 127.0.0.1) publishes a fixed corpus, each datagram from its own 127.0.0.x
address: four syslog messages (RFC 3164 and 5424, different facilities, severities, hosts, apps and texts),
four traps from net-snmp's snmptrap (v2c linkDown/public, v2c enterprise/private, v1, v3 authPriv) and four IPFIX
datagrams from `sekiwake send ipfix` (observation domains 1, 2, 1, 2).  Seven forwarders, one per case below,
subscribe to the same bus at once; their destinations are `?spoof` receivers, so each datagram arriving there
still names its exporter, which identifies it.  Each case checks exactly which datagrams each destination got,
and forward's rules_matched / routed / dropped_by_rule counters.
"""

import collections
import time

import pytest

from helpers.gating import require_programs, require_root, require_sekiwake
from helpers.net import free_port, send_udp
from helpers.sekiwake import Sekiwake
from relay_peers import Receivers, forward_toml, run_snmptrap, sekiwake_send, snmptrap_argv, write_config

SYSLOG = {  # label: (source, payload): auth.crit, local3.err, local4.notice (RFC 5424), user.info
    "S_AUTH": ("127.0.0.21", b"<34>Nov 26 10:00:00 r1 su: BAD SU root on /dev/pts/0"),
    "S_L3": ("127.0.0.22", b"<155>Nov 26 10:00:01 r2 sshd[7]: Failed password for root from 192.0.2.7"),
    "S_5424": ("127.0.0.23", b"<165>1 2026-11-26T10:00:02Z fw1 kernel - - - DROP IN=eth0 SRC=192.0.2.9"),
    "S_INFO": ("127.0.0.24", b"<14>Nov 26 10:00:03 r4 cron[9]: job done"),
}
TRAPS = {  # label: (source, version, community, trap OID (v2c/v3))
    "T_LD": ("127.0.0.31", "2c", "public", "1.3.6.1.6.3.1.1.5.3"),
    "T_ENT": ("127.0.0.32", "2c", "private", "1.3.6.1.4.1.8072.2.3.0.1"),
    "T_V1": ("127.0.0.33", "1", "public", None),  # enterprise 1.3.6.1.4.1.8072.2.3, specific 17
    "T_V3": ("127.0.0.34", "3", None, "1.3.6.1.6.3.1.1.5.4"),
}
IPFIX_SOURCE = "127.0.0.41"
LABEL_OF_SOURCE = {src: label for label, (src, *_) in {**SYSLOG, **TRAPS}.items()}
ALL_SYSLOG = ["S_AUTH", "S_L3", "S_5424", "S_INFO"]


def label(src, payload):
    if src == IPFIX_SOURCE:
        return f"F_D{int.from_bytes(payload[12:16], 'big')}"
    return LABEL_OF_SOURCE[src]


SEVERE_RULES = [
    {"match": {"kinds": ["syslog"], "severities": ["err", "crit"]}, "to": ["a"]},
    {"match": {"kinds": ["syslog"]}, "to": ["b"]},
    {"match": {"exporters": ["127.0.0.20/30"]}, "to": ["c"]},  # .20 - .23
]
DROP_RULES = [
    {"match": {"message": "BAD SU"}, "drop": True},
    {"match": {"kinds": ["syslog"]}, "to": ["a"]},
    {"match": {"apps": ["kernel"]}, "drop": True},
]

# name: (rules_mode, destinations {name: extra keys}, rules, expected {dest: labels}, rules_matched, dropped_by_rule)
CASES = {
    "all-mode": ("all", {"a": {}, "b": {}, "c": {}}, SEVERE_RULES,
                 {"a": ["S_AUTH", "S_L3"], "b": ALL_SYSLOG, "c": ["S_AUTH", "S_L3", "S_5424"]}, [2, 4, 3], 0),
    "first-mode": ("first", {"a": {}, "b": {}, "c": {}}, SEVERE_RULES,
                   {"a": ["S_AUTH", "S_L3"], "b": ["S_5424", "S_INFO"], "c": []}, [2, 2, 0], 0),
    # with "all", a drop rule drops the datagram even after an earlier rule matched it
    "drop-all-mode": ("all", {"a": {}}, DROP_RULES, {"a": ["S_L3", "S_INFO"]}, [1, 3, 1], 2),
    # with "first", the rule that matched first decides: the kernel message goes to a
    "drop-first-mode": ("first", {"a": {}}, DROP_RULES, {"a": ["S_L3", "S_5424", "S_INFO"]}, [1, 3, 0], 1),
    "syslog-fields": ("all", {d: {} for d in "abcde"}, [
        {"match": {"facilities": ["local3", 20]}, "to": ["a"]},  # local3 by name, local4 by number
        {"match": {"severities": [6]}, "to": ["b"]},
        {"match": {"apps": ["sshd"], "message": r"^Failed password for \w+ from 192\.0\.2\.7$"}, "to": ["c"]},
        {"match": {"hosts": ["fw1"]}, "to": ["d"]},
        {"match": {"apps": ["cron"], "severities": ["err"]}, "to": ["e"]},  # every condition must hold: none
    ], {"a": ["S_L3", "S_5424"], "b": ["S_INFO"], "c": ["S_L3"], "d": ["S_5424"], "e": []}, [2, 1, 1, 1, 0], 0),
    "snmp-fields": ("all", {d: {} for d in "abcdef"}, [
        {"match": {"trap_oids": ["1.3.6.1.6.3.1.1.5"]}, "to": ["a"]},
        {"match": {"communities": ["private"]}, "to": ["b"]},
        {"match": {"snmp_versions": ["1"]}, "to": ["c"]},
        {"match": {"snmp_versions": ["3"]}, "to": ["d"]},
        {"match": {"trap_oids": ["1.3.6.1.4.1.8072.2.3"], "snmp_versions": ["2c"]}, "to": ["e"]},
        {"match": {"trap_oids": ["1.3.6.1.4.1.8072.2.3.0.17"]}, "to": ["f"]},  # RFC 3584 OID of the v1 trap
    ], {"a": ["T_LD"], "b": ["T_ENT"], "c": ["T_V1"], "d": ["T_V3"], "e": ["T_ENT"], "f": ["T_V1"]},
        [1, 1, 1, 1, 1, 1], 0),
    "domains-and-implicit": ("all", {"a": {}, "b": {}, "c": {"kinds": ["snmptrap"]}}, [
        {"match": {"domains": [2]}, "to": ["a"]},
        {"match": {"kinds": ["ipfix"], "domains": [1]}, "to": ["b"]},
        {"match": {"exporters": ["127.0.0.31", "127.0.0.33"]}, "drop": True},  # before c's implicit rule
    ], {"a": ["F_D2", "F_D2"], "b": ["F_D1", "F_D1"], "c": ["T_ENT", "T_V3"]}, [2, 2, 2, 2], 2),
}


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    """Runs the corpus through one capture and a forwarder per case; returns {case: (got, final stats)}."""
    require_root()
    require_sekiwake()
    require_programs("snmptrap")
    tmp = tmp_path_factory.mktemp("routing")
    sk = Sekiwake(tmp / "sekiwake")
    names = [f"{case}.{d}" for case, (_, dests, *_) in CASES.items() for d in dests]
    try:
        with Receivers(names) as rx:
            bus = f"tcp://127.0.0.1:{free_port('tcp')}"
            ports = {"syslog": free_port("udp"), "snmptrap": free_port("udp"), "ipfix": free_port("udp")}
            fwds = {}
            for case, (mode, dests, rules, *_) in CASES.items():
                dlist = [{"name": d, "url": rx.url(f"{case}.{d}", spoof=True), **extra} for d, extra in dests.items()]
                cfg = write_config(tmp / f"{case}.toml", forward_toml(dlist, rules=rules, rules_mode=mode))
                fwds[case] = sk.forward(bus, [], config=cfg)
            listen = [a for p in ports.values() for a in ("--listen", f"127.0.0.1:{p}")]
            cap = sk.capture(*listen, ifaces=(), ports=ports, publish=bus, wait_ready=False)
            time.sleep(1.0)  # slow joiners

            for lbl, (src, payload) in SYSLOG.items():
                send_udp([payload], "127.0.0.1", ports["syslog"], src=src)
            for lbl, (src, version, community, oid) in TRAPS.items():
                run_snmptrap(snmptrap_argv("127.0.0.1", ports["snmptrap"], version,
                                           [("1.3.6.1.4.1.99999.6.1", "s", lbl)], trap_oid=oid or "",
                                           community=community or "public", clientaddr=src))
            sent, summary = sekiwake_send("ipfix", "--to", f"127.0.0.1:{ports['ipfix']}", "--source", IPFIX_SOURCE,
                                          "--count", 4, "--domains", 2, "--rate", 100)
            assert sent.returncode == 0 and summary["sent"] == 4, sent.stderr
            expected = sum(len(v) for (*_, exp, _, _) in CASES.values() for v in exp.values())
            got = rx.settle(expected, timeout=15, quiet=1.0)
            cap.wait_stats(lambda s: s["published"] >= 12, timeout=10)
            cap_rc, cap_stats = cap.terminate()
            assert cap_rc == 0 and cap_stats["published"] == 12, cap.output()
            results = {}
            for case, fwd in fwds.items():
                rc, stats = fwd.terminate()
                assert rc == 0, fwd.output()
                results[case] = ({d: sorted(label(s, p) for s, _, p in got[f"{case}.{d}"]) for d in CASES[case][1]},
                                 stats)
            return results
    finally:
        sk.stop_all()


@pytest.mark.parametrize("case", list(CASES))
def test_rules_route_each_datagram_where_the_table_says(routed, case):
    _, _, _, expected, matched, dropped = CASES[case]
    got, stats = routed[case]
    assert got == {d: sorted(v) for d, v in expected.items()}
    assert stats["rules_matched"] == matched, stats
    assert stats["dropped_by_rule"] == dropped, stats
    assert stats["received"] == (stats["routed"] + stats["unrouted"] + stats["dropped_by_rule"]
                                 + stats["bad_envelope"]), stats
    # a datagram sent to several destinations is routed once: the union of what they got
    union = collections.Counter()
    for v in expected.values():
        union |= collections.Counter(v)
    assert stats["routed"] == sum(union.values()), stats
    for d in stats["destinations"]:
        assert d["forwarded"] == d["routed"] == len(expected[d["name"]]), d
