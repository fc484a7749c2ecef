"""sekiwake check-config: the shipped example configs pass; broken copies of one (unknown key, wrong type, bad
endpoint) fail with a nonzero exit and an error naming the file, the line and the key.

The bad files are derived from the first example (examples/*.toml), so this test follows the config schema
instead of guessing it: an unknown key is added, an integer (or boolean) value gets a string, and an endpoint
string (tcp://, udp://, ipc://) gets an unknown scheme, or a port that is not a number."""

import re
import tomllib

import pytest

from peers import REPO, SEKIWAKE_BIN, require_sekiwake, unavailable

ENDPOINT = re.compile(r"^(tcp|udp|ipc|tls|inproc)://")
ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.+?)\s*$")


def examples():
    return sorted(p for p in REPO.glob("examples/**/*.toml"))


def run_check(path):
    import subprocess
    out = subprocess.run([SEKIWAKE_BIN, "check-config", str(path)], capture_output=True, text=True, timeout=30)
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
        rc, output = run_check(path)
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
