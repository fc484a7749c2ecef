"""SNMPv1 -> v2c translation as RFC 3584 section 3.1 has it, checked by Net-SNMP's snmptrapd (and tshark).

Net-SNMP `snmptrap -v 1` sends v1 traps to capture; forward relays them through two `v1_to_v2c = true`
destinations, each an snmptrapd port, while tcpdump records what forward sends:
- a trap that already carries snmpTrapAddress.0, snmpTrapCommunity.0 and snmpTrapEnterprise.0 (as one that
  crossed a proxy does) arrives with each of them exactly once, with the values it carried;
- a trap carrying only snmpTrapAddress.0 keeps that one and gains the other two (from the v1 message);
- generic-trap 7 arrives as snmpTraps.8 (.1.3.6.1.6.3.1.1.5.8), as Net-SNMP's own converter makes it;
- enterpriseSpecific with specific-trap -5 (no OID arc) arrives as the v1 trap it was, counted per
  destination under v1_untranslated.specific_trap_out_of_range;
- tshark reads a request-id in every translated trap: none is 0 and no two are the same, across both
  destinations and for traps whose contents are identical.
"""

import subprocess
import time

from helpers.gating import require_programs
from helpers.net import free_port
from helpers.tshark import PacketCapture
from relay_peers import NsSnmptrapd, by_name, conserved, forward_toml, run_snmptrap, snmptrap_argv, write_config

TRAP_ADDRESS, TRAP_COMMUNITY = ".1.3.6.1.6.3.18.1.3.0", ".1.3.6.1.6.3.18.1.4.0"
TRAP_ENTERPRISE = ".1.3.6.1.6.3.1.1.4.3.0"
SYS_UPTIME, TRAP_OID = ".1.3.6.1.2.1.1.3.0", ".1.3.6.1.6.3.1.1.4.1.0"
MARK = ".1.3.6.1.4.1.99999.8.1"
ENTERPRISE = ".1.3.6.1.4.1.8072.2.3"  # snmptrap_argv's default enterprise
RFC3584 = (TRAP_ADDRESS, TRAP_COMMUNITY, TRAP_ENTERPRISE)

# (marker, snmptrap_argv keywords, varbinds after the marker's own)
TRAPS = [
    ("carried-all", dict(agent="127.0.0.9", generic=6, specific=17),
     [(TRAP_ADDRESS, "a", "192.0.2.9"), (TRAP_COMMUNITY, "s", "upstream"),
      (TRAP_ENTERPRISE, "o", ".1.3.6.1.4.1.99999.1")]),
    ("carried-address", dict(agent="127.0.0.8", generic=2, specific=0, community="ops"),
     [(TRAP_ADDRESS, "a", "192.0.2.9")]),
    ("plain", dict(agent="127.0.0.7", generic=6, specific=17), []),
    ("plain", dict(agent="127.0.0.7", generic=6, specific=17), []),
    ("plain", dict(agent="127.0.0.7", generic=6, specific=17), []),
    ("generic7", dict(agent="127.0.0.9", generic=7, specific=0), []),
    ("negative", dict(agent="127.0.0.9", generic=6, specific=-5), []),
]
TRANSLATED = len(TRAPS) - 1


def varbinds(line):
    """[(oid, 'TYPE: value'), ...] of an snmptrapd line (format `vars=%V~%v`)."""
    return [tuple(vb.partition(" = ")[::2]) for vb in line.split(" vars=", 1)[1].split("~")]


