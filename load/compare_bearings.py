"""The bearing diagnosis over labelled recordings, as `linepulse vibration` runs it: per record the
share of windows naming each component, the verdict (the component most windows name, or none)
against the label, and a confusion table.

    python load/compare_bearings.py --manifest recordings.csv [--json out.json]

The manifest is a CSV with a header: `file` (a CSV recording, relative to the manifest),
`column`, `sample_rate_hz`, `shaft_rpm`, `bearing` (as `--bearing` takes it), `label` (normal,
outer_race, inner_race, rolling_element or cage). Public recordings (CWRU, MFPT, IMS, Paderborn)
are not in the repository; `load/RESULTS.md` says which were used and where they came from.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

from schemas.vibration import VibrationSpec
from streams.commands.vibration import parse_bearing, read_column, windows
from streams.core.condition import ConditionMonitor
from streams.settings import VibrationSettings

LABELS = ("normal", "outer_race", "inner_race", "rolling_element", "cage")


def judge(row: dict[str, str], base: Path, settings: VibrationSettings) -> dict[str, object]:
    """One record's windows and verdict."""
    spec = VibrationSpec(
        unit="g", shaft_rpm=float(row["shaft_rpm"]), bearing=parse_bearing(row["bearing"])
    )
    samples = read_column(base / row["file"], row["column"], ",")
    monitor = ConditionMonitor(spec, settings.condition())
    named = Counter(
        w.suspected or "normal"
        for w in windows(samples, float(row["sample_rate_hz"]), 1.0, monitor)
    )
    verdict = named.most_common(1)[0][0]
    total = sum(named.values())
    return {
        "file": row["file"],
        "label": row["label"],
        "verdict": verdict,
        "windows": total,
        "share_right": round(named[row["label"]] / total, 3),
        "named": dict(named),
    }


def main() -> None:
    """Judge every record of the manifest and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with args.manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    settings = VibrationSettings()
    results = [judge(row, args.manifest.parent, settings) for row in rows]
    for r in results:
        mark = "ok " if r["verdict"] == r["label"] else "   "
        print(f"{mark}{r['file']:48s} {r['label']:16s} -> {r['verdict']:16s} {r['named']}")
    confusion = Counter((str(r["label"]), str(r["verdict"])) for r in results)
    print("\nlabel \\ verdict  " + "  ".join(f"{v[:10]:>10s}" for v in LABELS))
    for label in LABELS:
        counts = [confusion[(label, v)] for v in LABELS]
        if sum(counts):
            print(f"{label:16s} " + "  ".join(f"{c:10d}" for c in counts))
    right = sum(1 for r in results if r["verdict"] == r["label"])
    print(f"\n{right} of {len(results)} records: verdict = label")
    if args.json:
        args.json.write_text(json.dumps({"records": results, "right": right}, indent=2) + "\n")


if __name__ == "__main__":
    main()
