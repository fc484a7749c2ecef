"""The packet oracle: tcpdump writes what was on the wire (PacketCapture), tshark reads the UDP datagrams back."""

import signal
import subprocess
import time
from pathlib import Path

from .proc import Daemon


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
