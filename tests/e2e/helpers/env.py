"""Where things are and how the suite runs: the e2e directory, the repository, the helper tools, Debian's
python, the sekiwake binary (SEKIWAKE_BIN), and whether this is CI (CI=true)."""

import os
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent
REPO = E2E.parent.parent
TOOLS = E2E / "tools"
PY = "/usr/bin/python3"
SEKIWAKE_BIN = os.environ.get("SEKIWAKE_BIN", str(REPO / "target" / "release" / "sekiwake"))
IN_CI = os.environ.get("CI", "").lower() == "true"
