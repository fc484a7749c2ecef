"""Real peers for the end-to-end tests: rsyslog, snmptrapd, nfcapd/nfdump, sfacctd, softflowd, pmacctd,
logger, snmptrap, tcpdump/tshark, network namespaces, and the sekiwake binary itself.

Every daemon runs in the foreground on a private config in a private directory, bound to 127.0.0.1 on a
free port, and is stopped by its own PID.  Nothing here sends traffic anywhere but loopback or namespaces
that the helpers create.  Recipes follow shared/peers.md.
"""

import contextlib
import glob
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOOLS = HERE / "tools"
PY = "/usr/bin/python3"
SEKIWAKE_BIN = os.environ.get("SEKIWAKE_BIN", str(REPO / "target" / "release" / "sekiwake"))
IN_CI = os.environ.get("CI", "").lower() == "true"
RUN_TAG = f"{os.getpid() % 100000}"
_counter = itertools.count(1)

# Engine id and user shared by snmptrapd's createUser and snmptrap -v 3 (shared/peers.md).
SNMP_ENGINE_ID = "0x8000000001020304"
SNMP_USER = "tuser"
SNMP_AUTH = ("SHA", "authpass123")
SNMP_PRIV = ("AES", "privpass123")


# --------------------------------------------------------------------------------------------- gating