def tshark_request_ids(pcap, ports):
    """[(udp dst port, request-id)] of every SNMP PDU with a request-id (v2c traps; a v1 Trap-PDU has none)."""
    argv = ["tshark", "-r", str(pcap), "-n"]
    for p in ports:
        argv += ["-d", f"udp.port=={p},snmp"]
    argv += ["-Y", "snmp.request_id", "-T", "fields", "-E", "separator=|", "-e", "udp.dstport",
             "-e", "snmp.request_id"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return [tuple(int(x) for x in line.split("|")) for line in out.stdout.splitlines()]


def test_v1_to_v2c_is_rfc3584_exact_at_snmptrapd(sekiwake, daemons, tmp_path):
    require_programs("snmptrapd", "snmptrap", "tcpdump", "tshark")
    ports = {name: free_port("udp") for name in ("a", "b")}
    trapd = NsSnmptrapd(tmp_path / "snmptrapd", [("127.0.0.1", p) for p in ports.values()])
    daemons.append(trapd.start())
    wire = PacketCapture(tmp_path, " or ".join(f"udp dst port {p}" for p in ports.values()))
    daemons.append(wire.start())
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dests = [{"name": name, "url": f"udp://127.0.0.1:{p}", "kinds": ["snmptrap"], "v1_to_v2c": True}
             for name, p in ports.items()]
    fwd = sekiwake.forward(bus, [], config=write_config(tmp_path / "forward.toml", forward_toml(dests)))
    sekiwake.capture("--listen", f"127.0.0.1:{port}", ifaces=(), ports={"snmptrap": port}, publish=bus,
                     wait_ready=False)
    time.sleep(1.0)
    for marker, fields, extra in TRAPS:
        run_snmptrap(snmptrap_argv("127.0.0.1", port, "1", [(MARK, "s", marker), *extra],
                                   clientaddr="127.0.0.43", **fields))
    at = {name: (lambda p: lambda line: f"->[127.0.0.1]:{p} " in line)(p) for name, p in ports.items()}
    got = {name: trapd.wait_traps(len(TRAPS), where=at[name]) for name in ports}
    fwd_rc, stats = fwd.terminate()
    sent = wire.stop_and_payloads()
    assert fwd_rc == 0, fwd.output()

    for name in ports:
        lines = got[name]
        assert len(lines) == len(TRAPS), lines

        def find(marker, n=1):
            found = [l for l in lines if f'{MARK} = STRING: "{marker}"' in l]
            assert len(found) == n, (name, marker, lines)
            return found

        def translated(marker, trap_oid, address, community, enterprise, n=1):
            for line in find(marker, n):
                assert line.startswith("V2 "), line
                vbs = varbinds(line)
                assert [o for o, _ in vbs[:2]] == [SYS_UPTIME, TRAP_OID], vbs
                assert vbs[1][1] == f"OID: {trap_oid}", vbs
                for oid in RFC3584:  # each exactly once, whether it was carried or added
                    assert [o for o, _ in vbs].count(oid) == 1, (oid, vbs)
                values = dict(vbs)
                assert values[TRAP_ADDRESS] == f"IpAddress: {address}", vbs
                assert values[TRAP_COMMUNITY] == f'STRING: "{community}"', vbs
                assert values[TRAP_ENTERPRISE] == f"OID: {enterprise}", vbs
                yield vbs

        # carried all three: the bindings exactly as sent, nothing appended
        (vbs,) = translated("carried-all", f"{ENTERPRISE}.0.17", "192.0.2.9", "upstream", ".1.3.6.1.4.1.99999.1")
        assert [o for o, _ in vbs[2:]] == [MARK, *RFC3584], vbs
        # carried only the address: kept (not the agent-addr 127.0.0.8), the other two appended
        (vbs,) = translated("carried-address", ".1.3.6.1.6.3.1.1.5.3", "192.0.2.9", "ops", ENTERPRISE)
        assert [o for o, _ in vbs[2:]] == [MARK, TRAP_ADDRESS, TRAP_COMMUNITY, TRAP_ENTERPRISE], vbs
        # carried none: all three from the v1 message
        for vbs in translated("plain", f"{ENTERPRISE}.0.17", "127.0.0.7", "public", ENTERPRISE, n=3):
            assert [o for o, _ in vbs[2:]] == [MARK, *RFC3584], vbs
        list(translated("generic7", ".1.3.6.1.6.3.1.1.5.8", "127.0.0.9", "public", ENTERPRISE))
        # not translatable: relayed as the v1 trap it was
        (line,) = find("negative")
        assert line.startswith("V1 ") and "agent=127.0.0.9" in line, line

        d = by_name(stats, name)
        assert (d["forwarded"], d["rewritten"]) == (len(TRAPS), TRANSLATED), d
        assert d["v1_untranslated"] == {"specific_trap_out_of_range": 1}, d
        assert conserved(d), d

    # request-ids, read by tshark from what forward sent: one per translated trap, none 0, no two the same
    assert len(sent) == 2 * len(TRAPS), sent
    ids = tshark_request_ids(wire.pcap, ports.values())
    assert sorted(p for p, _ in ids) == sorted(list(ports.values()) * TRANSLATED), ids
    assert all(i != 0 for _, i in ids), ids
    assert len({i for _, i in ids}) == len(ids), ids
