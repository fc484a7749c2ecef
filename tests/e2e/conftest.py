"""pytest configuration for the sekiwake end-to-end suite: makes peers.py importable and exposes its fixtures."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import (  # noqa: E402,F401  (fixtures are found by name)
    netns, nfcapd, nfcapd_factory, rsyslog, sekiwake, sfacctd, sfacctd_factory, snmptrapd)


def pytest_configure(config):
    try:
        import scapy  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as e:
        raise pytest.UsageError(f"{e}: run the e2e suite with Debian's /usr/bin/python3 (python3-scapy, "
                                "python3-zmq, python3-pytest), not the pyenv python3 on PATH")


def pytest_report_header(config):
    import peers
    return [f"sekiwake binary: {peers.SEKIWAKE_BIN} (exists: {os.path.exists(peers.SEKIWAKE_BIN)}), "
            f"CI={peers.IN_CI}, root={os.geteuid() == 0}"]
