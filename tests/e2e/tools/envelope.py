#!/usr/bin/python3
"""envelope.py - decode sekiwake bus envelopes, written from docs/wire-format.md only.

Library:
    decode(topic: bytes, body: bytes, strict=False) -> dict
        Validates magic, version, header_len, payload_len and the topic `<kind>/b<bucket>/<exporter>/`
        (bucket = FNV-1a 32 of the 16-byte src_addr field, mod 64). Raises ValueError with a clear message.
        strict=True also rejects what the doc says a reader must tolerate (unknown kind or flag bits) and
        nonzero reserved fields: useful when testing our own publisher.

CLI (run with /usr/bin/python3, which has python3-zmq):
    envelope.py sub --connect tcp://127.0.0.1:5556 --count N --timeout S [--out FILE] [--subscribe PREFIX]
                    [--lenient]
        Subscribes, sleeps 0.5 s (slow joiner), prints "ready" (flushed), then decodes N messages or until
        S seconds pass; one JSON line per message (payload as hex; an undecodable one gives {"error": ...}).
        Exit 0 only if N messages arrived and all decoded (N=0: until the timeout, no errors). Summary on stderr.
    envelope.py selftest
"""

import argparse
import ipaddress
import json
import struct
import sys
import time

HEADER = struct.Struct("<4sBBBBHHHHQQQ16s16s16sII")
HEADER_LEN = 96
MAGIC = b"SKWE"
VERSION = 1
KINDS = {1: "syslog", 2: "netflow-v5", 3: "netflow-v9", 4: "ipfix", 5: "sflow", 6: "snmptrap"}
KIND_CODES = {name: code for code, name in KINDS.items()}
FLAG_IPV6, FLAG_REASSEMBLED, FLAG_INFORM, FLAG_MISMATCHED = 1, 2, 4, 8
KNOWN_FLAGS = FLAG_IPV6 | FLAG_REASSEMBLED | FLAG_INFORM | FLAG_MISMATCHED
VARIANTS = {"syslog": {1: "rfc3164", 2: "rfc5424"}, "netflow-v5": {5: "v5"}, "netflow-v9": {9: "v9"},
            "ipfix": {10: "ipfix"}, "sflow": {5: "v5"}, "snmptrap": {0: "v1", 1: "v2c", 3: "v3"}}
assert HEADER.size == HEADER_LEN


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def bucket_of(src_field):
    """Exporter-affinity bucket 0..63 of a 16-byte src_addr field."""
    return fnv1a32(src_field) % 64


def address_text(field):
    """Text of a 16-byte address field: dotted quad if IPv4-mapped, else RFC 5952 IPv6."""
    addr = ipaddress.IPv6Address(field)
    return str(addr.ipv4_mapped) if addr.ipv4_mapped else str(addr)


def _interface(field, strict):
    name, _, padding = field.partition(b"\0")
    if strict and padding.strip(b"\0"):
        raise ValueError("interface field %r is not NUL-padded" % field)
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("interface field %r is not ASCII" % field) from None


def _check_strict(kind, variant, flags, reserved, src_field, dst_field):
    if kind is None:
        raise ValueError("unknown kind code (strict)")
    if flags & FLAG_MISMATCHED and variant != 0:
        raise ValueError("mismatched flag set with variant %d (must be 0)" % variant)
    if not flags & FLAG_MISMATCHED and variant not in VARIANTS[kind]:
        raise ValueError("variant %d is not valid for kind %s" % (variant, kind))
    if flags & ~KNOWN_FLAGS:
        raise ValueError("unknown flag bits 0x%02x (strict)" % (flags & ~KNOWN_FLAGS))
    if flags & FLAG_INFORM and kind != "snmptrap":
        raise ValueError("inform flag set on kind %s" % kind)
    if any(reserved):
        raise ValueError("reserved fields not zero: %r" % (reserved,))
    if not flags & FLAG_IPV6:
        for name, field in (("src_addr", src_field), ("dst_addr", dst_field)):
            if not ipaddress.IPv6Address(field).ipv4_mapped:
                raise ValueError("IPv6 flag clear but %s %s is not IPv4-mapped"
                                 % (name, ipaddress.IPv6Address(field)))


