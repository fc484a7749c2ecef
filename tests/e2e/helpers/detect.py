"""Peers of `sekiwake detect`: a webhook receiver (an HTTP server in the test process that timestamps what
it gets), Prometheus Alertmanager (the Debian package, in the foreground with a private config and port),
and a capture listening on one UDP port per kind for the detector to subscribe to."""

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .net import free_port, tcp_listening, udp_bound
from .proc import Daemon, unique_name, wait_until


class WebhookReceiver:
    """Collects POSTed JSON bodies as (monotonic arrival time, parsed body). `status` is what it answers."""

    def __init__(self, status=200, port=0):
        self.status = status
        self.received = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append((time.monotonic(), json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self):
        with self.lock:
            return [b for _, b in self.received]

    def timed(self):
        with self.lock:
            return list(self.received)

    def wait(self, predicate, timeout=20):
        """Waits until predicate(bodies) holds; returns the bodies."""
        wait_until(lambda: predicate(self.bodies()), timeout, 0.1)
        return self.bodies()


class Alertmanager(Daemon):
    """prometheus-alertmanager on 127.0.0.1 with gossip off, routing everything to `webhook_url` after 1 s."""

    def __init__(self, workdir, webhook_url):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port("tcp")
        self.url = f"http://127.0.0.1:{self.port}"
        conf = self.dir / "alertmanager.yml"
        conf.write_text(f"""
route:
  receiver: hook
  group_by: ['alertname', 'exporter']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: "{webhook_url}"
        send_resolved: true
""")
        super().__init__(unique_name("alertmanager-"), [
            "/usr/bin/prometheus-alertmanager", f"--config.file={conf}", f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="], self.dir)

    def start(self):
        super().start()
        self.wait_ready(lambda: tcp_listening(self.port), timeout=20, what="listening")
        return self

    def alerts(self, active=None):
        """GET /api/v2/alerts (active=False also lists resolved ones it still holds)."""
        q = "" if active is None else f"?active={'true' if active else 'false'}"
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{q}", timeout=5) as r:
            return json.loads(r.read())


def listening_capture(sekiwake, kinds):
    """A capture with one UDP listener per kind on 127.0.0.1; returns (proc, {kind: port})."""
    ports = {k: free_port("udp") for k in kinds}
    argv = []
    for p in ports.values():
        argv += ["--listen", f"127.0.0.1:{p}"]
    cap = sekiwake.capture(*argv, ifaces=(), ports=ports, wait_ready=False)
    cap.wait_ready(lambda: all(udp_bound(p) for p in ports.values()), what="listening")
    return cap, ports
