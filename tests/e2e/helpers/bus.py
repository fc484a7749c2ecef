"""The bus as a subscriber sees it: BusSubscriber (tools/envelope.py sub), tools/envelope.py as a module, the
sequence numbers a publisher gives envelopes, and a burst that outruns a frozen subscriber."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from .env import PY
from .gating import require_tool
from .net import drain_socket, send_udp
from .proc import Daemon, unique_name


def burst_past_a_frozen_subscriber(sekiwake, cap, frozen, port, count, rate, size, marker):
    """Freezes the subscriber `frozen` (SIGSTOP) while `count` syslog datagrams of `size` bytes go to capture's
    `port` at `rate`, thaws it, gives it 2 s to drain, then sends `marker`, so that a drop at the very end of
    the burst shows as a sequence gap too.  Returns (the send's result, capture's stats with the marker)."""
    with drain_socket(port):
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            sent = sekiwake.send("syslog", "--to", f"127.0.0.1:{port}", "--rate", rate, "--count", count,
                                 "--size", size, timeout=60)
            cap.wait_stats(lambda s: s["captured_total"] >= count, timeout=10)
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        time.sleep(2.0)
        send_udp([marker], "127.0.0.1", port)
        after = cap.wait_stats(lambda s: s["captured_total"] >= count + 1, timeout=10)
    return sent, after


def expected_sequences(envelopes):
    """The sequence numbers a publisher gives these envelopes, in order: one counter per (kind, bucket)."""
    counters, out = {}, []
    for e in envelopes:
        key = (e["kind"], e["bucket"])
        out.append(counters.get(key, 0))
        counters[key] = out[-1] + 1
    return out


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
