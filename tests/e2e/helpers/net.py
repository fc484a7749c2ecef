"""Ports and UDP: free ports, the kernel's socket tables (/proc/net/udp, tcp), a never-read socket, a sender,
and UdpSink (udpsink.py as a subprocess, in a namespace too)."""

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from .env import E2E, PY
from .proc import Daemon, unique_name, wait_until


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


def wait_udp_drained(port, timeout=10, proc_root="/proc"):
    """Wait until the daemon on port has read everything queued to it, plus a short grace period (proc_root
    /proc/PID: the tables of PID's network namespace)."""
    wait_until(lambda: udp_rx_queued(port, proc_root) == 0, timeout)
    time.sleep(0.3)


def udp_bound(port, proc_root="/proc"):
    return any(p == port for p, _ in _proc_net_ports("udp", proc_root) | _proc_net_ports("udp6", proc_root))


def tcp_listening(port, proc_root="/proc"):
    listen = "0A"
    return any(p == port and s == listen
               for p, s in _proc_net_ports("tcp", proc_root) | _proc_net_ports("tcp6", proc_root))


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
        argv = [PY, E2E / "udpsink.py", "--bind", bind, "--count", count, "--timeout", timeout,
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