def unavailable(reason):
    """Skip outside CI; in CI (CI=true) a missing prerequisite is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_root():
    if os.geteuid() != 0:
        unavailable("needs root (libpcap capture, network namespaces, privileged ports)")


def require_programs(*names):
    missing = [n for n in names if shutil.which(n) is None and not os.path.exists(n)]
    if missing:
        unavailable(f"programs not installed: {', '.join(missing)}")


def require_sekiwake():
    if not os.access(SEKIWAKE_BIN, os.X_OK):
        unavailable(f"sekiwake binary not found at {SEKIWAKE_BIN} (build it or set SEKIWAKE_BIN)")


def require_tool(name):
    path = TOOLS / name
    if not path.exists():
        unavailable(f"helper tool {path} is missing")
    return path


# --------------------------------------------------------------------------------------------- basics

def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate until it returns a truthy value or timeout seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_port(proto="udp", host="127.0.0.1"):
    """A port below the ephemeral range that is free for both UDP and TCP on host right now (so no client
    socket of the kernel's choosing can land on it later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        socks = []
        try:
            for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(family, typ)
                socks.append(s)
                s.bind((host, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        if not udp_bound(port) and not tcp_listening(port):
            return port
    raise RuntimeError("no free port found")


def expected_sequences(envelopes):
    """The sequence numbers a publisher gives these envelopes, in order: one counter per (kind, bucket)."""
    counters, out = {}, []
    for e in envelopes:
        key = (e["kind"], e["bucket"])
        out.append(counters.get(key, 0))
        counters[key] = out[-1] + 1
    return out


def unique_name(prefix):
    return f"{prefix}{RUN_TAG}x{next(_counter)}"


def _proc_net_ports(table, proc_root="/proc"):
    """(port, state) pairs of sockets in /proc/net/<table> (udp, udp6, tcp, tcp6)."""
    result = set()
    try:
        with open(f"{proc_root}/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                result.add((port, fields[3]))
    except FileNotFoundError:
        pass
    return result


def udp_rx_queued(port, proc_root="/proc"):
    """Bytes waiting in the receive queues of UDP sockets bound to port (0 once the owner read them all)."""
    total = 0
    for table in ("udp", "udp6"):
        try:
            with open(f"{proc_root}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        total += int(fields[4].split(":")[1], 16)
        except FileNotFoundError:
            pass
    return total


def wait_udp_drained(port, timeout=10):
    """Wait until the daemon on port has read everything queued to it, plus a short grace period."""
    wait_until(lambda: udp_rx_queued(port) == 0, timeout)
    time.sleep(0.3)


def udp_bound(port, proc_root="/proc"):
    return any(p == port for p, _ in _proc_net_ports("udp", proc_root) | _proc_net_ports("udp6", proc_root))


def tcp_listening(port, proc_root="/proc"):
    listen = "0A"
    return any(p == port and s == listen
               for p, s in _proc_net_ports("tcp", proc_root) | _proc_net_ports("tcp6", proc_root))


def has_packet_socket(pid):
    """True once process pid holds an AF_PACKET socket (libpcap has opened its live handle)."""
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            inodes = {line.split()[-1] for line in list(f)[1:]}
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


class Daemon:
    """A foreground subprocess with its output in files, stopped by its own PID."""

    def __init__(self, name, argv, workdir, env=None, stop_signal=signal.SIGTERM):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.env = env
        self.stop_signal = stop_signal
        self.proc = None

    def start(self):
        full_env = dict(os.environ)
        if self.env:
            full_env.update(self.env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=full_env, cwd=self.workdir)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        out = self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return f"--- {self.name} stdout ---\n{out[-4000:]}\n--- {self.name} stderr ---\n{err[-4000:]}"

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited early (rc={self.proc.returncode}): {self.argv}\n{self.output()}")

    def wait_ready(self, predicate, timeout=10, what="ready"):
        def ok():
            if predicate():
                return True
            self.check_alive()
            return False
        if not wait_until(ok, timeout):
            raise RuntimeError(f"{self.name} not {what} after {timeout}s\n{self.output()}")

    def stop(self, sig=None, timeout=10):
        """Signal our own PID and wait; escalate to SIGKILL after timeout.  Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig or self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


# --------------------------------------------------------------------------------------------- rsyslog

class Rsyslog(Daemon):
    """rsyslogd with imudp+imtcp on 127.0.0.1:port writing "%fromhost-ip% %rawmsg%" lines to raw.log."""

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        self.ready_port = free_port("tcp")
        self.raw_log = self.dir / "raw.log"
        self.ready_log = self.dir / "ready.log"
        self.conf = self.dir / "rsyslog.conf"
        self.conf.write_text(f"""
global(workDirectory="{self.dir}" net.enableDNS="off")
module(load="imudp")
module(load="imtcp")
input(type="imudp" port="{self.port}" address="127.0.0.1" ruleset="remote")
input(type="imtcp" port="{self.port}" address="127.0.0.1" ruleset="remote")
input(type="imtcp" port="{self.ready_port}" address="127.0.0.1" ruleset="ready")
template(name="raw" type="string" string="%fromhost-ip% %rawmsg%\\n")
ruleset(name="remote") {{ action(type="omfile" file="{self.raw_log}" template="raw") }}
ruleset(name="ready") {{ action(type="omfile" file="{self.ready_log}" template="raw") }}
""")
        super().__init__("rsyslogd", ["rsyslogd", "-n", "-f", self.conf, "-i", self.dir / "rsyslogd.pid"],
                         self.dir)

    def start(self):
        check = subprocess.run(["rsyslogd", "-N1", "-f", str(self.conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslog config invalid:\n{check.stdout}\n{check.stderr}")
        super().start()
        self.wait_ready(lambda: udp_bound(self.port) and tcp_listening(self.port)
                        and tcp_listening(self.ready_port), what="listening")
        # A marker through a separate ruleset proves the output pipeline writes files.
        marker = f"rsyslog-ready-{os.getpid()}-{time.monotonic_ns()}"
        with socket.create_connection(("127.0.0.1", self.ready_port), timeout=5) as s:
            s.sendall(f"<14>{marker}\n".encode())
        self.wait_ready(lambda: self.ready_log.exists() and marker in self.ready_log.read_text(errors="replace"),
                        what="writing its log")
        return self

    def lines(self):
        """raw.log split into (fromhost_ip, rawmsg) pairs."""
        if not self.raw_log.exists():
            return []
        data = self.raw_log.read_bytes().decode("utf-8", errors="surrogateescape")
        return [tuple(line.split(" ", 1)) if " " in line else (line, "")
                for line in data.split("\n") if line]

    def wait_lines(self, count, timeout=15):
        wait_until(lambda: len(self.lines()) >= count, timeout)
        time.sleep(0.3)  # let anything extra arrive too, so exact counts mean something
        return self.lines()


# --------------------------------------------------------------------------------------------- snmptrapd

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
    return conf, {"SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": "/nonexistent"}


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
             inform=False, transport="udp", timeout=10, usm=None, extra=()):
    """Send one trap with net-snmp's snmptrap (or snmpinform).  varbinds: [(oid, type, value), ...].
    version: "1", "2c" or "3" (by default authPriv with the shared user and engine id; usm=(user, auth,
    authpass, priv, privpass) picks another user, with auth/priv None for noAuthNoPriv/authNoPriv).  extra: more
    options (e.g. v3 `-n CONTEXT -E CONTEXT_ENGINE_ID`)."""
    prog = "snmpinform" if inform else "snmptrap"
    argv = [prog, "-v", version]
    if version == "3":
        user, auth, authpass, priv, privpass = usm or (SNMP_USER, *SNMP_AUTH, *SNMP_PRIV)
        argv += ["-e", SNMP_ENGINE_ID, "-u", user]
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
    env = dict(os.environ, MIBS="", MIBDIRS="/nonexistent")
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


# --------------------------------------------------------------------------------------------- nfcapd

class Nfcapd(Daemon):
    """nfcapd on udp 127.0.0.1:port storing into DIR/flows; SIGTERM flushes the current file."""

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.flowdir = self.dir / "flows"
        self.flowdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        super().__init__("nfcapd", ["nfcapd", "-w", self.flowdir, "-p", self.port, "-b", "127.0.0.1", "-t", "60",
                                    "-P", self.dir / "nfcapd.pid"], self.dir)

    def start(self):
        super().start()
        self.wait_ready(lambda: udp_bound(self.port), what="listening")
        return self

    def flush_and_read(self):
        """Stop nfcapd (SIGTERM flushes to nfcapd.YYYYMMDDhhmm) and return the flows nfdump reads."""
        wait_udp_drained(self.port)
        self.stop()
        return nfdump_flows(self.flowdir)


def nfdump_flows(flowdir, nfilter=None):
    """Flows in flowdir as a list of dicts (nfdump -R DIR -o json)."""
    files = [f for f in glob.glob(os.path.join(flowdir, "nfcapd.*")) if not f.endswith(".current")]
    if not files:
        return []
    argv = ["nfdump", "-R", str(flowdir), "-o", "json"]
    if nfilter:
        argv.append(nfilter)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"nfdump failed: {out.stderr}")
    text = out.stdout.strip()
    if not text or text.startswith("No matching flows"):
        return []
    return json.loads(text)


def flow_key(flow):
    """The fields that must survive a relay: addresses, ports, protocol, packets, bytes."""
    src = flow.get("src4_addr") or flow.get("src6_addr")
    dst = flow.get("dst4_addr") or flow.get("dst6_addr")
    return (src, dst, int(flow.get("src_port", 0)), int(flow.get("dst_port", 0)), int(flow.get("proto", 0)),
            int(flow.get("in_packets", 0)), int(flow.get("in_bytes", 0)))


def softflowd(pcap, host, port, version, workdir, timeout=60):
    """Replay pcap through softflowd, exporting NetFlow v5/v9 or IPFIX (10) to host:port; waits for it to end."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = ["softflowd", "-r", str(pcap), "-n", f"{host}:{port}", "-v", str(version), "-6", "-a", "-d",
            "-c", "none", "-p", str(workdir / f"softflowd-{version}.pid")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"softflowd failed rc={out.returncode}: {out.stdout}\n{out.stderr}")
    return out


# --------------------------------------------------------------------------------------------- pmacct

class Sfacctd(Daemon):
    """sfacctd on udp 127.0.0.1:port with a print plugin writing JSON lines; stopped with SIGINT."""

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        self.conf = self.dir / "sfacctd.conf"
        self.conf.write_text(f"""daemonize: false
pidfile: {self.dir}/sfacctd.pid
logfile: {self.dir}/sfacctd.log
sfacctd_ip: 127.0.0.1
sfacctd_port: {self.port}
plugins: print[p]
aggregate[p]: peer_src_ip,src_host,dst_host,src_port,dst_port,proto
print_output[p]: json
print_output_file[p]: {self.dir}/sflow-%s.json
print_refresh_time[p]: 2
print_output_file_append[p]: true
""")
        super().__init__("sfacctd", ["sfacctd", "-f", self.conf], self.dir, stop_signal=signal.SIGINT)

    def start(self):
        super().start()
        self.wait_ready(lambda: udp_bound(self.port), what="listening")
        return self

    def records(self):
        recs = []
        for path in sorted(glob.glob(str(self.dir / "sflow-*.json"))):
            with open(path) as f:
                recs += [json.loads(line) for line in f if line.strip()]
        return recs

    def flush_and_read(self):
        """SIGINT makes the print plugin write what it holds; return every JSON record written."""
        wait_udp_drained(self.port)
        self.stop()
        return self.records()


def sflow_key(rec):
    return (rec.get("ip_src"), rec.get("ip_dst"), int(rec.get("port_src", 0)), int(rec.get("port_dst", 0)),
            rec.get("ip_proto"), int(rec.get("packets", 0)), int(rec.get("bytes", 0)))


def sflow_totals(records):
    """Aggregate records by 5-tuple (print plugin may split a flow across refresh intervals)."""
    totals = {}
    for r in records:
        k = (r.get("ip_src"), r.get("ip_dst"), int(r.get("port_src", 0)), int(r.get("port_dst", 0)),
             r.get("ip_proto"))
        p, b = totals.get(k, (0, 0))
        totals[k] = (p + int(r.get("packets", 0)), b + int(r.get("bytes", 0)))
    return totals


def sflow_sample_counts(pcap, port):
    """Samples per sFlow v5 datagram to udp port in pcap (tshark's sflow decoder)."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-n", "-d", f"udp.port=={port},sflow", "-Y", "sflow",
                          "-T", "fields", "-E", "occurrence=f", "-e", "sflow_245.numsamples"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"tshark failed: {out.stderr}")
    return [int(x) for x in out.stdout.split()]


def pmacctd_sfprobe(pcap, host, port, workdir, agent_ip="127.0.0.7", timeout=60):
    """Read pcap with pmacctd and export sFlow v5 (sfprobe plugin, sampling 1) to host:port; waits for it."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "pmacctd-sfprobe.conf"
    conf.write_text(f"""daemonize: false
pidfile: {workdir}/pmacctd.pid
logfile: {workdir}/pmacctd.log
pcap_savefile: {pcap}
plugins: sfprobe[s]
sfprobe_receiver[s]: {host}:{port}
sfprobe_agentip[s]: {agent_ip}
sampling_rate: 1
""")
    d = Daemon("pmacctd", ["pmacctd", "-f", conf], workdir, stop_signal=signal.SIGINT).start()
    try:
        d.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        d.stop()
        raise RuntimeError(f"pmacctd did not finish the savefile in {timeout}s\n{d.output()}")
    return d


# --------------------------------------------------------------------------------------------- logger

def logger(port, message, rfc="rfc3164", host="127.0.0.1", tag="app", priority="local3.err", transport="udp",
           extra=()):
    argv = ["logger", "--server", host, "--port", str(port), f"--{transport}", f"--{rfc}", "-t", tag,
            "-p", priority, *extra, message]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"logger failed: {out.stderr}")
    return out


# --------------------------------------------------------------------------------------------- packet oracle

class PacketCapture(Daemon):
    """tcpdump writing a pcap of a filter on an interface (the oracle of what was on the wire)."""

    def __init__(self, workdir, bpf, iface="lo", netns=None, name="tcpdump"):
        self.dir = Path(workdir)
        self.pcap = self.dir / f"{name}.pcap"
        # --immediate-mode: without it a short capture stopped by SIGINT can hold its packets in the kernel
        # buffer ("4 received by filter, 0 captured"); -Z root: pytest's tmp dirs are 0700 root
        argv = ["tcpdump", "-i", iface, "-U", "--immediate-mode", "-Z", "root", "-n", "-s", "0", "-B", "16384",
                "-w", str(self.pcap), bpf]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        super().__init__(name, argv, self.dir, stop_signal=signal.SIGINT)

    def start(self):
        super().start()
        self.wait_ready(lambda: "listening on" in self.stderr_path.read_text(errors="replace"),
                        what="capturing")
        time.sleep(0.2)
        return self

    def stop_and_payloads(self, decode_as=()):
        self.stop()
        return tshark_udp_payloads(self.pcap, decode_as)


def tshark_udp_payloads(pcap, decode_as=(), display_filter="udp"):
    """[(src, sport, dst, dport, payload bytes)] for every reassembled UDP datagram in pcap, in file order."""
    argv = ["tshark", "-r", str(pcap), "-n", "-o", "ip.defragment:TRUE", "-o", "ipv6.defragment:TRUE"]
    for d in decode_as:
        argv += ["-d", d]
    argv += ["-Y", display_filter, "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
             "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "ipv6.dst",
             "-e", "udp.dstport", "-e", "udp.payload"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"tshark failed: {out.stderr}")
    rows = []
    for line in out.stdout.splitlines():
        src4, src6, sport, dst4, dst6, dport, payload = line.split("|")
        rows.append((src4 or src6, int(sport), dst4 or dst6, int(dport),
                     bytes.fromhex(payload.replace(":", ""))))
    return rows


# --------------------------------------------------------------------------------------------- namespaces

class NetnsPair:
    """Two network namespaces joined by a veth pair.  A: 198.51.100.1/24, 2001:db8:5eb::1/64 on veth_a;
    B: .2 and ::2 on veth_b.  No default route; rp_filter=0 everywhere; IPv6 addresses with nodad."""

    V4 = ("198.51.100.1", "198.51.100.2")
    V6 = ("2001:db8:5eb::1", "2001:db8:5eb::2")

    def __init__(self, mtu=1500):
        tag = unique_name("")
        self.ns_a, self.ns_b = f"skw-{tag}-a", f"skw-{tag}-b"
        self.veth_a, self.veth_b = f"skwa{tag}"[:15], f"skwb{tag}"[:15]
        self.mtu = mtu
        self.a4, self.b4 = self.V4
        self.a6, self.b6 = self.V6

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def _sysctl(self, ns, key, value):
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"], check=True,
                       capture_output=True, timeout=10)

    def __enter__(self):
        try:
            self._ip("netns", "add", self.ns_a)
            self._ip("netns", "add", self.ns_b)
            self._ip("link", "add", self.veth_a, "type", "veth", "peer", "name", self.veth_b)
            self._ip("link", "set", self.veth_a, "netns", self.ns_a)
            self._ip("link", "set", self.veth_b, "netns", self.ns_b)
            for ns, dev, v4, v6 in ((self.ns_a, self.veth_a, self.a4, self.a6),
                                    (self.ns_b, self.veth_b, self.b4, self.b6)):
                for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter",
                            f"net.ipv4.conf.{dev}.rp_filter"):
                    self._sysctl(ns, key, 0)
                self._ip("-n", ns, "link", "set", "lo", "up")
                self._ip("-n", ns, "link", "set", dev, "mtu", str(self.mtu))
                self._ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
                self._ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                self._ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        # the veth pair dies with its namespaces; if it never moved, delete it from the host
        subprocess.run(["ip", "link", "del", self.veth_a], capture_output=True, timeout=10)
        return False

    def exec_argv(self, ns, argv):
        return ["ip", "netns", "exec", ns, *[str(a) for a in argv]]

    def run(self, ns, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 30)
        return subprocess.run(self.exec_argv(ns, argv), **kw)


netns_pair = NetnsPair  # `with netns_pair(mtu=1280) as ns: ...`


# --------------------------------------------------------------------------------------------- sekiwake

class SekiwakeProc(Daemon):
    """One sekiwake role subprocess with its --stats file."""

    def __init__(self, role, argv, workdir, stats_path=None, publish=None, netns=None):
        name = unique_name(f"sekiwake-{role}-")
        self.role = role
        self.stats_path = Path(stats_path) if stats_path else None
        self.publish = publish
        self.netns = netns
        full = [SEKIWAKE_BIN, role, *[str(a) for a in argv]]
        if netns:
            full = ["ip", "netns", "exec", netns, *full]
        super().__init__(name, full, workdir)

    def wait_ready_capturing(self, timeout=10):
        """Live capture: wait until the process holds an AF_PACKET socket (libpcap opened its interface)."""
        self.wait_ready(lambda: has_packet_socket(self.pid), timeout=timeout, what="capturing")

    def stats(self):
        """The last stats JSON written (None before the first write)."""
        if not self.stats_path or not self.stats_path.exists():
            return None
        try:
            return json.loads(self.stats_path.read_text())
        except json.JSONDecodeError:
            return None  # renamed atomically, so this should not happen; retry on the next poll

    def wait_stats(self, predicate, timeout=15):
        """Poll the stats file until predicate(stats) holds; returns the last stats seen."""
        last = [None]

        def ok():
            last[0] = self.stats()
            return last[0] is not None and predicate(last[0])
        wait_until(ok, timeout, 0.1)
        return last[0]

    def terminate(self, timeout=15):
        """SIGTERM and wait; returns (exit code, final stats)."""
        rc = self.stop(signal.SIGTERM, timeout)
        return rc, self.stats()

    def stdout_lines(self):
        return self.stdout_path.read_text(errors="replace").splitlines() if self.stdout_path.exists() else []

    def wait_exit(self, timeout=30):
        """Wait for a role that ends by itself (pcap replay); returns (exit code, final stats)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGTERM, 10)
            raise AssertionError(f"{self.name} did not exit within {timeout}s\n{self.output()}")
        return self.proc.returncode, self.stats()

    def json_lines(self):
        """stdout parsed as JSON lines (sekiwake tap)."""
        return [json.loads(l) for l in self.stdout_lines() if l.strip()]

    def destination(self, stats, url):
        """The forward stats entry of destination url."""
        for d in stats["destinations"]:
            if d["url"] == url:
                return d
        raise AssertionError(f"no destination {url} in {stats}")


class Sekiwake:
    """Starts sekiwake roles for one test and stops all of them (by PID) at teardown."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs = []

    def _stats_path(self, role):
        return self.dir / f"{unique_name(role + '-')}.stats.json"

    def capture(self, *extra, ifaces=("lo",), ports=None, publish=None, pcap=None, hwm=None,
                wait_subscribers=None, stats=True, netns=None, wait_ready=True, config=None):
        """Start `sekiwake capture`.  ports: {"syslog": P, ...} -> --port KIND=P.  Waits until the bus port
        listens and, for live capture, until the process holds its packet socket.  A capture told to
        --wait-subscribers may open its interfaces only once they are there: when the subscribers start after
        it, pass wait_ready=False and call proc.wait_ready_capturing() after starting them."""
        publish = publish or f"tcp://127.0.0.1:{free_port('tcp')}"
        stats_path = self._stats_path("capture") if stats else None
        argv = []
        if config:
            argv += ["-c", config]
        if pcap:
            argv += ["--pcap", pcap]
        else:
            for i in ifaces:
                argv += ["-i", i]
        for kind, port in (ports or {}).items():
            for p in (port if isinstance(port, (list, tuple)) else [port]):
                argv += ["--port", f"{kind}={p}"]
        argv += ["--publish", publish]
        if hwm is not None:
            argv += ["--hwm", hwm]
        if wait_subscribers is not None:
            argv += ["--wait-subscribers", wait_subscribers]
        if stats_path:
            argv += ["--stats", stats_path, "--stats-interval", "1"]
        argv += list(extra)
        p = SekiwakeProc("capture", argv, self.dir, stats_path, publish, netns)
        self.procs.append(p)
        p.start()
        port = int(publish.rsplit(":", 1)[1]) if publish.startswith("tcp://") else None
        if port:
            p.wait_ready(lambda: tcp_listening(port, f"/proc/{p.pid}"), what="publishing")
        if wait_ready and not pcap:
            p.wait_ready_capturing()
        return p

    def forward(self, subscribe, to, *extra, stats=True, netns=None, config=None):
        """Start `sekiwake forward`.  subscribe: endpoint or list; to: {"syslog": "udp://127.0.0.1:R"} or list
        of "KIND=URL" strings."""
        stats_path = self._stats_path("forward") if stats else None
        argv = []
        if config:
            argv += ["-c", config]
        subs = [subscribe] if isinstance(subscribe, str) else list(subscribe)
        for s in subs:  # one flag per value: works whether the CLI takes `--x a b` or `--x a --x b`
            argv += ["--subscribe", s]
        tos = [f"{k}={v}" for k, v in to.items()] if isinstance(to, dict) else list(to)
        for t in tos:
            argv += ["--to", t]
        if stats_path:
            argv += ["--stats", stats_path, "--stats-interval", "1"]
        argv += list(extra)
        p = SekiwakeProc("forward", argv, self.dir, stats_path, None, netns)
        self.procs.append(p)
        p.start()
        # forward has no readiness signal: its first stats write means its loop is running
        if stats_path:
            p.wait_ready(lambda: p.stats() is not None, timeout=10, what="running (no stats file)")
        return p

    def tap(self, subscribe, *kinds, netns=None, decode=False, snmp_users=()):
        """Start `sekiwake tap` (with decode=True: `--decode`, records instead of envelopes); its stdout lines
        are in proc.stdout_lines() / proc.json_lines()."""
        argv = ["--subscribe", subscribe]
        for k in kinds:
            argv += ["--kind", k]
        if decode:
            argv += ["--decode"]
        for u in snmp_users:
            argv += ["--snmp-user", u]
        p = SekiwakeProc("tap", argv, self.dir, None, None, netns)
        self.procs.append(p)
        return p.start()

    def send(self, *argv, timeout=120):
        """Run `sekiwake send ...` to completion."""
        return subprocess.run([SEKIWAKE_BIN, "send", *[str(a) for a in argv]], capture_output=True, text=True,
                              timeout=timeout)

    def run(self, *argv, timeout=60):
        return subprocess.run([SEKIWAKE_BIN, *[str(a) for a in argv]], capture_output=True, text=True,
                              timeout=timeout)

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop(signal.SIGTERM, 10)


# --------------------------------------------------------------------------------------------- bus subscriber

def envelope_module():
    """Import tools/envelope.py (decode(topic, body) -> dict)."""
    import importlib.util
    path = require_tool("envelope.py")
    spec = importlib.util.spec_from_file_location("skw_envelope", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BusSubscriber(Daemon):
    """tools/envelope.py sub --connect EP --count N --timeout S --out FILE, started and waited for 'ready'.
    Strict decoding (unless lenient); results() are its JSON lines: envelope.decode() fields + payload_hex."""

    def __init__(self, workdir, endpoint, count, timeout=30, prefix=None, lenient=False):
        self.dir = Path(workdir)
        self.out = self.dir / f"{unique_name('sub-')}.jsonl"
        argv = [PY, require_tool("envelope.py"), "sub", "--connect", endpoint, "--count", count,
                "--timeout", timeout, "--out", self.out]
        if prefix is not None:
            argv += ["--subscribe", prefix]
        if lenient:
            argv += ["--lenient"]
        super().__init__(unique_name("envelope-sub-"), argv, self.dir)
        self.timeout = timeout

    def start(self):
        super().start()
        self.wait_ready(lambda: "ready" in self.stdout_path.read_text(errors="replace"), what="subscribed")
        return self

    def wait_done(self):
        try:
            self.proc.wait(self.timeout + 10)
        except subprocess.TimeoutExpired:
            self.stop()
        return self.results()

    def results(self):
        if not self.out.exists():
            return []
        text = self.out.read_text()
        text = text.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [json.loads(l) for l in text.splitlines() if l.strip()]


# --------------------------------------------------------------------------------------------- pytest fixtures

@pytest.fixture
def rsyslog(tmp_path):
    require_programs("rsyslogd")
    d = Rsyslog(tmp_path / "rsyslog")
    try:
        yield d.start()
    finally:
        d.stop()


@pytest.fixture
def snmptrapd(tmp_path):
    require_programs("snmptrapd", "snmptrap")
    d = Snmptrapd(tmp_path / "snmptrapd")
    try:
        yield d.start()
    finally:
        d.stop()


def _daemon_factory(cls, tmp_path, default_name):
    """A fixture body: yields make(name) that starts a cls daemon in its own dir; stops them all at teardown."""
    started = []

    def make(name=default_name):
        d = cls(tmp_path / unique_name(name + "-"))
        started.append(d)
        return d.start()
    try:
        yield make
    finally:
        for d in started:
            d.stop()


@pytest.fixture
def nfcapd_factory(tmp_path):
    require_programs("nfcapd", "nfdump")
    yield from _daemon_factory(Nfcapd, tmp_path, "nfcapd")


@pytest.fixture
def nfcapd(nfcapd_factory):
    return nfcapd_factory()


@pytest.fixture
def sfacctd_factory(tmp_path):
    require_programs("sfacctd", "pmacctd")
    yield from _daemon_factory(Sfacctd, tmp_path, "sfacctd")


@pytest.fixture
def sfacctd(sfacctd_factory):
    return sfacctd_factory()


@pytest.fixture
def sekiwake(tmp_path):
    require_root()
    require_sekiwake()
    s = Sekiwake(tmp_path / "sekiwake")
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def netns():
    """Factory: `with netns(mtu=1280) as pair:` -- namespaces deleted on exit even on failure."""
    require_root()
    require_programs("ip")
    made = []

    def make(mtu=1500):
        pair = NetnsPair(mtu)
        made.append(pair)
        return pair
    try:
        yield make
    finally:
        for pair in made:
            pair.__exit__(None, None, None)


def mkpcap(*args, timeout=120):
    """Run tools/mkpcap.py with Debian's python (scapy)."""
    tool = require_tool("mkpcap.py")
    out = subprocess.run([PY, str(tool), *[str(a) for a in args]], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"mkpcap.py {args} failed: {out.stdout}\n{out.stderr}")
    return out


def builtin_flows_pcap(path):
    """A small deterministic flows pcap (used only by the direct peer baselines when tools/mkpcap.py is absent):
    IPv4 TCP sessions closed with FIN, IPv4 UDP exchanges, and one IPv6 UDP flow, with fixed timestamps."""
    from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, wrpcap
    pkts = []
    t = 1_700_000_000.0
    eth = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

    def add(p):
        nonlocal t
        t += 0.01
        p.time = t
        pkts.append(p)
    for i in range(4):
        c, s, sport = f"192.0.2.{10 + i}", f"198.51.100.{20 + i}", 40000 + i
        add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="S"))
        add(Ether(**eth) / IP(src=s, dst=c) / TCP(sport=80, dport=sport, flags="SA"))
        for k in range(i + 1):
            add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="PA") / Raw(b"x" * (100 + k)))
        add(Ether(**eth) / IP(src=c, dst=s) / TCP(sport=sport, dport=80, flags="FA"))
        add(Ether(**eth) / IP(src=s, dst=c) / TCP(sport=80, dport=sport, flags="FA"))
    for i in range(3):
        c, s = f"192.0.2.{50 + i}", "203.0.113.53"
        for k in range(2 + i):
            add(Ether(**eth) / IP(src=c, dst=s) / UDP(sport=50000 + i, dport=53) / Raw(b"q" * (30 + i)))
    for k in range(3):
        add(Ether(**eth) / IPv6(src="2001:db8::10", dst="2001:db8::20") / UDP(sport=5353, dport=123)
            / Raw(b"v" * 48))
    wrpcap(str(path), pkts)
    return path