def _check_topic(topic, kind, kind_code, bucket, exporter):
    try:
        text = topic.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("topic %r is not ASCII" % topic) from None
    parts = text.split("/")
    if len(parts) != 4 or parts[3] != "":
        raise ValueError("topic %r is not <kind>/b<bucket>/<exporter>/" % text)
    t_kind, t_bucket, t_exporter = parts[:3]
    if kind is not None and t_kind != kind:
        raise ValueError("topic kind %r but body kind %d (%s)" % (t_kind, kind_code, kind))
    if kind is None and (not t_kind or t_kind in KIND_CODES):
        raise ValueError("topic kind %r for unknown body kind %d" % (t_kind, kind_code))
    if t_bucket != "b%02d" % bucket:
        raise ValueError("topic bucket %r, expected b%02d (FNV-1a of src_addr mod 64)" % (t_bucket, bucket))
    if t_exporter != exporter:
        raise ValueError("topic exporter %r, expected %r" % (t_exporter, exporter))


def decode(topic, body, strict=False):
    """Decode and validate one envelope (topic frame, body frame). Raises ValueError."""
    topic, body = bytes(topic), bytes(body)
    if len(body) < HEADER_LEN:
        raise ValueError("body is %d bytes, shorter than the %d-byte header" % (len(body), HEADER_LEN))
    (magic, version, kind_code, variant, flags, header_len, src_port, dst_port, reserved1, publisher, sequence,
     timestamp_ns, src_field, dst_field, iface_field, payload_len, reserved2) = HEADER.unpack_from(body)
    if magic != MAGIC:
        raise ValueError("bad magic %r, expected %r" % (magic, MAGIC))
    if version != VERSION:
        raise ValueError("unsupported version %d, expected %d" % (version, VERSION))
    if header_len < HEADER_LEN:
        raise ValueError("header_len %d < %d" % (header_len, HEADER_LEN))
    if header_len + payload_len != len(body):
        raise ValueError("header_len %d + payload_len %d != body length %d"
                         % (header_len, payload_len, len(body)))
    kind = KINDS.get(kind_code)
    if strict:
        _check_strict(kind, variant, flags, (reserved1, reserved2), src_field, dst_field)
    bucket = bucket_of(src_field)
    src, dst = address_text(src_field), address_text(dst_field)
    _check_topic(topic, kind, kind_code, bucket, src)
    return {
        "topic": topic.decode("ascii"),
        "kind": kind or "unknown(%d)" % kind_code,
        "kind_code": kind_code,
        "variant": variant,
        "variant_name": VARIANTS.get(kind, {}).get(variant, "unknown(%d)" % variant),
        "flags": flags,
        "ipv6": bool(flags & FLAG_IPV6),
        "reassembled": bool(flags & FLAG_REASSEMBLED),
        "inform": bool(flags & FLAG_INFORM),
        "mismatched": bool(flags & FLAG_MISMATCHED),
        "unknown_flags": flags & ~KNOWN_FLAGS,
        "header_len": header_len,
        "src_port": src_port,
        "dst_port": dst_port,
        "publisher": publisher,
        "sequence": sequence,
        "timestamp_ns": timestamp_ns,
        "src": src,
        "dst": dst,
        "bucket": bucket,
        "interface": _interface(iface_field, strict),
        "payload_len": payload_len,
        "reserved": [reserved1, reserved2],
        "payload": body[header_len:],
    }


def to_json(decoded):
    out = dict(decoded)
    out["payload_hex"] = out.pop("payload").hex()
    return json.dumps(out, sort_keys=True)


# --------------------------------------------------------------------------------------------------- sub

