"""net-snmp: Snmptrapd (one line per trap), snmptrap / snmpinform, and the SNMPv3 user both share."""

import os
import subprocess
import time
from pathlib import Path

from .net import free_port, tcp_listening, udp_bound
from .proc import Daemon, wait_until

# Engine id and user shared by snmptrapd's createUser and snmptrap -v 3 (shared/peers.md).
SNMP_ENGINE_ID = "0x8000000001020304"
SNMP_USER = "tuser"
SNMP_AUTH = ("SHA", "authpass123")
SNMP_PRIV = ("AES", "privpass123")

# net-snmp tools without MIB files: numeric OIDs only, and no warnings about missing MIBs.
NO_MIBS_ENV = {"MIBS": "", "MIBDIRS": "/nonexistent"}


def snmptrapd_setup(workdir):
    """snmptrapd's config in workdir (one line per trap: format1 V1 / format2 V2; the shared v3 user) and the
    environment it runs with (private persistent dir, no MIBs): (config path, env)."""
    conf = workdir / "snmptrapd.conf"
    auth, authpass = SNMP_AUTH
    priv, privpass = SNMP_PRIV
    conf.write_text(
        "disableAuthorization yes\n"
        "format1 V1 from=%b agent=%A ent=%N gen=%w spec=%q vars=%V~%v\\n\n"
        "format2 V2 from=%b vars=%V~%v\\n\n"
        f"createUser -e {SNMP_ENGINE_ID} {SNMP_USER} {auth} {authpass} {priv} {privpass}\n")
    persist = workdir / "persist"
    persist.mkdir(exist_ok=True)
    return conf, {"SNMP_PERSISTENT_DIR": str(persist), **NO_MIBS_ENV}


class Snmptrapd(Daemon):
    """snmptrapd on udp+tcp 127.0.0.1:port; one line per trap in traps.log (format1 V1 / format2 V2)."""

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        self.log = self.dir / "traps.log"
        self.conf, env = snmptrapd_setup(self.dir)
        super().__init__("snmptrapd",
                         ["snmptrapd", "-f", "-n", "-C", "-c", self.conf, "-Lf", self.log,
                          "-p", self.dir / "snmptrapd.pid", "-On",
                          f"udp:127.0.0.1:{self.port},tcp:127.0.0.1:{self.port}"],
                         self.dir, env=env)

    def start(self):
        super().start()
        self.wait_ready(lambda: udp_bound(self.port) and tcp_listening(self.port), what="listening")
        return self

    def traps(self):
        """Trap lines (those starting with V1/V2) of the log."""
        if not self.log.exists():
            return []
        return [l for l in self.log.read_text(errors="replace").splitlines() if l.startswith(("V1 ", "V2 "))]

    def wait_traps(self, count, timeout=15):
        wait_until(lambda: len(self.traps()) >= count, timeout)
        time.sleep(0.3)
        return self.traps()


def snmptrap(port, version, varbinds, trap_oid="1.3.6.1.6.3.1.1.5.3", community="public", host="127.0.0.1",
             clientaddr=None, enterprise="1.3.6.1.4.1.8072.2.3", agent="127.0.0.9", generic=6, specific=17,
             inform=False, transport="udp", timeout=10, usm=None, extra=(), engine=None):
    """Send one trap with net-snmp's snmptrap (or snmpinform).  varbinds: [(oid, type, value), ...].
    version: "1", "2c" or "3" (by default authPriv with the shared user and engine id; usm=(user, auth,
    authpass, priv, privpass) picks another user, with auth/priv None for noAuthNoPriv/authNoPriv).  extra: more
    options (e.g. v3 `-n CONTEXT -E CONTEXT_ENGINE_ID`).  engine: the v3 authoritative engine id (`-e`), by default
    the shared one."""
    prog = "snmpinform" if inform else "snmptrap"
    argv = [prog, "-v", version]
    if version == "3":
        user, auth, authpass, priv, privpass = usm or (SNMP_USER, *SNMP_AUTH, *SNMP_PRIV)
        argv += ["-e", engine or SNMP_ENGINE_ID, "-u", user]
        if auth:
            argv += ["-a", auth, "-A", authpass]
        if priv:
            argv += ["-x", priv, "-X", privpass]
        argv += ["-l", "authPriv" if priv else "authNoPriv" if auth else "noAuthNoPriv"]
    else:
        argv += ["-c", community]
    if clientaddr:
        argv += [f"--clientaddr={clientaddr}"]
    if inform:
        argv += ["-r", "0", "-t", "2"]
    argv += [str(a) for a in extra]
    argv += [f"{transport}:{host}:{port}"]
    if version == "1":
        argv += [enterprise, agent, str(generic), str(specific), ""]
    else:
        argv += ["", trap_oid]
    for oid, typ, value in varbinds:
        argv += [oid, typ, str(value)]
    env = dict(os.environ, **NO_MIBS_ENV)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
