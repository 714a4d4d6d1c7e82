"""Compare online anomaly detectors on public labelled data (NAB and SKAB) with the shared scorer.

    python load/compare_detectors.py --data ../shared/data --scorer ../shared/tools/score_anomaly.py

Every detector sees each file once, row by row, as the stream would; thresholds are fixed here,
before any result is seen. Writes load/out/detectors.json and prints a table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from river import anomaly, compose, preprocessing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.anomaly import SensorDetector  # noqa: E402
from streams.scoring import LABEL_COLUMNS, detector_settings  # noqa: E402

Scorer = Callable[[dict[str, float]], float]

# fixed in advance: 3.5 sigma for the Gaussian tail scores, 0.95 for HalfSpaceTrees
THRESHOLDS = {
    "linepulse": 0.9995,
    "linepulse+delta": 0.9995,
    "river-gaussian": 0.9995,
    "river-hst": 0.95,
    "random": 0.99,
}


def linepulse(with_delta: bool) -> Scorer:
    detector = SensorDetector(detector_settings())
    previous: dict[str, float] = {}

    def score(x: dict[str, float]) -> float:
        features = dict(x)
        if with_delta:
            features.update({f"{k}_delta": v - previous.get(k, v) for k, v in x.items()})
            previous.update(x)
        return detector.observe(features).score

    return score


def river_gaussian() -> Scorer:
    scorers: dict[str, anomaly.GaussianScorer] = {}

    def score(x: dict[str, float]) -> float:
        values = []
        for key, value in x.items():
            model = scorers.setdefault(
                key, anomaly.GaussianScorer(window_size=600, grace_period=60)
            )
            values.append(float(model.score_one(None, value)))
            model.learn_one(None, value)
        return max(values, default=0.0)

    return score


def river_hst() -> Scorer:
    model = compose.Pipeline(
        preprocessing.MinMaxScaler(),
        anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=42),
    )

    def score(x: dict[str, float]) -> float:
        value = float(model.score_one(x))
        model.learn_one(x)
        return value

    return score


def random_scores() -> Scorer:
    rng = random.Random(0)
    return lambda _x: rng.random()


DETECTORS: dict[str, Callable[[], Scorer]] = {
    "linepulse": lambda: linepulse(with_delta=False),
    "linepulse+delta": lambda: linepulse(with_delta=True),
    "river-gaussian": river_gaussian,
    "river-hst": river_hst,
    "random": random_scores,
}


def read_rows(path: Path) -> tuple[str, list[str], list[dict[str, str]]]:
    separator = ";" if path.read_text().split("\n", 1)[0].count(";") else ","
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=separator))
    columns = list(rows[0])
    timestamp = columns[0]
    values = [c for c in columns[1:] if c.lower() not in LABEL_COLUMNS]
    return timestamp, values, rows


def score_file(path: Path, make: Callable[[], Scorer], out: Path) -> None:
    timestamp, columns, rows = read_rows(path)
    scorer = make()
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "score"])
        for row in rows:
            features = {c: float(row[c]) for c in columns if row[c] not in ("", None)}
            writer.writerow([row[timestamp], f"{scorer(features):.6f}"])


def run_scorer(
    scorer: Path, pairs: list[tuple[Path, Path]], labels: list[str], threshold: float, report: Path
) -> dict:
    first, *rest = pairs
    command = [
        sys.executable,
        str(scorer),
        str(first[0]),
        str(first[1]),
        *labels,
        "--threshold",
        str(threshold),
        "--json",
        str(report),
    ]
    for data, scores in rest:
        command += ["--also", str(data), str(scores)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(report.read_text())


def evaluate(name: str, files: Iterable[Path], scorer: Path, work: Path, labels: list[str]) -> dict:
    pairs = []
    for path in files:
        out = work / name / f"{path.parent.name}__{path.name}"
        out.parent.mkdir(parents=True, exist_ok=True)
        score_file(path, DETECTORS[name], out)
        pairs.append((path, out))
    return run_scorer(scorer, pairs, labels, THRESHOLDS[name], work / f"{name}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--scorer", type=Path, default=Path("../shared/tools/score_anomaly.py"))
    parser.add_argument("--out", type=Path, default=Path("load/out"))
    args = parser.parse_args()
    nab = sorted((args.data / "nab-dev").glob("*/*.csv"))
    skab = sorted(
        p for p in (args.data / "skab-dev").glob("*/*.csv") if "anomaly-free" not in str(p)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    table = {}
    for name in DETECTORS:
        nab_report = evaluate(
            name,
            nab,
            args.scorer,
            args.out / "nab",
            [str(args.data / "nab-dev" / "combined_windows.json")],
        )
        skab_report = evaluate(
            name, skab, args.scorer, args.out / "skab", ["--label-column", "anomaly"]
        )
        table[name] = {"nab": nab_report["summary"], "skab": skab_report["summary"]}
        nab_summary, skab_summary = table[name]["nab"], table[name]["skab"]
        print(
            f"{name:16s} NAB: ROC-AUC {nab_summary['mean_roc_auc']:.3f}  "
            f"NAB@fixed {nab_summary['nab_at_threshold']['normalized_score']:6.1f}  "
            f"NAB@shared-best {nab_summary['nab_shared_threshold']['normalized_score']:6.1f} | "
            f"SKAB: ROC-AUC {skab_summary['mean_roc_auc']:.3f}  "
            f"best point F1 {skab_summary['mean_pointwise_best_f1']:.3f}",
            flush=True,
        )
    (args.out / "detectors.json").write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