SFLOW_FILLER = ("192.0.2.250", "192.0.2.251", 9, 9, 17)


def sflow_pcap(path, filler=30):
    """The flows pcap plus `filler` UDP packets of one extra flow (SFLOW_FILLER) at the end.  pmacctd exits at
    the end of a savefile without sending its last, partly filled sFlow datagram, and how full that one is
    varies from run to run; the filler makes sure only filler samples can be in it."""
    from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap
    flows_pcap(path)
    pkts = rdpcap(str(path))
    t = float(max(p.time for p in pkts))
    src, dst, sport, dport, _ = SFLOW_FILLER
    for i in range(filler):
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / \
            UDP(sport=sport, dport=dport) / Raw(bytes(64))
        p.time = t + 0.1 * (i + 1)
        pkts.append(p)
    wrpcap(str(path), pkts)
    return path


def without_filler(totals):
    """sflow_totals() without the filler flow."""
    src, dst, sport, dport, _ = SFLOW_FILLER
    return {k: v for k, v in totals.items() if k[:4] != (src, dst, sport, dport)}


def flows_pcap(path):
    """tools/mkpcap.py flows OUT when the tool exists, else the builtin one."""
    if (TOOLS / "mkpcap.py").exists():
        mkpcap("flows", path)
        return path
    return builtin_flows_pcap(path)


