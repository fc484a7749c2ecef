"""Many hosts, for real: network namespaces on one bridged LAN (10.77.0.0/24, no route out).

  cap1, cap2    captures (UDP listeners; exporters on their loopback), publishing to the proxy (--connect)
  proxy         sekiwake proxy, and a decoding tap beside it that sees everything (the reference)
  fwdA, fwdB    three forward shards: 0/3 and 1/3 on fwdA, 2/3 on fwdB
  logs, flows   rsyslog and nfcapd, the collectors
  rogue         a tap and a capture with keys of their own, not on the proxy's allow-list

CURVE on every bus link: the proxy is the server on both sides with an allow-list of the captures', the
forwarders' and the tap's keys. The test shows:
1. every datagram delivered exactly once across the shards (rsyslog has each message once; nfcapd's flows are
   the flows the reference tap decoded), and each exporter's stream on one shard only, the shard its bucket
   names;
2. a shard stopped and started again loses only what was sent for it meanwhile, and `sekiwake ledger` over
   every stats file names exactly that number, at that shard;
3. a subscriber without an allowed key gets nothing, a publisher without one injects nothing, and the proxy
   counts both refusals.
"""

import collections
import json
import time

from helpers.env import SEKIWAKE_BIN
from helpers.netflow import Nfcapd, flow_key
from helpers.netns import NetnsLan
from helpers.proc import wait_until
from helpers.rsyslog import Rsyslog

HOSTS = {"cap1": "10.77.0.11", "cap2": "10.77.0.12", "proxy": "10.77.0.20", "fwdA": "10.77.0.31",
         "fwdB": "10.77.0.32", "logs": "10.77.0.41", "flows": "10.77.0.42", "rogue": "10.77.0.66"}
FRONT, BACK = "tcp://10.77.0.20:5555", "tcp://10.77.0.20:5556"
SYSLOG, NETFLOW = 514, 2055
SHARDS = {"0/3": "fwdA", "1/3": "fwdA", "2/3": "fwdB"}


def keygen(sekiwake, prefix):
    r = sekiwake.run("keygen", "--out", prefix)
    assert r.returncode == 0, r.stderr
    return f"{prefix}.key", f"{prefix}.pub"


def bus_config(path, secret, server_public=None, allowed=None):
    lines = ["[bus]", f'curve_secret_key_file = "{secret}"']
    if server_public:
        lines.append(f'curve_server_public_key_file = "{server_public}"')
    if allowed:
        lines.append(f'curve_allowed_clients = "{allowed}"')
    path.write_text("\n".join(lines) + "\n")
    return path


class Site:
    """The hosts, their keys and their sekiwake processes."""

    def __init__(self, sekiwake, lan, tmp_path):
        self.sekiwake, self.lan, self.dir = sekiwake, lan, tmp_path
        allowed = tmp_path / "allowed"
        allowed.mkdir()
        self.proxy_key, self.proxy_pub = keygen(sekiwake, tmp_path / "proxy")
        self.configs = {}
        for name in ("cap1", "cap2", "fwdA", "fwdB", "tap", "rogue"):
            key, pub = keygen(sekiwake, tmp_path / name)
            if name != "rogue":
                (allowed / f"{name}.pub").write_text(open(pub).read())
            self.configs[name] = bus_config(tmp_path / f"{name}.toml", key, server_public=self.proxy_pub)
        self.configs["proxy"] = bus_config(tmp_path / "proxy.toml", self.proxy_key, allowed=allowed)
        self.shards = []  # (shard, process), restarts appended

    def ns(self, host):
        return self.lan.ns[host]

    def capture(self, host, config):
        cap = self.sekiwake.capture("--listen", f"0.0.0.0:{SYSLOG}", "--listen", f"0.0.0.0:{NETFLOW}", ifaces=(),
                                    ports={"syslog": SYSLOG, "netflow": NETFLOW}, connect=FRONT,
                                    config=self.configs[config], netns=self.ns(host), wait_ready=False)
        cap.wait_ready(lambda: cap.stats() is not None, what="running (no stats file)")
        return cap

    def shard(self, shard):
        host = SHARDS[shard]
        to = {"syslog": f"udp://{HOSTS['logs']}:{SYSLOG}", "netflow-v9": f"udp://{HOSTS['flows']}:{NETFLOW}"}
        p = self.sekiwake.forward(BACK, to, "--shard", shard, netns=self.ns(host), config=self.configs[host])
        self.shards.append((shard, p))
        return p

    def tap(self, host, config):
        argv = ["-c", self.configs[config], "--subscribe", BACK, "--decode"]
        return self.sekiwake._subscriber("tap", argv, self.sekiwake._stats_path("tap"), self.ns(host))

    def send(self, host, kind, source, exporters, count, rate, message=None):
        argv = [SEKIWAKE_BIN, "send", kind, "--to", f"127.0.0.1:{SYSLOG if kind == 'syslog' else NETFLOW}",
                "--source", source, "--exporters", exporters, "--count", count, "--rate", rate]
        if message:
            argv += ["--message", message]
        r = self.lan.run(host, argv)
        assert r.returncode == 0, r.stderr
        return count



