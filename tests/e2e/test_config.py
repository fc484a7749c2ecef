"""sekiwake check-config: the shipped example configs pass; broken copies of one (unknown key, wrong type, bad
endpoint) fail with a nonzero exit and an error naming the file, the line and the key.

The bad files are derived from the first example (examples/*.toml), so this test follows the config schema
instead of guessing it: an unknown key is added, an integer (or boolean) value gets a string, and an endpoint
string (tcp://, udp://, ipc://) gets an unknown scheme, or a port that is not a number."""

import re
import tomllib

import pytest

from helpers.env import REPO, SEKIWAKE_BIN
from helpers.gating import require_sekiwake, unavailable

ENDPOINT = re.compile(r"^(tcp|udp|ipc|tls|inproc)://")
ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.+?)\s*$")


def examples():
    return sorted(p for p in REPO.glob("examples/**/*.toml"))


def run_check(path, *flags):
    import subprocess
    out = subprocess.run([SEKIWAKE_BIN, "check-config", *flags, str(path)], capture_output=True, text=True,
                         timeout=30)
    return out.returncode, out.stdout + out.stderr


def scalar_lines(text):
    """(line number, key, value) for each `key = scalar` line of a TOML text (1-based line numbers)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        m = ASSIGN.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        try:
            value = tomllib.loads(f"v = {m.group(2)}")["v"]
        except tomllib.TOMLDecodeError:
            continue  # multi-line value
        found.append((number, m.group(1), value))
    return found


def mentions_line(output, number):
    return re.search(rf"(line\s*{number}\b|:{number}(:|\b)|\b{number}:\d+)", output) is not None


@pytest.fixture
def example():
    require_sekiwake()
    found = examples()
    if not found:
        unavailable("no example config in examples/*.toml to check and to derive bad configs from")
    return found[0]


def test_every_example_config_passes():
    require_sekiwake()
    found = examples()
    if not found:
        unavailable("no example config in examples/*.toml")
    for path in found:
        # the examples are written for other hosts: their TLS files (examples/relay.toml) are not here
        rc, output = run_check(path, "--no-files")
        assert rc == 0, f"{path}: {output}"


def write_variant(tmp_path, example, lineno, new_line, insert=False):
    lines = example.read_text().splitlines()
    if insert:
        lines.insert(lineno - 1, new_line)
    else:
        lines[lineno - 1] = new_line
    bad = tmp_path / f"bad-{example.stem}.toml"
    bad.write_text("\n".join(lines) + "\n")
    return bad


def test_unknown_key_is_rejected_with_file_line_and_key(example, tmp_path):
    text = example.read_text()
    scalars = scalar_lines(text)
    assert scalars, f"{example} has no key = value line"
    # insert right after an existing assignment, so the unknown key sits in a real table
    lineno = scalars[0][0] + 1
    bad = write_variant(tmp_path, example, lineno, "no_such_key_e2e = 1", insert=True)
    rc, output = run_check(bad)
    assert rc != 0
    assert bad.name in output, output
    assert "no_such_key_e2e" in output, output
    assert mentions_line(output, lineno), output


def test_wrong_type_is_rejected_with_file_line_and_key(example, tmp_path):
    scalars = [s for s in scalar_lines(example.read_text()) if isinstance(s[2], (bool, int))]
    if not scalars:
        unavailable(f"{example} has no integer or boolean value to mistype")
    lineno, key, _ = scalars[0]
    bad = write_variant(tmp_path, example, lineno, f'{key} = "not-a-{key}"')
    rc, output = run_check(bad)
    assert rc != 0
    assert bad.name in output, output
    assert key in output, output
    assert mentions_line(output, lineno), output


@pytest.mark.parametrize("endpoint", ["bogus://nowhere", "tcp://127.0.0.1:notaport"],
                         ids=["unknown-scheme", "port-not-a-number"])
def test_bad_endpoint_is_rejected_with_file_line_and_key(example, tmp_path, endpoint):
    scalars = [s for s in scalar_lines(example.read_text()) if isinstance(s[2], str) and ENDPOINT.match(s[2])]
    if not scalars:
        unavailable(f"{example} has no endpoint string (tcp://, udp://, ipc://) to break")
    lineno, key, _ = scalars[0]
    bad = write_variant(tmp_path, example, lineno, f'{key} = "{endpoint}"')
    rc, output = run_check(bad)
    assert rc != 0, output
    assert bad.name in output, output
    assert key in output, output
    assert mentions_line(output, lineno), output


def test_missing_file_is_an_error(tmp_path):
    require_sekiwake()
    rc, output = run_check(tmp_path / "does-not-exist.toml")
    assert rc != 0
    assert "does-not-exist.toml" in output


def test_roles_run_from_one_file_and_flags_override_it(sekiwake, tmp_path):
    """capture and forward both read one file; a --port flag replaces the file's port for that kind."""
    import time
    from helpers.net import UdpSink, drain_socket, free_port, send_udp
    file_port, flag_port = free_port("udp"), free_port("udp")
    bus = f"tcp://127.0.0.1:{free_port('tcp')}"
    sink = UdpSink(tmp_path, count=5, timeout=15, idle=3).start()
    conf = tmp_path / "sekiwake.toml"
    conf.write_text(f"""
[capture]
interfaces = ["lo"]
[capture.ports]
syslog = [{file_port}]
[bus]
publish = "{bus}"
subscribe = ["{bus}"]
[[forward.destination]]
url = "{sink.url}"
kinds = ["syslog"]
""")
    assert run_check(conf)[0] == 0, run_check(conf)[1]
    fwd = sekiwake.forward([], {}, config=conf)
    cap = sekiwake.capture(ifaces=(), ports={"syslog": flag_port}, publish=bus, config=conf, wait_subscribers=1)
    time.sleep(1.0)  # slow joiner
    with drain_socket(file_port), drain_socket(flag_port):
        send_udp([b"<14>to the file's port"] * 3, "127.0.0.1", file_port)
        send_udp([f"<14>to the flag's port {i}".encode() for i in range(5)], "127.0.0.1", flag_port)
        got = sink.results()
    cap_rc, cap_stats = cap.terminate()
    fwd_rc, fwd_stats = fwd.terminate()
    assert sorted(p for *_, p in got) == sorted(f"<14>to the flag's port {i}".encode() for i in range(5))
    assert cap_stats["captured_total"] == 5, "the file's port was replaced by the flag's"
    assert fwd_stats["destinations"][0]["url"] == sink.url
    assert cap_rc == 0 and fwd_rc == 0, cap.output() + fwd.output()


@pytest.mark.parametrize("user,message,line", [
    ('name = "ops"\nauth_protocol = "sha"\nauth_password = "short"\n', "shorter than 8", 4),
    ('name = "ops"\nauth_protocol = "sha"\n', "auth_protocol and auth_password go together", 4),
    ('name = "ops"\npriv_protocol = "aes"\npriv_password = "privpass123"\n', "ops", 4),
    ('name = "ops"\nauth_protocol = "sha1"\nauth_password = "authpass123"\n', "unknown variant", 6),
])
def test_bad_snmp_user_is_refused_with_line_and_key(tmp_path, user, message, line):
    require_sekiwake()
    bad = tmp_path / "decode.toml"
    bad.write_text("[decode]\ntemplates = true\n\n[[decode.snmp_users]]\n" + user)
    rc, out = run_check(bad)
    assert rc != 0, out
    assert str(bad) in out and "decode.snmp_users" in out and message in out, out
    assert mentions_line(out, line), out
