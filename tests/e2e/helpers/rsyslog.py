"""rsyslog: Rsyslog (imudp+imtcp writing `%fromhost-ip% %rawmsg%` lines), logger, and for forward's tcp:// and
tls:// destinations (test_relay_stream.py) RsyslogStream, an rsyslogd whose imtcp inputs speak plain TCP or TLS
(gtls netstream driver) and store every message byte-exact."""

import glob
import os
import socket
import subprocess
import time
from pathlib import Path

from .gating import unavailable
from .net import free_port, tcp_listening, udp_bound
from .proc import Daemon, wait_until


class Rsyslog(Daemon):
    """rsyslogd with imudp+imtcp on 127.0.0.1:port writing "%fromhost-ip% %rawmsg%" lines to raw.log, or
    lines of another rsyslog template (`template`, then read with lines() and split by the caller; one main
    queue worker keeps them in arrival order)."""

    def __init__(self, workdir, port=None, template=None, netns=None, address="127.0.0.1"):
        self.netns = netns
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        self.ready_port = free_port("tcp")
        self.raw_log = self.dir / "raw.log"
        self.ready_log = self.dir / "ready.log"
        self.conf = self.dir / "rsyslog.conf"
        remote = template or "%fromhost-ip% %rawmsg%\\n"
        one_worker = 'main_queue(queue.workerThreads="1")' if template else ""
        self.conf.write_text(f"""
global(workDirectory="{self.dir}" net.enableDNS="off")
{one_worker}
module(load="imudp")
module(load="imtcp")
input(type="imudp" port="{self.port}" address="{address}" ruleset="remote")
input(type="imtcp" port="{self.port}" address="{address}" ruleset="remote")
input(type="imtcp" port="{self.ready_port}" address="127.0.0.1" ruleset="ready")
template(name="raw" type="string" string="%fromhost-ip% %rawmsg%\\n")
template(name="remote" type="string" string="{remote}")
ruleset(name="remote") {{ action(type="omfile" file="{self.raw_log}" template="remote") }}
ruleset(name="ready") {{ action(type="omfile" file="{self.ready_log}" template="raw") }}
""")
        argv = ["rsyslogd", "-n", "-f", self.conf, "-i", self.dir / "rsyslogd.pid"]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        super().__init__("rsyslogd", argv, self.dir)

    def start(self):
        check = subprocess.run(["rsyslogd", "-N1", "-f", str(self.conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslog config invalid:\n{check.stdout}\n{check.stderr}")
        super().start()
        proc = f"/proc/{self.pid}"  # its own network namespace's tables
        self.wait_ready(lambda: udp_bound(self.port, proc) and tcp_listening(self.port, proc)
                        and tcp_listening(self.ready_port, proc), what="listening")
        # A marker through a separate ruleset proves the output pipeline writes files.
        marker = f"rsyslog-ready-{os.getpid()}-{time.monotonic_ns()}"
        if self.netns:
            subprocess.run(["ip", "netns", "exec", self.netns, "logger", "--server", "127.0.0.1", "--port",
                            str(self.ready_port), "--tcp", marker], check=True, timeout=10)
        else:
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


def logger(port, message, rfc="rfc3164", host="127.0.0.1", tag="app", priority="local3.err", transport="udp",
           extra=()):
    argv = ["logger", "--server", host, "--port", str(port), f"--{transport}", f"--{rfc}", "-t", tag,
            "-p", priority, *extra, message]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"logger failed: {out.stderr}")
    return out


# --------------------------------------------------------------------------------------------- syslog over TCP/TLS

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
