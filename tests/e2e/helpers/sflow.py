"""sFlow with pmacct: Sfacctd (print plugin, JSON lines), pmacctd's sfprobe replaying a pcap, and the flows pcap
with a filler flow that absorbs pmacctd's unsent last datagram."""

import glob
import json
import signal
import subprocess
from pathlib import Path

from .net import free_port, udp_bound, wait_udp_drained
from .pcaps import flows_pcap
from .proc import Daemon


class Sfacctd(Daemon):
    """sfacctd on udp 127.0.0.1:port with a print plugin writing JSON lines; stopped with SIGINT.  The plugin
    writes only at exit (a refresh time longer than any test): a periodic dump that coincides with the exit
    flush can write the same cache twice, doubling every count."""

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
print_refresh_time[p]: 3600
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
