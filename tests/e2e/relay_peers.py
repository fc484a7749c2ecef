"""Helpers of the relay tests (test_relay_*.py): a chain of three network namespaces, the real collectors
(rsyslog, snmptrapd, nfcapd) listening on any address inside a namespace (or on loopback), a port holder,
in-process UDP receivers, and a writer for forward configuration files.

Everything here runs on loopback or inside namespaces the tests create (no default route, IP forwarding off,
rp_filter set explicitly), and every process is stopped by its own PID at teardown.  The fixtures `chain` and
`daemons` are in conftest.py.
"""

import contextlib
import json
import re
import selectors
import socket
import subprocess
import threading
import time
from pathlib import Path

from helpers.env import PY, SEKIWAKE_BIN
from helpers.net import free_port, send_udp, udp_bound, udp_rx_queued
from helpers.netflow import nfdump_flows
from helpers.proc import Daemon, unique_name, wait_until
from helpers.snmp import SNMP_AUTH, SNMP_ENGINE_ID, SNMP_PRIV, SNMP_USER, snmptrapd_setup

SEQ = re.compile(rb"seq=(\d+)")


def seq_of(payload):
    m = SEQ.search(payload)
    assert m, f"no seq=N in {payload[:100]!r}"
    return int(m.group(1))


def in_netns(netns, argv):
    argv = [str(a) for a in argv]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def proc_root(pid, netns):
    """/proc view of the network namespace a daemon runs in (`ip netns exec` execs, so its PID is the daemon)."""
    return f"/proc/{pid}" if netns else "/proc"


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------------------------- namespaces

