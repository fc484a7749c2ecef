"""Syslog header variants real senders emit, decoded by `sekiwake decode` and by rsyslogd as a second oracle.

The fixtures are crates/wire/tests/data/syslog/headers.jsonl (the records crate checks the same file field by
field). Each one is sent over loopback UDP to a private rsyslogd whose template prints the fields it parsed;
tcpdump records the datagrams, and `sekiwake decode` reads that pcap. Then, per fixture:
- our record holds the fields the fixture lists (null: absent);
- rsyslog agrees on hostname, app (its programname), procid, message, timestamp and structured data, except
  where the fixture's `rsyslog_differs` names a field (or `*`: every field) and says why: those are the
  places where the two parsers differ on purpose (docs/records.md, "syslog").
rsyslog's %hostname% is the sender's address when the message names no host; its %msg% keeps the space after
the tag's colon (ours drops it); its timestamp is normalised (a BSD stamp gets a year), so ours is compared
field by field."""

import json
import re
import socket
import time

from decode_oracle import decode
from helpers.env import REPO
from helpers.gating import require_programs
from helpers.rsyslog import Rsyslog
from helpers.tshark import PacketCapture

FIXTURES = REPO / "crates" / "wire" / "tests" / "data" / "syslog" / "headers.jsonl"
SEP = "|#|"
FIELDS = ["hostname", "app", "procid", "timestamp", "message", "structured_data"]
TEMPLATE = SEP.join(["%hostname%", "%programname%", "%procid%", "%timereported:::date-rfc3339%", "%msg%",
                     "%structured-data%"]) + "\\n"
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
BSD = re.compile(r"([A-Za-z]{3}) +(\d{1,2}) (?:(\d{4}) )?(\d\d:\d\d:\d\d(?:\.\d+)?)(?: (\d{4}))?$")


def fixture_bytes(raw):
    """`\\xNN` in a fixture stands for that byte."""
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw.encode())


def load_fixtures():
    return [json.loads(line) for line in FIXTURES.read_text().splitlines() if line]


def same_time(ours, theirs):
    """Our stamp as sent against rsyslog's RFC 3339 rendering of it."""
    if re.match(r"\d{4}-\d\d-\d\dT", ours):
        return ours == theirs
    m = BSD.match(ours)
    assert m, f"no BSD stamp: {ours!r}"
    wanted = f"{MONTHS.index(m[1].lower()) + 1:02d}-{int(m[2]):02d}T{m[4]}"
    year = m[3] or m[5]
    return theirs[5:].startswith(wanted) and (year is None or theirs.startswith(year))


def rsyslog_view(line):
    """rsyslog's fields, absent ones as None, in our terms."""
    host, app, procid, stamp, msg, sd = line.split(SEP)
    return {
        "hostname": None if host == "127.0.0.1" else host,
        "app": app or None,
        "procid": None if procid in ("", "-") else procid,
        "timestamp": stamp,
        "message": msg[1:] if msg.startswith(" ") else msg,
        "structured_data": None if sd == "-" else sd,
    }


def agrees(field, ours, theirs):
    if field == "timestamp":
        return ours.get("timestamp") is None or same_time(ours["timestamp"], theirs["timestamp"])
    if field == "structured_data" and ours.get("format") != "rfc5424":
        return True  # rsyslog prints `-` for every RFC 3164 message
    return ours.get(field) == theirs[field]


def send_all(port, payloads):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in payloads:
            s.sendto(p, ("127.0.0.1", port))
            time.sleep(0.02)  # one datagram at a time, so rsyslog's lines keep the order sent


def our_records(records, fixtures):
    """Pair each fixture with its record: every one gives exactly one, a datagram without a valid <PRI> too
    (capture publishes it flagged as mismatched, decode reads it as user.notice)."""
    assert len(records) == len(fixtures), f"{len(records)} records for {len(fixtures)} fixtures"
    return list(zip(fixtures, records))


def test_header_variants_match_fixtures_and_rsyslog(tmp_path):
    require_programs("rsyslogd", "tcpdump", "tshark")
    fixtures = load_fixtures()
    rs = Rsyslog(tmp_path / "rsyslog", template=TEMPLATE)
    oracle = None
    try:
        rs.start()
        oracle = PacketCapture(tmp_path, f"udp and dst port {rs.port}").start()
        send_all(rs.port, [fixture_bytes(f["raw"]) for f in fixtures])
        rs.wait_lines(len(fixtures), timeout=20)
    finally:
        if oracle is not None:
            oracle.stop()
        rs.stop()
    lines = [line for line in rs.raw_log.read_bytes().decode("utf-8", errors="replace").split("\n") if line]
    assert len(lines) == len(fixtures), lines

    records, summary = decode(oracle.pcap, {"syslog": rs.port})
    pairs = our_records(records, fixtures)
    no_pri = sum(1 for f in fixtures if f["record"].get("no_pri"))
    assert no_pri > 0 and summary["skipped"] == 0, summary
    assert summary["records"]["mismatched"] == no_pri, summary
    assert sum(summary["records"]["refused"]["syslog"].values()) == no_pri, summary

    compared = 0
    for f, ours in pairs:
        name = f["name"]
        for field, want in f["record"].items():
            assert ours.get(field) == want, f"{name}: {field}: {ours}"
        differs = f["rsyslog_differs"]
        if "*" in differs:
            continue
        theirs = rsyslog_view(lines[fixtures.index(f)])
        for field in FIELDS:
            if field not in differs:
                assert agrees(field, ours, theirs), f"{name}: {field}: ours {ours}, rsyslog {theirs}"
                compared += 1
    assert compared >= 100, compared


def test_stamp_comparison_tells_a_wrong_day_or_year():
    """same_time, used above, is strict: a wrong day or year is a difference."""
    assert same_time("Dec  7 08:15:02", "2026-12-07T08:15:02+00:00")
    assert same_time("DEC 7 2026 08:15:02", "2026-12-07T08:15:02+00:00")
    assert same_time("Dec  7 08:15:02.123456", "2026-12-07T08:15:02.123456+00:00")
    assert not same_time("Dec  8 08:15:02", "2026-12-07T08:15:02+00:00")
    assert not same_time("Dec  7 2025 08:15:02", "2026-12-07T08:15:02+00:00")
    assert not same_time("2026-12-07T08:15:02Z", "2026-12-07T08:15:02+00:00")  # RFC 3339 compares as sent