# --------------------------------------------------------------------------------------------- UDP sink / sender

@contextlib.contextmanager
def drain_socket(port, host="127.0.0.1"):
    """Bind host:port and never read: the kernel queues (then drops) datagrams instead of answering ICMP port
    unreachable, so exporters with connected sockets never see ECONNREFUSED.  libpcap still sees everything."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        yield s
    finally:
        s.close()


class UdpSink(Daemon):
    """udpsink.py bound to HOST:PORT (optionally inside a namespace); results() -> [(src, sport, bytes)]."""

    def __init__(self, workdir, host="127.0.0.1", port=None, count=1, timeout=30, idle=0, netns=None,
                 rcvbuf=4 << 20):
        self.dir = Path(workdir)
        self.host = host
        self.port = port or free_port("udp", host if netns is None else "127.0.0.1")
        self.out = self.dir / f"{unique_name('sink-')}.jsonl"
        self.timeout = timeout
        bind = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        argv = [PY, HERE / "udpsink.py", "--bind", bind, "--count", count, "--timeout", timeout,
                "--idle", idle, "--rcvbuf", rcvbuf, "--out", self.out]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        super().__init__(unique_name("udpsink-"), argv, self.dir)

    @property
    def url(self):
        return f"udp://[{self.host}]:{self.port}" if ":" in self.host else f"udp://{self.host}:{self.port}"

    def start(self):
        super().start()
        self.wait_ready(lambda: "ready" in self.stdout_path.read_text(errors="replace"), what="bound")
        return self

    def results(self, wait=True):
        """Wait for the sink to finish (count reached, idle or timeout) and return what it got."""
        if wait:
            try:
                self.proc.wait(self.timeout + 15)
            except subprocess.TimeoutExpired:
                self.stop(signal.SIGKILL)
        if not self.out.exists():
            raise RuntimeError(f"udpsink wrote no output\n{self.output()}")
        rows = [json.loads(l) for l in self.out.read_text().splitlines() if l.strip()]
        return [(r["src"], r["sport"], bytes.fromhex(r["hex"])) for r in rows]


def send_udp(payloads, dst, dport, src="127.0.0.1", sport=0, netns=None, gap=0.0):
    """Send payloads (list of bytes) as UDP datagrams from src:sport to dst:dport, from one socket; inside
    netns via a short python child.  Returns the (src, sport) actually used."""
    if netns is None:
        family = socket.AF_INET6 if ":" in dst else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, sport))
            for p in payloads:
                s.sendto(p, (dst, dport))
                if gap:
                    time.sleep(gap)
            return s.getsockname()[:2]
    code = ("import socket,sys,json,time\n"
            "a=json.loads(sys.argv[1]);fam=socket.AF_INET6 if ':' in a['dst'] else socket.AF_INET\n"
            "s=socket.socket(fam,socket.SOCK_DGRAM);s.bind((a['src'],a['sport']))\n"
            "[(s.sendto(bytes.fromhex(p),(a['dst'],a['dport'])),time.sleep(a['gap'])) for p in a['p']]\n"
            "print(json.dumps(list(s.getsockname()[:2])))\n")
    arg = json.dumps({"src": src, "sport": sport, "dst": dst, "dport": dport, "gap": gap,
                      "p": [p.hex() for p in payloads]})
    out = subprocess.run(["ip", "netns", "exec", netns, PY, "-c", code, arg], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"send in {netns} failed: {out.stderr}")
    return tuple(json.loads(out.stdout))


def pcap_flow_totals(pcap, ipv4_only=False):
    """{(src, dst, sport, dport, proto): (packets, ip_bytes, frame_bytes)} of the TCP/UDP packets in pcap."""
    from scapy.all import IP, IPv6, TCP, UDP, rdpcap
    totals = {}
    for pkt in rdpcap(str(pcap)):
        if IP in pkt:
            ip, length = pkt[IP], pkt[IP].len
        elif IPv6 in pkt and not ipv4_only:
            ip, length = pkt[IPv6], pkt[IPv6].plen + 40
        else:
            continue
        l4 = pkt[TCP] if TCP in pkt else pkt[UDP] if UDP in pkt else None
        if l4 is None:
            continue
        key = (ip.src, ip.dst, l4.sport, l4.dport, 6 if TCP in pkt else 17)
        p, b, fb = totals.get(key, (0, 0, 0))
        totals[key] = (p + 1, b + length, fb + len(pkt))
    return totals


# --------------------------------------------------------------------------------------------- syslog over TCP/TLS
# Used by test_relay_stream.py (forward's tcp:// and tls:// destinations): a test PKI made with openssl, and an
# rsyslogd whose imtcp inputs speak plain TCP or TLS (gtls netstream driver) and store every message byte-exact.

def make_test_pki(directory):
    """Make a throwaway PKI in directory with openssl (EC P-256, valid 2 days).  Returns a dict of paths:
    ca/ca_key and other/other_key (two unrelated CAs), server/server_key (CN and SAN DNS:localhost, SAN
    IP:127.0.0.1, signed by ca), client/client_key (CN and SAN DNS:client.sekiwake.test, clientAuth, signed by ca)."""
    require_programs("openssl")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        out = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True, cwd=d,
                             timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {out.stderr}")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=sekiwake e2e {ca} CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaves = {"server": ("localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth"),
              "client": ("client.sekiwake.test", "DNS:client.sekiwake.test", "clientAuth")}
    for name, (cn, san, usage) in leaves.items():
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                                       f"keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    paths = {}
    for name in ("ca", "other", "server", "client"):
        paths[name] = d / f"{name}.pem"
        paths[f"{name}_key"] = d / f"{name}.key"
    return paths


def require_rsyslog_tls():
    """rsyslog's gtls netstream driver (package rsyslog-gnutls)."""
    if not glob.glob("/usr/lib/*/rsyslog/lmnsd_gtls.so") + glob.glob("/usr/lib*/rsyslog/lmnsd_gtls.so"):
        unavailable("rsyslog's gtls driver lmnsd_gtls.so is missing (apt-get install rsyslog-gnutls)")


