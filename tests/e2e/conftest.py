"""pytest configuration for the sekiwake end-to-end suite: puts tests/e2e on sys.path (the helpers package,
relay_peers, decode_oracle) and defines the fixtures: real peers started and stopped by PID, the sekiwake
roles, network namespaces."""

import contextlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers.env import IN_CI, SEKIWAKE_BIN  # noqa: E402
from helpers.gating import require_programs, require_root, require_sekiwake  # noqa: E402
from helpers.netflow import Nfcapd  # noqa: E402
from helpers.netns import NetnsPair  # noqa: E402
from helpers.proc import unique_name  # noqa: E402
from helpers.rsyslog import Rsyslog  # noqa: E402
from helpers.sekiwake import Sekiwake  # noqa: E402
from helpers.sflow import Sfacctd  # noqa: E402
from helpers.snmp import Snmptrapd  # noqa: E402
from relay_peers import Chain  # noqa: E402


def pytest_configure(config):
    try:
        import scapy  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as e:
        raise pytest.UsageError(f"{e}: run the e2e suite with Debian's /usr/bin/python3 (python3-scapy, "
                                "python3-zmq, python3-pytest), not the pyenv python3 on PATH")


def pytest_report_header(config):
    return [f"sekiwake binary: {SEKIWAKE_BIN} (exists: {os.path.exists(SEKIWAKE_BIN)}), "
            f"CI={IN_CI}, root={os.geteuid() == 0}"]


# --------------------------------------------------------------------------------------------- peers

@pytest.fixture
def rsyslog(tmp_path):
    require_programs("rsyslogd")
    d = Rsyslog(tmp_path / "rsyslog")
    try:
        yield d.start()
    finally:
        d.stop()


@pytest.fixture
def snmptrapd(tmp_path):
    require_programs("snmptrapd", "snmptrap")
    d = Snmptrapd(tmp_path / "snmptrapd")
    try:
        yield d.start()
    finally:
        d.stop()


def _daemon_factory(cls, tmp_path, default_name):
    """A fixture body: yields make(name) that starts a cls daemon in its own dir; stops them all at teardown."""
    started = []

    def make(name=default_name):
        d = cls(tmp_path / unique_name(name + "-"))
        started.append(d)
        return d.start()
    try:
        yield make
    finally:
        for d in started:
            d.stop()


@pytest.fixture
def nfcapd_factory(tmp_path):
    require_programs("nfcapd", "nfdump")
    yield from _daemon_factory(Nfcapd, tmp_path, "nfcapd")


@pytest.fixture
def nfcapd(nfcapd_factory):
    return nfcapd_factory()


@pytest.fixture
def sfacctd_factory(tmp_path):
    require_programs("sfacctd", "pmacctd")
    yield from _daemon_factory(Sfacctd, tmp_path, "sfacctd")


@pytest.fixture
def sfacctd(sfacctd_factory):
    return sfacctd_factory()


@pytest.fixture
def sekiwake(tmp_path):
    require_root()
    require_sekiwake()
    s = Sekiwake(tmp_path / "sekiwake")
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def netns():
    """Factory: `with netns(mtu=1280) as pair:` -- namespaces deleted on exit even on failure."""
    require_root()
    require_programs("ip")
    made = []

    def make(mtu=1500):
        pair = NetnsPair(mtu)
        made.append(pair)
        return pair
    try:
        yield make
    finally:
        for pair in made:
            pair.__exit__(None, None, None)


# --------------------------------------------------------------------------------------------- relay tests

@pytest.fixture
def chain():
    """Factory: `c = chain(mtu=1500)` -> an entered Chain; its namespaces are deleted at teardown, even on
    failure (after the test's daemons, which other fixtures stop)."""
    require_root()
    require_programs("ip", "sysctl")
    made = []

    def make(mtu=1500):
        c = Chain(mtu)
        made.append(c)
        return c.__enter__()
    try:
        yield make
    finally:
        for c in made:
            c.__exit__(None, None, None)


@pytest.fixture
def daemons():
    """A list to append started Daemon objects to; each is stopped by its PID at teardown (last first)."""
    started = []
    try:
        yield started
    finally:
        for d in reversed(started):
            with contextlib.suppress(Exception):
                d.stop()
