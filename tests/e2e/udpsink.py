#!/usr/bin/python3
"""A UDP sink for the e2e tests: bind, print "ready", receive until --count datagrams or --timeout seconds
(or --idle seconds without traffic after the first datagram), then write one JSON line per datagram
({"src": addr, "sport": port, "hex": payload}) to --out.  Runs under `ip netns exec` too."""

import argparse
import json
import socket
import sys
import time


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True, help="HOST:PORT or [V6]:PORT")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--idle", type=float, default=0, help="stop this long after the last datagram (0: never)")
    ap.add_argument("--rcvbuf", type=int, default=4 << 20)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    host, port = parse_addr(a.bind)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:  # root may go past net.core.rmem_max
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), a.rcvbuf)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind((host, port))
    print("ready", flush=True)
    got = []
    recv = s.recvfrom
    deadline = time.monotonic() + a.timeout
    last = None
    while len(got) < a.count:
        now = time.monotonic()
        wait = deadline - now
        if a.idle and last is not None:
            wait = min(wait, last + a.idle - now)
        if wait <= 0:
            break
        s.settimeout(wait)
        try:
            data, addr = recv(70000)
        except socket.timeout:
            break
        last = time.monotonic()
        got.append((addr[0], addr[1], data))
    with open(a.out + ".tmp", "w") as f:
        for src, sport, data in got:
            f.write(json.dumps({"src": src, "sport": sport, "hex": data.hex()}) + "\n")
    import os
    os.replace(a.out + ".tmp", a.out)
    print(f"received {len(got)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
