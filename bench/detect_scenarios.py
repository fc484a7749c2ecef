#!/usr/bin/python3
"""Detection scenarios through the real path with a long background: how many of the injected events are
caught, how soon after their onset, and how many false alarms an hour of background raises.

    sudo bench/detect_scenarios.py [--background SECONDS] [--warmup SECONDS] [--out FILE]

Background traffic of every kind from many exporters (`sekiwake send`) -> capture -> bus -> detect -> a
webhook receiver; after the warm-up and `--background` seconds of background alone, twelve events one
after another (tests/e2e/detect_scenarios.py has them and their ground truth). Needs root (the e2e helpers
start capture as the suite does) and a release build (`./run setup`). Bounded: it ends by itself after the
warm-up, the background and about two minutes of events."""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import detect_scenarios  # noqa: E402
from helpers.sekiwake import Sekiwake  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--background", type=float, default=3600, help="seconds of background before the events")
    p.add_argument("--warmup", type=int, default=60, help="detect --warmup")
    p.add_argument("--out", help="also write the table to this file")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (capture), as the e2e suite does")
    work = Path(tempfile.mkdtemp(prefix="detect-scenarios-"))
    s = Sekiwake(work / "sekiwake")
    try:
        outcome = detect_scenarios.run(s, work, warmup=a.warmup, background=a.background)
    finally:
        s.stop_all()
    table = detect_scenarios.table(outcome)
    for fa in outcome.false_alarms:
        table += f"\n- false alarm: {fa['type']} {fa['exporter']} {fa['key']}: {fa['summary']}"
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