def parse_raw_records(data):
    """Split a file of `<<MSG>>\\n` records (RsyslogStream's template) into the MSG bytes; a record still being
    written at the end is left out."""
    out, pos = [], 0
    while data.startswith(b"<<", pos):
        end = data.find(b">>\n", pos + 2)
        if end < 0:
            break
        out.append(data[pos + 2:end])
        pos = end + 3
    return out


class RsyslogStream(Daemon):
    """rsyslogd with imtcp inputs on 127.0.0.1, each writing every message it receives as `<<%rawmsg%>>\\n` to
    DIR/NAME.log.  Receive sanitizing is off (no #011 escapes, a trailing LF is kept), so a record is the
    message's bytes as framed (RFC 6587 octet counting or LF, both auto-detected by imtcp), and records are in
    arrival order (one main queue worker).

    inputs: {NAME: None for plain TCP, or "anon" / "x509/name" for TLS with the gtls driver (StreamDriver.Mode 1)
    presenting pki["server"]; "x509/name" also requires a client certificate signed by pki["ca"] whose name is
    in permitted (default client.sekiwake.test)}.  Ports are picked free once and kept across restarts, so
    stop() + start() brings the same listeners back."""

    def __init__(self, workdir, inputs, pki=None, permitted=("client.sekiwake.test",)):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.inputs = dict(inputs)
        self.ports = {name: free_port("tcp") for name in self.inputs}
        self.ready_port = free_port("tcp")
        self.ready_log = self.dir / "ready.log"
        self.conf = self.dir / "rsyslog.conf"
        self.starts = 0
        tls_global = ""
        if any(self.inputs.values()):
            if pki is None:
                raise ValueError("TLS inputs need pki (make_test_pki)")
            tls_global = (f'DefaultNetstreamDriverCAFile="{pki["ca"]}" '
                          f'DefaultNetstreamDriverCertFile="{pki["server"]}" '
                          f'DefaultNetstreamDriverKeyFile="{pki["server_key"]}"')
        lines = [f'global(workDirectory="{self.dir}" net.enableDNS="off" maxMessageSize="64k"',
                 '       parser.escapeControlCharactersOnReceive="off" parser.dropTrailingLFOnReception="off"',
                 f'       {tls_global})',
                 # one main queue worker: with more, rsyslog writes batches (256 messages) out of order
                 'main_queue(queue.workerThreads="1")',
                 'module(load="imtcp")',
                 'template(name="rawrec" type="string" string="<<%rawmsg%>>\\n")',
                 f'input(type="imtcp" port="{self.ready_port}" address="127.0.0.1" ruleset="ready")',
                 f'ruleset(name="ready") {{ action(type="omfile" file="{self.ready_log}" template="rawrec") }}']
        for name, auth in self.inputs.items():
            tls = ""
            if auth:
                tls = f' streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="{auth}"'
                if auth == "x509/name":
                    tls += " permittedPeer=[" + ",".join(f'"{p}"' for p in permitted) + "]"
            lines.append(f'input(type="imtcp" port="{self.ports[name]}" address="127.0.0.1" ruleset="r_{name}"{tls})')
            lines.append(f'ruleset(name="r_{name}") {{ action(type="omfile" file="{self.log(name)}" '
                         f'template="rawrec") }}')
        self.conf.write_text("\n".join(lines) + "\n")
        super().__init__("rsyslogd", ["rsyslogd", "-n", "-f", self.conf, "-i", self.dir / "rsyslogd.pid"],
                         self.dir)

    def log(self, name):
        return self.dir / f"{name}.log"

    def start(self):
        if self.starts == 0:
            check = subprocess.run(["rsyslogd", "-N1", "-f", str(self.conf)], capture_output=True, text=True,
                                   timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"rsyslog config invalid:\n{check.stdout}\n{check.stderr}")
        self.starts += 1
        # a fresh pair of output files per start, so a restart keeps the first run's messages
        self.stdout_path = self.dir / f"rsyslogd-{self.starts}.stdout"
        self.stderr_path = self.dir / f"rsyslogd-{self.starts}.stderr"
        super().start()
        self.wait_ready(lambda: all(tcp_listening(p) for p in [*self.ports.values(), self.ready_port]),
                        what="listening")
        marker = f"rsyslog-ready-{os.getpid()}-{time.monotonic_ns()}"
        with socket.create_connection(("127.0.0.1", self.ready_port), timeout=5) as s:
            s.sendall(f"<14>{marker}\n".encode())
        self.wait_ready(lambda: self.ready_log.exists() and marker in self.ready_log.read_text(errors="replace"),
                        what="writing its log")
        return self

    def log_size(self, name):
        try:
            return self.log(name).stat().st_size
        except FileNotFoundError:
            return 0

    def records(self, name):
        """The messages input NAME received so far, in arrival order."""
        try:
            return parse_raw_records(self.log(name).read_bytes())
        except FileNotFoundError:
            return []

    def wait_records(self, name, count, timeout=15, settle=0.3):
        """Wait until NAME holds at least count messages (or timeout), then a little longer so that extra ones
        show up too; returns them."""
        wait_until(lambda: len(self.records(name)) >= count, timeout, 0.1)
        time.sleep(settle)
        return self.records(name)


def proc_cpu_seconds(pid):
    """utime + stime of process pid (all its threads) in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