class Chain:
    """Three namespaces in a row: exporter --net1-- relay --net2-- collector, each link a veth pair with the given
    MTU.  net1: 198.51.100.0/24 and 2001:db8:51::/64 (exporter .1/::1, relay .2/::2); net2: 203.0.113.0/24 and
    2001:db8:203::/64 (relay .2/::2, collector .3/::3).  IP forwarding is off in all three (so nothing reaches the
    collector unless a process in the relay sends it), no default route anywhere, rp_filter=0 everywhere (the
    collector receives datagrams from exporter addresses it has no route to)."""

    ROLES = ("exp", "rly", "col")
    ADDR = {
        ("exp", 4): "198.51.100.1", ("exp", 6): "2001:db8:51::1",
        ("rly_in", 4): "198.51.100.2", ("rly_in", 6): "2001:db8:51::2",
        ("rly_out", 4): "203.0.113.2", ("rly_out", 6): "2001:db8:203::2",
        ("col", 4): "203.0.113.3", ("col", 6): "2001:db8:203::3",
    }

    def __init__(self, mtu=1500):
        tag = unique_name("")
        self.mtu = mtu
        self.ns = {r: f"skwr-{tag}-{r}" for r in self.ROLES}
        # veth names: net1 is exp<->rly, net2 is rly<->col (at most 15 characters)
        self.dev = {"exp": f"r{tag}e1"[:15], "rly_in": f"r{tag}r1"[:15], "rly_out": f"r{tag}r2"[:15],
                    "col": f"r{tag}c2"[:15]}

    def addr(self, where, family):
        return self.ADDR[(where, family)]

    @staticmethod
    def _ip(*args):
        out = subprocess.run(["ip", *[str(a) for a in args]], capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError(f"ip {' '.join(map(str, args))}: {out.stderr}")

    def sysctl(self, role, key, value):
        out = subprocess.run(["ip", "netns", "exec", self.ns[role], "sysctl", "-q", "-w", f"{key}={value}"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError(f"sysctl {key}={value} in {role}: {out.stderr}")

    def __enter__(self):
        try:
            for ns in self.ns.values():
                self._ip("netns", "add", ns)
            for a, b in (("exp", "rly_in"), ("rly_out", "col")):
                self._ip("link", "add", self.dev[a], "type", "veth", "peer", "name", self.dev[b])
            place = {"exp": "exp", "rly_in": "rly", "rly_out": "rly", "col": "col"}
            for where, role in place.items():
                self._ip("link", "set", self.dev[where], "netns", self.ns[role])
            for role in self.ROLES:
                ns = self.ns[role]
                for key in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
                            "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"):
                    self.sysctl(role, key, 0)
                self._ip("-n", ns, "link", "set", "lo", "up")
            for where, role in place.items():
                ns, dev = self.ns[role], self.dev[where]
                self.sysctl(role, f"net.ipv4.conf.{dev}.rp_filter", 0)
                self._ip("-n", ns, "link", "set", dev, "mtu", self.mtu)
                self._ip("-n", ns, "addr", "add", f"{self.addr(where, 4)}/24", "dev", dev)
                self._ip("-n", ns, "addr", "add", f"{self.addr(where, 6)}/64", "dev", dev, "nodad")
                self._ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        for dev in self.dev.values():  # only if a veth never moved into its namespace
            subprocess.run(["ip", "link", "del", dev], capture_output=True, timeout=10)
        return False

    def run(self, role, argv, check=True, timeout=30):
        out = subprocess.run(in_netns(self.ns[role], argv), capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"in {role}: {argv}: rc={out.returncode}\n{out.stdout}\n{out.stderr}")
        return out


# --------------------------------------------------------------------------------------------- collectors

class NsRsyslog(Daemon):
    """rsyslogd with one imudp input per name -> its own ruleset and file (name.log) written with `template`
    (an rsyslog string template, default "%fromhost-ip% %rawmsg%\\n"), inside netns (or on the host).  A
    separate input on 127.0.0.1 proves readiness."""

    def __init__(self, workdir, inputs, netns=None, template="%fromhost-ip% %rawmsg%\\n"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.inputs = dict(inputs)  # name -> (host, port)
        self.ready_port = free_port("udp") if netns is None else 29999
        self.ready_log = self.dir / "ready.log"
        self.conf = self.dir / "rsyslog.conf"
        text = [f'global(workDirectory="{self.dir}" net.enableDNS="off")',
                'module(load="imudp")',
                f'template(name="t" type="string" string="{template}")',
                f'input(type="imudp" port="{self.ready_port}" address="127.0.0.1" ruleset="ready")',
                f'ruleset(name="ready") {{ action(type="omfile" file="{self.ready_log}" template="t") }}']
        for name, (host, port) in self.inputs.items():
            text.append(f'input(type="imudp" port="{port}" address="{host}" ruleset="r_{name}")')
            text.append(f'ruleset(name="r_{name}") {{ action(type="omfile" file="{self.log(name)}" '
                        f'template="t") }}')
        self.conf.write_text("\n".join(text) + "\n")
        argv = in_netns(netns, ["rsyslogd", "-n", "-f", self.conf, "-i", self.dir / "rsyslogd.pid"])
        super().__init__(unique_name("rsyslogd-"), argv, self.dir)

    def log(self, name):
        return self.dir / f"{name}.log"

    def start(self):
        check = subprocess.run(["rsyslogd", "-N1", "-f", str(self.conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslog config invalid:\n{check.stdout}\n{check.stderr}")
        super().start()
        root = proc_root(self.pid, self.netns)
        ports = [p for _, p in self.inputs.values()] + [self.ready_port]
        self.wait_ready(lambda: all(udp_bound(p, root) for p in ports), what="listening")
        marker = f"rsyslog-ready-{time.monotonic_ns()}"

        def written():
            send_udp([f"<14>{marker}".encode()], "127.0.0.1", self.ready_port, netns=self.netns)
            return self.ready_log.exists() and marker in self.ready_log.read_text(errors="replace")
        self.wait_ready(written, what="writing its log")
        return self

    def lines(self, name):
        path = self.log(name)
        if not path.exists():
            return []
        return [l for l in path.read_bytes().decode("utf-8", "surrogateescape").split("\n") if l]

    def wait_lines(self, name, count, timeout=15):
        wait_until(lambda: len(self.lines(name)) >= count, timeout)
        time.sleep(0.3)  # anything extra arrives too, so exact counts mean something
        return self.lines(name)


class NsSnmptrapd(Daemon):
    """snmptrapd on UDP (host, port) pairs, inside netns or on the host; one line per trap (V1/V2 format as
    helpers.snmp.Snmptrapd, `from=%b` shows the sender and the local address it came to)."""

    def __init__(self, workdir, listens, netns=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.listens = list(listens)
        self.log = self.dir / "traps.log"
        self.conf, env = snmptrapd_setup(self.dir)
        spec = ",".join(f"udp6:[{h}]:{p}" if ":" in h else f"udp:{h}:{p}" for h, p in self.listens)
        argv = in_netns(netns, ["snmptrapd", "-f", "-n", "-C", "-c", self.conf, "-Lf", self.log,
                                "-p", self.dir / "snmptrapd.pid", "-On", spec])
        super().__init__(unique_name("snmptrapd-"), argv, self.dir, env=env)

    def start(self):
        super().start()
        root = proc_root(self.pid, self.netns)
        self.wait_ready(lambda: all(udp_bound(p, root) for _, p in self.listens), what="listening")
        return self

    def traps(self):
        if not self.log.exists():
            return []
        return [l for l in self.log.read_text(errors="replace").splitlines() if l.startswith(("V1 ", "V2 "))]

    def wait_traps(self, count, timeout=15, where=lambda line: True):
        wait_until(lambda: len([t for t in self.traps() if where(t)]) >= count, timeout)
        time.sleep(0.3)
        return [t for t in self.traps() if where(t)]


class NsNfcapd(Daemon):
    """nfcapd on host:port (IPv4 or IPv6), inside netns or on the host, storing into DIR/flows."""

    def __init__(self, workdir, host="127.0.0.1", port=None, netns=None):
        self.dir = Path(workdir)
        self.flowdir = self.dir / "flows"
        self.flowdir.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.port = port or free_port("udp")
        argv = ["nfcapd", "-w", self.flowdir, "-p", self.port, "-b", host, "-t", "60", "-P",
                self.dir / "nfcapd.pid"]
        if ":" in host:
            argv.append("-6")
        super().__init__(unique_name("nfcapd-"), in_netns(netns, argv), self.dir)

    def start(self):
        super().start()
        root = proc_root(self.pid, self.netns)
        self.wait_ready(lambda: udp_bound(self.port, root), what="listening")
        return self

    def flush_and_read(self):
        """Waits until nfcapd has read what is queued to it, stops it (SIGTERM flushes) and returns nfdump's flows."""
        root = proc_root(self.pid, self.netns)
        wait_until(lambda: udp_rx_queued(self.port, root) == 0, 10)
        time.sleep(0.3)
        self.stop()
        return nfdump_flows(self.flowdir)


class PortHolder(Daemon):
    """Binds UDP (host, port) pairs inside netns and never reads them: datagrams to a port a live capture
    watches are then queued (and dropped) instead of answered with ICMP port unreachable."""

    CODE = ("import json,socket,sys,time\n"
            "socks=[]\n"
            "for h,p in json.loads(sys.argv[1]):\n"
            "    s=socket.socket(socket.AF_INET6 if ':' in h else socket.AF_INET,socket.SOCK_DGRAM)\n"
            "    s.bind((h,p));socks.append(s)\n"
            "print('ready',flush=True)\n"
            "time.sleep(600)\n")

    def __init__(self, workdir, binds, netns=None):
        argv = in_netns(netns, [PY, "-c", self.CODE, json.dumps([list(b) for b in binds])])
        super().__init__(unique_name("portholder-"), argv, workdir)

    def start(self):
        super().start()
        self.wait_ready(lambda: "ready" in self.stdout_path.read_text(errors="replace"), what="bound")
        return self


# --------------------------------------------------------------------------------------------- receivers

class Receivers:
    """In-process UDP receivers on 127.0.0.1 (one socket per name, big buffers), read by one thread:
    got[name] is a list of (src, sport, payload)."""

    def __init__(self, names, rcvbuf=16 << 20):
        self.socks, self.port, self.got = {}, {}, {}
        for n in names:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), rcvbuf)
            s.bind(("127.0.0.1", free_port("udp")))
            s.setblocking(False)
            self.socks[n], self.port[n], self.got[n] = s, s.getsockname()[1], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.last = time.monotonic()

    def url(self, name, spoof=False):
        return f"udp://127.0.0.1:{self.port[name]}" + ("?spoof" if spoof else "")

    def _run(self):
        sel = selectors.DefaultSelector()
        for n, s in self.socks.items():
            sel.register(s, selectors.EVENT_READ, n)
        while not self._stop.is_set():
            for key, _ in sel.select(0.1):
                while True:
                    try:
                        data, addr = key.fileobj.recvfrom(70000)
                    except BlockingIOError:
                        break
                    self.got[key.data].append((addr[0], addr[1], data))
                    self.last = time.monotonic()
        sel.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for s in self.socks.values():
            s.close()
        return False

    def total(self):
        return sum(len(v) for v in self.got.values())

    def settle(self, expected_total=None, timeout=15, quiet=0.5):
        """Waits until expected_total datagrams arrived (if given) and nothing came for `quiet` seconds."""
        if expected_total is not None:
            wait_until(lambda: self.total() >= expected_total, timeout)
        wait_until(lambda: time.monotonic() - self.last >= quiet, timeout)
        return self.got


# --------------------------------------------------------------------------------------------- generators

def sekiwake_send(kind, *args, netns=None, timeout=120):
    """`sekiwake send KIND ...` (inside netns if given) to completion; returns (CompletedProcess, summary dict)."""
    out = subprocess.run(in_netns(netns, [SEKIWAKE_BIN, "send", kind, *args]), capture_output=True, text=True,
                         timeout=timeout)
    summary = None
    for line in out.stderr.splitlines():
        if line.startswith("send: done: "):
            summary = json.loads(line[len("send: done: "):])
    return out, summary


def snmptrap_argv(host, port, version, varbinds, trap_oid="1.3.6.1.6.3.1.1.5.3", community="public",
                  clientaddr=None, enterprise="1.3.6.1.4.1.8072.2.3", agent="127.0.0.9", generic=6, specific=17):
    """net-snmp snmptrap arguments for one v1, v2c or v3 (authPriv with the shared user) trap to host:port."""
    argv = ["snmptrap", "-v", version]
    if version == "3":
        argv += ["-e", SNMP_ENGINE_ID, "-u", SNMP_USER, "-a", SNMP_AUTH[0], "-A", SNMP_AUTH[1],
                 "-x", SNMP_PRIV[0], "-X", SNMP_PRIV[1], "-l", "authPriv"]
    else:
        argv += ["-c", community]
    if clientaddr:
        argv.append(f"--clientaddr={clientaddr}")
    argv.append(f"udp6:[{host}]:{port}" if ":" in host else f"udp:{host}:{port}")
    if version == "1":
        argv += [enterprise, agent, str(generic), str(specific), ""]
    else:
        argv += ["", trap_oid]
    for oid, typ, value in varbinds:
        argv += [oid, typ, str(value)]
    return argv


def run_snmptrap(argv, netns=None):
    env = {"MIBS": "", "MIBDIRS": "/nonexistent", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    out = subprocess.run(in_netns(netns, argv), capture_output=True, text=True, timeout=15, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"snmptrap failed: {out.stderr}")
    return out


# --------------------------------------------------------------------------------------------- configuration

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string for what the tests write
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def forward_toml(destinations, groups=(), rules=(), rules_mode=None, source_port=None, extra=""):
    """A forward configuration: destinations/groups are dicts of keys; rules are dicts with `match` (a dict) and
    `to` or `drop`."""
    out = ["[forward]"]
    if rules_mode:
        out.append(f"rules_mode = {_toml_value(rules_mode)}")
    if source_port is not None:
        out.append(f"source_port = {source_port}")
    for d in destinations:
        out.append("\n[[forward.destination]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in d.items()]
    for g in groups:
        out.append("\n[[forward.group]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in g.items()]
    for r in rules:
        out.append("\n[[forward.rule]]")
        out += [f"match.{k} = {_toml_value(v)}" for k, v in r.get("match", {}).items()]
        out += [f"{k} = {_toml_value(v)}" for k, v in r.items() if k != "match"]
    return "\n".join(out) + "\n" + extra


def write_config(path, text):
    """Writes path atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def by_name(stats, name):
    """The forward stats entry of the destination called name."""
    for d in stats["destinations"]:
        if d["name"] == name:
            return d
    raise AssertionError(f"no destination {name} in {stats}")


LOSS_REASONS = ("refused", "dropped_full", "failed", "wrong_family")


def accounted(d):
    """Every datagram a destination was to send, sent or counted with a reason."""
    return d["forwarded"] + sum(d[r] for r in LOSS_REASONS)


def conserved(d):
    """The per-destination law of docs/ARCHITECTURE.md: what was routed here (plus the template-only datagrams
    made for it) was sampled out, sent, held, or counted lost with a reason."""
    outcomes = ("wrong_kind", "sampled_out", "forwarded", "refused", "dropped_full", "failed", "wrong_family",
                "queued", "dropped_at_exit")
    return d["routed"] + d["templates_sent"] == sum(d[k] for k in outcomes)
