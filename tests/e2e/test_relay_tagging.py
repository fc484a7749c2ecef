"""Origin tagging and SNMPv1 -> v2c translation, for collectors a relay cannot spoof to (on loopback).

- syslog through a `tag = true` destination: rsyslog gets `[origin ip="EXPORTER"]` as RFC 5424 structured data
  (%structured-data%, alone or after the SD the message had) and as a prefix of the message text for RFC 3164
  (%rawmsg%); an untagged destination gets the original bytes;
- a v2c trap through `tag = true`: snmptrapd shows snmpTrapAddress.0 (1.3.6.1.6.3.18.1.3.0) = the exporter;
- v1 traps through `v1_to_v2c = true`: snmptrapd logs them as v2c traps (RFC 3584 section 3.1): sysUpTime.0 and
  snmpTrapOID.0 first (enterprise.0.specific, or snmpTraps.N for a generic trap), the original varbinds, then
  snmpTrapAddress.0 = the v1 agent-addr, snmpTrapCommunity.0 and snmpTrapEnterprise.0.
"""

import time

from helpers.gating import require_programs
from helpers.net import free_port, send_udp
from relay_peers import NsRsyslog, NsSnmptrapd, by_name, forward_toml, run_snmptrap, snmptrap_argv, write_config

EXPORTER = "127.0.0.41"
SYSLOG = [  # (sent, %structured-data% once tagged, %rawmsg% once tagged)
    (b"<165>1 2026-11-26T10:00:00Z host1 app - ID47 - hello 5424",
     '[origin ip="127.0.0.41"]',
     '<165>1 2026-11-26T10:00:00Z host1 app - ID47 [origin ip="127.0.0.41"] hello 5424'),
    (b'<165>1 2026-11-26T10:00:01Z host1 app - ID48 [ex@32473 k="v"] with sd',
     '[ex@32473 k="v"][origin ip="127.0.0.41"]',
     '<165>1 2026-11-26T10:00:01Z host1 app - ID48 [ex@32473 k="v"][origin ip="127.0.0.41"] with sd'),
    (b"<13>Nov 26 10:00:02 host1 app[1]: hello 3164",
     "-",
     '<13>Nov 26 10:00:02 host1 app[1]: [origin ip="127.0.0.41"] hello 3164'),
]
TRAP_ADDRESS, TRAP_COMMUNITY = ".1.3.6.1.6.3.18.1.3.0", ".1.3.6.1.6.3.18.1.4.0"
TRAP_ENTERPRISE = ".1.3.6.1.6.3.1.1.4.3.0"
SYS_UPTIME, TRAP_OID = ".1.3.6.1.2.1.1.3.0", ".1.3.6.1.6.3.1.1.4.1.0"


def test_syslog_origin_tag_reaches_rsyslog(sekiwake, daemons, tmp_path):
    require_programs("rsyslogd")
    tagged_port, plain_port = free_port("udp"), free_port("udp")
    rs = NsRsyslog(tmp_path / "rsyslog", {"tagged": ("127.0.0.1", tagged_port), "plain": ("127.0.0.1", plain_port)},
                   template="%fromhost-ip%|%structured-data%|%rawmsg%\\n")
    daemons.append(rs.start())
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dests = [{"name": "tagged", "url": f"udp://127.0.0.1:{tagged_port}", "kinds": ["syslog"], "tag": True},
             {"name": "plain", "url": f"udp://127.0.0.1:{plain_port}", "kinds": ["syslog"]}]
    fwd = sekiwake.forward(bus, [], config=write_config(tmp_path / "forward.toml", forward_toml(dests)))
    sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"syslog": port}, publish=bus,
                     wait_ready=False)
    time.sleep(1.0)
    send_udp([s for s, _, _ in SYSLOG], "127.0.0.1", port, src=EXPORTER, gap=0.01)
    tagged = rs.wait_lines("tagged", len(SYSLOG))
    plain = rs.wait_lines("plain", len(SYSLOG))
    fwd_rc, stats = fwd.terminate()

    assert fwd_rc == 0, fwd.output()
    assert sorted(tagged) == sorted(f"127.0.0.1|{sd}|{raw}" for _, sd, raw in SYSLOG), tagged
    assert sorted(l.split("|", 2)[2] for l in plain) == sorted(s.decode() for s, _, _ in SYSLOG), plain
    t = by_name(stats, "tagged")
    assert t["forwarded"] == t["rewritten"] == len(SYSLOG), t
    assert by_name(stats, "plain")["rewritten"] == 0


def varbinds(line):
    """[(oid, 'TYPE: value'), ...] of an snmptrapd line (format `vars=%V~%v`)."""
    out = []
    for vb in line.split(" vars=", 1)[1].split("~"):
        oid, _, value = vb.partition(" = ")
        out.append((oid, value))
    return out