def cmd_sub(args):
    import zmq
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 0)           # unlimited: drops should happen at the publisher, not here
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.connect)
    sock.setsockopt(zmq.SUBSCRIBE, args.subscribe.encode())
    time.sleep(0.5)                           # slow joiner
    print("ready", flush=True)
    out = open(args.out, "w") if args.out else sys.stdout
    received = errors = 0
    last_seq, gaps = {}, 0
    deadline = time.monotonic() + args.timeout
    try:
        while args.count == 0 or received < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1):
                break
            frames = sock.recv_multipart()
            received += 1
            try:
                if len(frames) != 2:
                    raise ValueError("message has %d frames, expected 2" % len(frames))
                d = decode(frames[0], frames[1], strict=not args.lenient)
                stream = (d["publisher"], d["kind_code"], d["bucket"])  # sequences count per kind and bucket
                prev = last_seq.get(stream)
                if prev is not None and d["sequence"] != prev + 1:
                    gaps += 1
                last_seq[stream] = d["sequence"]
                out.write(to_json(d) + "\n")
            except ValueError as e:
                errors += 1
                out.write(json.dumps({"error": str(e), "topic": frames[0].decode("latin-1"),
                                      "body_hex": b"".join(frames[1:]).hex()}) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
        sock.close()
        ctx.term()
    ok = errors == 0 and (args.count == 0 or received >= args.count)
    print("envelope sub: received %d of %s, %d errors, %d sequence gaps -> %s"
          % (received, args.count or "any", errors, gaps, "ok" if ok else "FAIL"), file=sys.stderr)
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------- selftest

def mapped(addr):
    """16-byte address field of an IPv4 (IPv4-mapped) or IPv6 text address."""
    ip = ipaddress.ip_address(addr)
    if ip.version == 4:
        return ipaddress.IPv6Address("::ffff:" + addr).packed
    return ip.packed


def build(kind, variant, flags, src, sport, dst, dport, payload, publisher=7, sequence=0,
          ts=1_700_000_000_000_000_000, iface=b"pcap", magic=MAGIC, payload_len=None):
    """A hand-built (topic, body) following the doc, for tests."""
    src_f, dst_f = mapped(src), mapped(dst)
    body = HEADER.pack(magic, VERSION, KIND_CODES[kind], variant, flags, HEADER_LEN, sport, dport, 0, publisher,
                       sequence, ts, src_f, dst_f, iface.ljust(16, b"\0"),
                       len(payload) if payload_len is None else payload_len, 0) + payload
    topic = ("%s/b%02d/%s/" % (kind, bucket_of(src_f), address_text(src_f))).encode()
    return topic, body


def expect_error(what, topic, body, fragment, strict=False):
    try:
        decode(topic, body, strict=strict)
    except ValueError as e:
        assert fragment in str(e), "%s: message %r lacks %r" % (what, str(e), fragment)
        return
    raise AssertionError("%s: decode accepted it" % what)


def selftest_decode():
    payload = b"<14>Nov 14 22:13:20 host1 app[1]: hello"
    topic, body = build("syslog", 1, 0, "192.0.2.10", 40000, "198.51.100.1", 514, payload, sequence=5)
    d = decode(topic, body, strict=True)
    assert d["kind"] == "syslog" and d["variant_name"] == "rfc3164" and d["src"] == "192.0.2.10"
    assert d["dst"] == "198.51.100.1" and d["src_port"] == 40000 and d["dst_port"] == 514
    assert d["payload"] == payload and d["sequence"] == 5 and d["interface"] == "pcap" and not d["ipv6"]
    assert HEADER.unpack_from(body)[0] == b"SKWE" and body[96:] == payload

    payload6 = bytes(range(256)) * 12
    topic6, body6 = build("netflow-v9", 9, FLAG_IPV6 | FLAG_REASSEMBLED, "2001:db8::1", 2055, "2001:db8:0:1::2",
                          2055, payload6, ts=1)
    d6 = decode(topic6, body6, strict=True)
    assert d6["src"] == "2001:db8::1" and d6["dst"] == "2001:db8:0:1::2" and d6["ipv6"] and d6["reassembled"]
    assert topic6.startswith(b"netflow-v9/b") and topic6.endswith(b"/2001:db8::1/") and d6["payload"] == payload6

    di = decode(*build("snmptrap", 1, FLAG_INFORM, "192.0.2.50", 40162, "198.51.100.1", 162, b"\x30\x00"), strict=True)
    assert di["inform"] and di["variant_name"] == "v2c"

    # FNV-1a reference values (32-bit): "" -> 0x811c9dc5, "a" -> 0xe40c292c
    assert fnv1a32(b"") == 0x811C9DC5 and fnv1a32(b"a") == 0xE40C292C

    # a reader must accept unknown kinds and flag bits (not in strict mode), and a longer header
    unk = bytearray(body)
    unk[5], unk[7] = 77, 0x80
    unk_topic = b"future" + topic[len(b"syslog"):]
    du = decode(unk_topic, bytes(unk))
    assert du["kind"] == "unknown(77)" and du["unknown_flags"] == 0x80
    expect_error("unknown kind, strict", unk_topic, bytes(unk), "unknown kind", strict=True)
    longer = bytearray(body[:96]) + b"\xee" * 8 + payload
    struct.pack_into("<H", longer, 8, 104)
    assert decode(topic, bytes(longer))["payload"] == payload

    bad_magic = b"SKWF" + body[4:]
    expect_error("wrong magic", topic, bad_magic, "bad magic")
    expect_error("wrong version", topic, body[:4] + b"\x02" + body[5:], "version")
    expect_error("payload_len too big", *build("syslog", 1, 0, "192.0.2.10", 1, "192.0.2.2", 514, payload,
                                               payload_len=len(payload) + 1), "payload_len")
    expect_error("body cut short", topic, body[:-1], "payload_len")
    expect_error("shorter than header", topic, body[:50], "shorter than")
    short_hdr = bytearray(body)
    struct.pack_into("<H", short_hdr, 8, 64)
    expect_error("header_len < 96", topic, bytes(short_hdr), "header_len 64")
    expect_error("wrong bucket", topic.replace(b"/b", b"/bx"), body, "bucket")
    wrong_bucket = b"syslog/b%02d/192.0.2.10/" % ((bucket_of(mapped("192.0.2.10")) + 1) % 64)
    expect_error("off-by-one bucket", wrong_bucket, body, "bucket")
    expect_error("wrong exporter", b"syslog/b%02d/192.0.2.1/" % d["bucket"], body, "exporter")
    expect_error("missing trailing slash", topic[:-1], body, "not <kind>")
    expect_error("wrong kind in topic", b"sflow" + topic[len(b"syslog"):], body, "topic kind")
    expect_error("IPv6 exporter written long-hand", topic6.replace(b"2001:db8::1/", b"2001:0db8::1/"), body6,
                 "exporter")
    expect_error("IPv6 flag clear on IPv6 address", topic6, body6[:7] + bytes([FLAG_REASSEMBLED]) + body6[8:],
                 "not IPv4-mapped", strict=True)


def selftest_sub():
    """Run the `sub` CLI against a local PUB socket: 3 good messages and one bad one."""
    import subprocess
    import zmq
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    msgs = [build("syslog", 2, 0, "192.0.2.%d" % i, 40000 + i, "198.51.100.1", 514, b"<14>1 - - - - - - m%d" % i,
                  sequence=i) for i in range(3)]
    for extra, want_rc in ((0, 0), (1, 1)):
        proc = subprocess.Popen([sys.executable, __file__, "sub", "--connect", "tcp://127.0.0.1:%d" % port,
                                 "--count", str(3 + extra), "--timeout", "5"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        for topic, body in msgs:
            pub.send_multipart([topic, body])
        if extra:
            pub.send_multipart([b"syslog/b00/192.0.2.1/", b"SKWX" + bytes(92)])
        out, err = proc.communicate(timeout=15)
        lines = [json.loads(line) for line in out.splitlines()]
        assert proc.returncode == want_rc, (proc.returncode, err)
        assert [line.get("payload_hex") for line in lines[:3]] == [m[1][96:].hex() for m in msgs], lines
        assert extra == 0 or "bad magic" in lines[3]["error"]
    pub.close(0)
    ctx.term()


def cmd_selftest(args):
    selftest_decode()
    print("selftest: decode ok")
    if not args.no_zmq:
        selftest_sub()
        print("selftest: sub ok")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sub", help="subscribe, decode, write JSON lines")
    p.add_argument("--connect", default="tcp://127.0.0.1:5556")
    p.add_argument("--count", type=int, default=0, help="messages to wait for (0: until the timeout)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds, counted after 'ready'")
    p.add_argument("--out", help="JSON lines file (default stdout, after the 'ready' line)")
    p.add_argument("--subscribe", default="", help="topic prefix (default: everything)")
    p.add_argument("--lenient", action="store_true",
                   help="accept unknown kinds/flags and nonzero reserved fields (strict by default)")
    p.set_defaults(func=cmd_sub)
    p = sub.add_parser("selftest", help="test decode with hand-built bodies, and the sub CLI over tcp loopback")
    p.add_argument("--no-zmq", action="store_true", help="skip the pub/sub part")
    p.set_defaults(func=cmd_selftest)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
