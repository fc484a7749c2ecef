"""Network namespaces: NetnsPair, two namespaces joined by a veth pair with a given MTU."""

import subprocess

from .proc import unique_name


class NetnsPair:
    """Two network namespaces joined by a veth pair.  A: 198.51.100.1/24, 2001:db8:5eb::1/64 on veth_a;
    B: .2 and ::2 on veth_b.  No default route; rp_filter=0 everywhere; IPv6 addresses with nodad."""

    V4 = ("198.51.100.1", "198.51.100.2")
    V6 = ("2001:db8:5eb::1", "2001:db8:5eb::2")

    def __init__(self, mtu=1500):
        tag = unique_name("")
        self.ns_a, self.ns_b = f"skw-{tag}-a", f"skw-{tag}-b"
        self.veth_a, self.veth_b = f"skwa{tag}"[:15], f"skwb{tag}"[:15]
        self.mtu = mtu
        self.a4, self.b4 = self.V4
        self.a6, self.b6 = self.V6

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def _sysctl(self, ns, key, value):
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"], check=True,
                       capture_output=True, timeout=10)

    def __enter__(self):
        try:
            self._ip("netns", "add", self.ns_a)
            self._ip("netns", "add", self.ns_b)
            self._ip("link", "add", self.veth_a, "type", "veth", "peer", "name", self.veth_b)
            self._ip("link", "set", self.veth_a, "netns", self.ns_a)
            self._ip("link", "set", self.veth_b, "netns", self.ns_b)
            for ns, dev, v4, v6 in ((self.ns_a, self.veth_a, self.a4, self.a6),
                                    (self.ns_b, self.veth_b, self.b4, self.b6)):
                for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter",
                            f"net.ipv4.conf.{dev}.rp_filter"):
                    self._sysctl(ns, key, 0)
                self._ip("-n", ns, "link", "set", "lo", "up")
                self._ip("-n", ns, "link", "set", dev, "mtu", str(self.mtu))
                self._ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
                self._ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                self._ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        # the veth pair dies with its namespaces; if it never moved, delete it from the host
        subprocess.run(["ip", "link", "del", self.veth_a], capture_output=True, timeout=10)
        return False

    def exec_argv(self, ns, argv):
        return ["ip", "netns", "exec", ns, *[str(a) for a in argv]]

    def run(self, ns, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 30)
        return subprocess.run(self.exec_argv(ns, argv), **kw)


netns_pair = NetnsPair  # `with netns_pair(mtu=1280) as ns: ...`


class NetnsLan:
    """Hosts on one LAN: a network namespace each, joined by veth pairs to a bridge in a namespace of its own.
    hosts: {name: IPv4 address} in 10.77.0.0/24; no default route anywhere.  The namespaces (and with them
    every veth) are deleted on exit, even after a failure."""

    PREFIX = "10.77.0"

    def __init__(self, hosts):
        tag = unique_name("")
        self.tag = tag
        self.switch = f"skw-{tag}-sw"
        self.hosts = dict(hosts)
        self.ns = {name: f"skw-{tag}-{name}" for name in self.hosts}

    _ip = staticmethod(NetnsPair._ip)

    def __enter__(self):
        try:
            self._ip("netns", "add", self.switch)
            self._ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            self._ip("-n", self.switch, "link", "set", "br0", "up")
            for i, (name, addr) in enumerate(self.hosts.items()):
                ns, port = self.ns[name], f"p{i}"
                self._ip("netns", "add", ns)
                self._ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns",
                         self.switch)
                self._ip("-n", self.switch, "link", "set", port, "master", "br0")
                self._ip("-n", self.switch, "link", "set", port, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
                self._ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
                self._ip("-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for ns in [*self.ns.values(), self.switch]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        return False

    def exec_argv(self, host, argv):
        return ["ip", "netns", "exec", self.ns[host], *[str(a) for a in argv]]

    def run(self, host, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.exec_argv(host, argv), **kw)
