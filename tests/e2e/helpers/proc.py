"""Processes: Daemon (a foreground subprocess with its output in files, stopped by its own PID), polling,
unique names, and readers of /proc/PID."""

import contextlib
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

RUN_TAG = f"{os.getpid() % 100000}"
_counter = itertools.count(1)


def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate until it returns a truthy value or timeout seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def unique_name(prefix):
    return f"{prefix}{RUN_TAG}x{next(_counter)}"


def packet_sockets(pid):
    """How many AF_PACKET sockets process pid holds (libpcap opens one per live interface)."""
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            inodes = {line.split()[-1] for line in list(f)[1:]}
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    held = 0
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def has_packet_socket(pid):
    """True once process pid holds an AF_PACKET socket (libpcap has opened its live handle)."""
    return packet_sockets(pid) > 0


def proc_cpu_seconds(pid):
    """utime + stime of process pid (all its threads) in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
