#!/usr/bin/env python3
"""Rewrites ipfix-information-elements.csv from a copy of IANA's IPFIX registry.

    update.py ipfix.xml | ipfix-information-elements.csv

Either form IANA publishes works (https://www.iana.org/assignments/ipfix/). The output keeps the registry's
first five columns: ElementID, Name, Abstract Data Type, Data Type Semantics, Status. After an update, set
REGISTRY_REVISION and REGISTRY_LAST_ID in src/netflow/ie.rs and the pinned tallies in its tests.
"""

import csv
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

COLUMNS = ["ElementID", "Name", "Abstract Data Type", "Data Type Semantics", "Status"]
NS = {"a": "http://www.iana.org/assignments"}


def from_xml(path):
    root = ET.parse(path).getroot()
    print(f"registry updated {root.findtext('a:updated', namespaces=NS)}", file=sys.stderr)
    registry = next(r for r in root.iter(f"{{{NS['a']}}}registry") if r.get("id") == "ipfix-information-elements")
    for rec in registry.findall("a:record", NS):
        text = lambda tag: " ".join((rec.findtext(f"a:{tag}", default="", namespaces=NS) or "").split())
        yield [text(t) for t in ("elementId", "name", "dataType", "dataTypeSemantics", "status")]


def from_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows)
        assert header[:5] == COLUMNS, header[:5]
        for row in rows:
            yield [" ".join(c.split()) for c in row[:5]]


def main(src):
    rows = list(from_xml(src) if src.endswith(".xml") else from_csv(src))
    assert not any("," in c or '"' in c for row in rows for c in row), "build.rs reads plain comma-separated text"
    out = Path(__file__).resolve().parent / "ipfix-information-elements.csv"
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    print(f"wrote {out} ({len(rows)} rows)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
