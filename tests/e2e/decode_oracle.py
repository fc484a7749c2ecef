"""Shared pieces of the decode oracle tests: run `sekiwake decode` on a pcap, and read tshark's JSON."""

import json
import re
import subprocess

from helpers.env import SEKIWAKE_BIN


def decode(pcap, ports, *extra):
    """Records of `sekiwake decode --pcap` (list of dicts) and its end-of-run summary."""
    records, summary, _ = decode_with_log(pcap, ports, *extra)
    return records, summary


def decode_with_log(pcap, ports, *extra):
    """decode(), plus its stderr (warnings about datagrams that gave no record) without colour codes."""
    argv = [SEKIWAKE_BIN, "decode", "--pcap", str(pcap), *extra]
    for family, port in ports.items():
        argv += ["--port", f"{family}={port}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = [line for line in out.stderr.splitlines() if line.startswith("decode: done: ")]
    assert summary, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    log = re.sub(r"\x1b\[[0-9;]*m", "", out.stderr)
    return records, json.loads(summary[-1][len("decode: done: "):]), log


def tshark_json(pcap, decode_as=(), *options):
    argv = ["tshark", "-r", str(pcap), "-n", "-T", "json", *options]
    for d in decode_as:
        argv += ["-d", d]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [p["_source"]["layers"] for p in json.loads(out.stdout)]


def dicts_with(obj, key):
    """Every dict below obj (depth first, in order) that holds `key`."""
    found = []
    if isinstance(obj, dict):
        if key in obj:
            found.append(obj)
        for v in obj.values():
            found.extend(dicts_with(v, key))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(dicts_with(v, key))
    return found


def first(layer, key):
    """A field wherever tshark nested it below `layer` (the first one, if it gives a list)."""
    found = dicts_with(layer, key)
    assert found, f"tshark shows no {key} in {layer}"
    v = found[0][key]
    return v[0] if isinstance(v, list) else v
