"""Prerequisites: outside CI a missing one skips the test with its reason; in CI (CI=true) it fails it."""

import os
import shutil

from .env import IN_CI, SEKIWAKE_BIN, TOOLS


def unavailable(reason):
    """Skip outside CI; in CI (CI=true) a missing prerequisite is a failure, never a skip."""
    import pytest  # here, not at import time: bench/run loads these modules without pytest
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_root():
    if os.geteuid() != 0:
        unavailable("needs root (libpcap capture, network namespaces, privileged ports)")


def require_programs(*names):
    missing = [n for n in names if shutil.which(n) is None and not os.path.exists(n)]
    if missing:
        unavailable(f"programs not installed: {', '.join(missing)}")


def require_sekiwake():
    if not os.access(SEKIWAKE_BIN, os.X_OK):
        unavailable(f"sekiwake binary not found at {SEKIWAKE_BIN} (build it or set SEKIWAKE_BIN)")


def require_tool(name):
    path = TOOLS / name
    if not path.exists():
        unavailable(f"helper tool {path} is missing")
    return path
