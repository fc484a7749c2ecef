"""The sekiwake binary: Sekiwake starts its roles (capture, forward, tap) for one test and stops them by PID;
SekiwakeProc is one of them, with its --stats file."""

import json
import signal
import subprocess
from pathlib import Path

from .env import SEKIWAKE_BIN
from .net import free_port, tcp_listening
from .proc import Daemon, packet_sockets, unique_name, wait_until


class SekiwakeProc(Daemon):
    """One sekiwake role subprocess with its --stats file."""

    def __init__(self, role, argv, workdir, stats_path=None, publish=None, netns=None):
        name = unique_name(f"sekiwake-{role}-")
        self.role = role
        self.stats_path = Path(stats_path) if stats_path else None
        self.publish = publish
        self.netns = netns
        self.interfaces = 0  # live interfaces a capture opens (set by Sekiwake.capture)
        full = [SEKIWAKE_BIN, role, *[str(a) for a in argv]]
        if netns:
            full = ["ip", "netns", "exec", netns, *full]
        super().__init__(name, full, workdir)

    def wait_ready_capturing(self, timeout=10):
        """Live capture: wait until every interface is open.  A packet socket exists before libpcap has bound
        it and set up its ring, so what says "open" is the bus: capture binds it only after all its sources
        are open (a tcp:// bus is awaited by Sekiwake.capture; here an ipc:// bus's socket file), plus an
        AF_PACKET socket per interface."""
        want = max(1, self.interfaces)
        ipc = self.publish[len("ipc://"):] if (self.publish or "").startswith("ipc://") else None

        def ready():
            return packet_sockets(self.pid) >= want and (ipc is None or Path(ipc).exists())
        self.wait_ready(ready, timeout=timeout, what="capturing")

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
                wait_subscribers=None, stats=True, netns=None, wait_ready=True, config=None, connect=None):
        """Start `sekiwake capture`.  ports: {"syslog": P, ...} -> --port KIND=P.  Waits until the bus port
        listens and, for live capture, until the process holds its packet socket.  A capture told to
        --wait-subscribers may open its interfaces only once they are there: when the subscribers start after
        it, pass wait_ready=False and call proc.wait_ready_capturing() after starting them.  connect: publish by
        connecting to this endpoint (a proxy's frontend) instead of binding."""
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
        argv += ["--connect", connect] if connect else ["--publish", publish]
        if hwm is not None:
            argv += ["--hwm", hwm]
        if wait_subscribers is not None:
            argv += ["--wait-subscribers", wait_subscribers]
        if stats_path:
            argv += ["--stats", stats_path, "--stats-interval", "1"]
        argv += list(extra)
        p = SekiwakeProc("capture", argv, self.dir, stats_path, publish, netns)
        p.interfaces = 0 if pcap else len(ifaces)
        self.procs.append(p)
        p.start()
        port = int(publish.rsplit(":", 1)[1]) if publish.startswith("tcp://") and not connect else None
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
        return self._subscriber("forward", argv + list(extra), stats_path, netns)

    def tap(self, subscribe, *kinds, netns=None, decode=False, snmp_users=(), stats=False, hwm=None):
        """Start `sekiwake tap` (with decode=True: `--decode`, records instead of envelopes); its stdout lines
        are in proc.stdout_lines() / proc.json_lines().  stats=True adds a --stats file (proc.stats()) and
        waits for its first write; hwm sets --hwm."""
        stats_path = self._stats_path("tap") if stats else None
        argv = ["--subscribe", subscribe]
        for k in kinds:
            argv += ["--kind", k]
        if decode:
            argv += ["--decode"]
        for u in snmp_users:
            argv += ["--snmp-user", u]
        if hwm is not None:
            argv += ["--hwm", hwm]
        return self._subscriber("tap", argv, stats_path, netns)

    def detect(self, subscribe, *extra, alerts=("stdout",), warmup=5, config=None, stats=True):
        """Start `sekiwake detect` with --warmup and one --alerts per target; its stdout alert lines are in
        proc.json_lines()."""
        stats_path = self._stats_path("detect") if stats else None
        argv = ["-c", config] if config else []
        argv += ["--subscribe", subscribe, "--warmup", warmup]
        for a in alerts:
            argv += ["--alerts", a]
        return self._subscriber("detect", argv + list(extra), stats_path, None)

    def proxy(self, frontend, backend, *extra, netns=None):
        """Start `sekiwake proxy --frontend FRONTEND --backend BACKEND` (tcp:// endpoints it binds) with a stats
        file; waits until both ports listen."""
        stats_path = self._stats_path("proxy")
        argv = ["--frontend", frontend, "--backend", backend, *extra,
                "--stats", stats_path, "--stats-interval", "1"]
        p = SekiwakeProc("proxy", argv, self.dir, stats_path, backend, netns)
        self.procs.append(p)
        p.start()
        for ep in (frontend, backend):
            port = int(ep.rsplit(":", 1)[1])
            p.wait_ready(lambda: tcp_listening(port, f"/proc/{p.pid}"), what=f"listening on {ep}")
        return p

    def _subscriber(self, role, argv, stats_path, netns):
        """Start a subscribing role; with a stats file, wait for its first write (a subscriber has no other
        readiness signal: that write means its loop is running)."""
        if stats_path:
            argv = argv + ["--stats", stats_path, "--stats-interval", "1"]
        p = SekiwakeProc(role, argv, self.dir, stats_path, None, netns)
        self.procs.append(p)
        p.start()
        if stats_path:
            p.wait_ready(lambda: p.stats() is not None, timeout=10, what="running (no stats file)")
        return p

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
