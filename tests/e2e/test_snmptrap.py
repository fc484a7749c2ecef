"""snmptrap v1 / v2c / v3 (authPriv SHA/AES, fixed engine id) -> sekiwake capture -> forward -> snmptrapd:
each trap is logged by snmptrapd with its varbinds, so the relayed bytes are a valid (and for v3, still
decryptable) SNMP message."""

import os
import time

import pytest

from helpers.net import free_port
from helpers.snmp import snmptrap


@pytest.mark.parametrize("version", ["1", "2c", "3"])
def test_trap_via_capture_and_forward_reaches_snmptrapd(snmptrapd, sekiwake, version):
    port = free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    dest = f"udp://127.0.0.1:{snmptrapd.port}"
    fwd = sekiwake.forward(bus, {"snmptrap": dest})
    cap = sekiwake.capture(ports={"snmptrap": port}, publish=bus, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner

    marker = f"e2e-trap-v{version}-{os.getpid()}"
    out = snmptrap(port, version, [("1.3.6.1.4.1.99999.7.1", "s", marker),
                                   ("1.3.6.1.4.1.99999.7.2", "i", 4242),
                                   ("1.3.6.1.4.1.99999.7.3", "o", "1.3.6.1.4.1.99999.42")],
                   trap_oid="1.3.6.1.6.3.1.1.5.4")
    assert out.returncode == 0, out.stderr

    traps = snmptrapd.wait_traps(1, timeout=15)
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()

    assert len(traps) == 1, cap.output() + fwd.output()
    line = traps[0]
    assert line.startswith("V1 " if version == "1" else "V2 ")
    assert f'.1.3.6.1.4.1.99999.7.1 = STRING: "{marker}"' in line
    assert ".1.3.6.1.4.1.99999.7.2 = INTEGER: 4242" in line
    assert ".1.3.6.1.4.1.99999.7.3 = OID: .1.3.6.1.4.1.99999.42" in line
    if version == "1":
        assert "ent=.1.3.6.1.4.1.8072.2.3" in line and "gen=6" in line and "spec=.17" in line
        assert "agent=127.0.0.9" in line
    else:
        assert ".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.6.3.1.1.5.4" in line

    assert cap_rc == 0, cap.output()
    assert fwd_rc == 0, fwd.output()
    assert cap_stats["captured"]["snmptrap"] == 1
    assert cap_stats["captured_total"] == 1 and cap_stats["published"] == 1
    assert cap_stats["mismatched"] == 0
    assert fwd_stats["received"] == 1
    assert fwd.destination(fwd_stats, dest)["forwarded"] == 1
