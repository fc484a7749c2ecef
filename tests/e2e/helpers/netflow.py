"""NetFlow / IPFIX: Nfcapd (storing flow files), nfdump_flows (nfdump's JSON), and softflowd replaying a pcap."""

import glob
import json
import os
import subprocess
from pathlib import Path

from .net import free_port, udp_bound, wait_udp_drained
from .proc import Daemon


class Nfcapd(Daemon):
    """nfcapd on udp ADDRESS:port (default 127.0.0.1, inside `netns` when given) storing into DIR/flows; SIGTERM
    flushes the current file."""

    def __init__(self, workdir, port=None, netns=None, address="127.0.0.1"):
        self.dir = Path(workdir)
        self.flowdir = self.dir / "flows"
        self.flowdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port("udp")
        argv = ["nfcapd", "-w", self.flowdir, "-p", self.port, "-b", address, "-t", "60",
                "-P", self.dir / "nfcapd.pid"]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        super().__init__("nfcapd", argv, self.dir)

    def start(self):
        super().start()
        self.wait_ready(lambda: udp_bound(self.port, f"/proc/{self.pid}"), what="listening")
        return self

    def flush_and_read(self):
        """Stop nfcapd (SIGTERM flushes to nfcapd.YYYYMMDDhhmm) and return the flows nfdump reads."""
        wait_udp_drained(self.port, proc_root=f"/proc/{self.pid}")
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
