"""The README's first command runs `sekiwake demo`: sender -> capture on lo -> bus -> forward -> receiver in
one process, with live counters and a summary that says whether anything was lost."""

import re

from helpers.net import free_port


def test_demo_shows_live_counters_and_reports_no_loss(sekiwake):
    count = 30_000
    out = sekiwake.run("demo", "--rate", 10_000, "--count", count, "--port", free_port("udp"),
                       "--receiver-port", free_port("udp"), timeout=60)
    text = out.stdout
    assert out.returncode == 0, text + out.stderr
    live = [l for l in text.splitlines() if l.strip().startswith("sending:")]
    assert len(live) >= 2, text
    assert all(re.search(r"captured=\d+ +published=\d+ +forwarded=\d+ +received=\d+", l) for l in live)
    for stage in ("sent", "captured", "published", "forwarded", "received"):
        m = re.search(rf"^\s+{stage}\s+(\d+)", text, re.M)
        assert m and int(m.group(1)) == count, f"{stage}: {text}"
    assert "result: no loss" in text


def test_demo_refuses_a_busy_receiver_port_with_a_clear_error(sekiwake):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        busy = s.getsockname()[1]
        out = sekiwake.run("demo", "--count", 10, "--receiver-port", busy, timeout=30)
    assert out.returncode == 2
    assert f"127.0.0.1:{busy}" in out.stderr and "error" in out.stderr