def syslog_messages(rsyslog, tag):
    """The "<tag> <host> <seq>" messages rsyslog stored, counted."""
    found = collections.Counter()
    for _, raw in rsyslog.lines():
        at = raw.find(f"{tag} ")
        if at >= 0:
            found[" ".join(raw[at:].split()[:3])] += 1
    return found


def test_shards_on_two_hosts_behind_a_proxy_with_curve(sekiwake, tmp_path):
    with NetnsLan(HOSTS) as lan:
        site = Site(sekiwake, lan, tmp_path)
        rsyslog = Rsyslog(tmp_path / "rsyslog", port=SYSLOG, netns=lan.ns["logs"], address=HOSTS["logs"]).start()
        nfcapd = Nfcapd(tmp_path / "nfcapd", port=NETFLOW, netns=lan.ns["flows"], address=HOSTS["flows"]).start()
        try:
            run_site(site, rsyslog, nfcapd)
        finally:
            for d in (rsyslog, nfcapd):
                if d.alive():
                    d.stop()
            sekiwake.stop_all()


def run_site(site, rsyslog, nfcapd):
    sekiwake = site.sekiwake
    proxy = sekiwake.proxy(FRONT, BACK, "-c", site.configs["proxy"], netns=site.ns("proxy"))
    for shard in SHARDS:
        site.shard(shard)
    reference = site.tap("proxy", "tap")
    rogue_tap = site.tap("rogue", "rogue")
    caps = [site.capture("cap1", "cap1"), site.capture("cap2", "cap2")]
    # the three shards' subscriptions (syslog and netflow-v9, one per bucket each) crossed the proxy
    proxy.wait_stats(lambda s: s["subscriptions"] >= 2 * 64 and s["curve_accepted"] >= 6, timeout=20)
    time.sleep(1.0)

    # 1. every datagram once, each exporter on one shard
    sent = collections.Counter()
    for host, net in (("cap1", 1), ("cap2", 2)):
        sent[host] += site.send(host, "syslog", f"127.{net}.0.1", 20, 3000, 3000, f"mh {host} {{seq}}")
        site.send(host, "netflow-v9", f"127.{net}.1.1", 4, 200, 400)
    got = lambda: sum(syslog_messages(rsyslog, "mh").values())  # noqa: E731
    wait_until(lambda: got() >= sum(sent.values()), 30, 0.2)
    once = syslog_messages(rsyslog, "mh")
    assert len(once) == sum(sent.values()) and set(once.values()) == {1}, "each message exactly once"
    wait_until(lambda: reference.stats()["received"] >= sum(c.stats()["published"] for c in caps), 15, 0.2)

    streams = {}
    for shard, p in site.shards:
        stats = p.wait_stats(lambda s: s["received"] > 0, timeout=10)
        index = int(shard.split("/")[0])
        for s in stats["streams"]:
            key = (s["publisher"], s["kind"], s["bucket"])
            assert key not in streams, f"stream {key} on shards {streams.get(key)} and {shard}"
            assert s["bucket"] % 3 == index, f"bucket {s['bucket']} on shard {shard}"
            streams[key] = shard
    assert {k[0] for k in streams} == {c.stats()["publisher"] for c in caps}, "both captures' streams"

    # 2. shard 1/3 stops; cap1 sends while it is away and on until its successor receives
    _, stopped = site.shards[1]
    rc, _ = stopped.terminate()
    assert rc == 0, stopped.output()
    sent["away"] = site.send("cap1", "syslog", "127.1.0.1", 20, 1500, 1500, "mh away {seq}")
    successor = site.shard("1/3")
    while successor.stats()["received"] == 0:
        again = f"mh away{sent['away']} {{seq}}"  # each run numbers from 0: a message of its own per run
        sent["away"] += site.send("cap1", "syslog", "127.1.0.1", 20, 60, 600, again)
        assert sent["away"] < 20_000, "the restarted shard never received"

    # 3. a subscriber and a publisher without an allowed key
    rogue_cap = site.capture("rogue", "rogue")
    site.send("rogue", "syslog", "127.6.0.1", 1, 200, 1000, "mh forged {seq}")
    sent_total = sum(sent.values())
    wait_until(lambda: got() >= sent_total - sent["away"], 30, 0.5)
    time.sleep(3.0)

    cap_final = [c.terminate() for c in caps]
    rogue_final = rogue_cap.terminate()
    time.sleep(1.0)
    shard_final = [p.terminate() for _, p in site.shards if p.alive()]
    reference_rc, reference_stats = reference.terminate()
    rogue_tap_rc, rogue_tap_stats = rogue_tap.terminate()
    proxy_rc, proxy_stats = proxy.terminate()
    flows = nfcapd.flush_and_read()
    assert all(rc == 0 for rc, _ in cap_final + shard_final + [rogue_final])
    assert reference_rc == 0 and rogue_tap_rc == 0 and proxy_rc == 0

    # nfcapd has exactly the flows the reference decoded from the bus
    decoded = [r for r in reference.json_lines() if r.get("kind") == "netflow-v9" and r.get("record") == "flow"]
    def comparable(key):
        # nfdump keeps an ICMP type and code apart from the ports; the record has them as the destination port
        src, dst, sport, dport, proto, packets, octets = key
        return (src, dst, 0, 0, proto, packets, octets) if proto in (1, 58) else key
    relayed = sorted(comparable(flow_key(f)) for f in flows)
    wanted = sorted(comparable((r["src_addr"], r["dst_addr"], r.get("src_port", 0), r.get("dst_port", 0),
                                r.get("protocol", 0), r["packets"], r["bytes"])) for r in decoded)
    assert relayed and relayed == wanted, f"{len(relayed)} flows at nfcapd, {len(wanted)} decoded"

    # the keyless ones: nothing in, nothing out, both refusals counted
    stored = syslog_messages(rsyslog, "mh")
    assert not [m for m in stored if m.startswith("mh forged")], "a forged publisher injected"
    assert rogue_tap_stats["received"] == 0 and rogue_tap.stdout_lines() == []
    assert rogue_final[1]["published"] + rogue_final[1]["hwm_dropped"] == 200
    assert proxy_stats["curve_refused_key"] >= 2, proxy_stats

    # the ledger over every stats file names what the stopped shard missed, exactly, at that shard
    files = [c.stats_path for c in caps] + [proxy.stats_path] + [p.stats_path for _, p in site.shards]
    out = sekiwake.run("ledger", "--json", *files)
    assert out.returncode == 0, out.stderr
    ledger = json.loads(out.stdout)
    text = sekiwake.run("ledger", *files).stdout
    missed = sent_total - sum(stored.values())
    assert missed > 0, "nothing was sent while the shard was away"
    assert set(stored.values()) == {1}, "and no message twice"
    (group,) = ledger["groups"]
    assert (group["role"], group["shards"], group["reports"]) == ("forward", 3, 4), text
    assert group["lost"] == missed, text
    assert [s["lost"] for s in group["per_shard"]] == [0, missed, 0], text
    assert all(c["hwm_dropped"] == 0 for c in ledger["captures"]), text
    assert ledger["proxies"][0]["dropped_full"] == 0, text