def test_trap_address_tag_and_v1_to_v2c_reach_snmptrapd(sekiwake, daemons, tmp_path):
    require_programs("snmptrapd", "snmptrap")
    ports = {name: free_port("udp") for name in ("tag", "v2c", "plain")}
    trapd = NsSnmptrapd(tmp_path / "snmptrapd", [("127.0.0.1", p) for p in ports.values()])
    daemons.append(trapd.start())
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dests = [{"name": "tag", "url": f"udp://127.0.0.1:{ports['tag']}", "kinds": ["snmptrap"], "tag": True},
             {"name": "v2c", "url": f"udp://127.0.0.1:{ports['v2c']}", "kinds": ["snmptrap"], "v1_to_v2c": True},
             {"name": "plain", "url": f"udp://127.0.0.1:{ports['plain']}", "kinds": ["snmptrap"]}]
    fwd = sekiwake.forward(bus, [], config=write_config(tmp_path / "forward.toml", forward_toml(dests)))
    sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"snmptrap": port}, publish=bus,
                     wait_ready=False)
    time.sleep(1.0)
    mark = (".1.3.6.1.4.1.99999.8.1", "s")
    run_snmptrap(snmptrap_argv("127.0.0.1", port, "2c", [(*mark, "v2c-trap")], trap_oid="1.3.6.1.6.3.1.1.5.3",
                               clientaddr="127.0.0.42"))
    run_snmptrap(snmptrap_argv("127.0.0.1", port, "1", [(*mark, "v1-specific"), (".1.3.6.1.4.1.99999.8.2", "i", 7)],
                               clientaddr="127.0.0.43", agent="127.0.0.9", generic=6, specific=17))
    run_snmptrap(snmptrap_argv("127.0.0.1", port, "1", [(*mark, "v1-linkdown")], community="ops",
                               clientaddr="127.0.0.44", agent="127.0.0.8", generic=2, specific=0))
    at = {name: (lambda p: lambda line: f"->[127.0.0.1]:{p} " in line)(p) for name, p in ports.items()}
    got = {name: trapd.wait_traps(3, where=at[name]) for name in ports}
    fwd_rc, stats = fwd.terminate()
    assert fwd_rc == 0, fwd.output()

    def find(name, marker):
        lines = [l for l in got[name] if f'STRING: "{marker}"' in l]
        assert len(lines) == 1, (name, marker, got[name])
        return lines[0]

    # tag: the v2c trap gains snmpTrapAddress.0 = its exporter, as the last varbind; v1 traps pass unchanged
    line = find("tag", "v2c-trap")
    assert line.startswith("V2 from=UDP: [127.0.0.1]:51400->"), line
    vbs = varbinds(line)
    assert vbs[-1] == (TRAP_ADDRESS, "IpAddress: 127.0.0.42"), vbs
    assert [o for o, _ in vbs[:3]] == [SYS_UPTIME, TRAP_OID, ".1.3.6.1.4.1.99999.8.1"], vbs
    assert find("tag", "v1-specific").startswith("V1 ") and "agent=127.0.0.9" in find("tag", "v1-specific")
    for name in ("v2c", "plain"):
        assert TRAP_ADDRESS not in find(name, "v2c-trap")

    # v1_to_v2c: both v1 traps arrive as v2c traps with the RFC 3584 varbinds
    for marker, trap_oid, agent, community, extra in (
            ("v1-specific", "OID: .1.3.6.1.4.1.8072.2.3.0.17", "127.0.0.9", "public",
             [(".1.3.6.1.4.1.99999.8.2", "INTEGER: 7")]),
            ("v1-linkdown", "OID: .1.3.6.1.6.3.1.1.5.3", "127.0.0.8", "ops", [])):
        line = find("v2c", marker)
        assert line.startswith("V2 "), line
        vbs = varbinds(line)
        assert vbs[0][0] == SYS_UPTIME and vbs[0][1].startswith("Timeticks: "), vbs
        assert vbs[1] == (TRAP_OID, trap_oid), vbs
        assert vbs[2:] == [(".1.3.6.1.4.1.99999.8.1", f'STRING: "{marker}"'), *extra,
                           (TRAP_ADDRESS, f"IpAddress: {agent}"), (TRAP_COMMUNITY, f'STRING: "{community}"'),
                           (TRAP_ENTERPRISE, "OID: .1.3.6.1.4.1.8072.2.3")], vbs
        plain = find("plain", marker)
        assert plain.startswith("V1 ") and f"agent={agent}" in plain, plain

    assert by_name(stats, "tag")["rewritten"] == 1
    assert by_name(stats, "v2c")["rewritten"] == 2
    assert by_name(stats, "plain")["rewritten"] == 0
    for name in ports:
        assert by_name(stats, name)["forwarded"] == 3
