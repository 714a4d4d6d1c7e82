"""Compare online anomaly detectors on public labelled data (NAB and SKAB) with the shared scorer.

    python load/compare_detectors.py --data ../shared/data --scorer ../shared/tools/score_anomaly.py

Every detector sees each file once, row by row, as the stream would; thresholds are fixed here,
before any result is seen. Writes load/out/detectors.json and prints a table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from river import anomaly, compose, preprocessing, stats, utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.commands.score import LABEL_COLUMNS  # noqa: E402
from streams.core.anomaly import AssetDetector, DetectorSettings, SensorDetector  # noqa: E402
from streams.settings import AnomalySettings  # noqa: E402

Scorer = Callable[[dict[str, float]], float]
PRODUCTION = AnomalySettings().detector()

# fixed in advance: a tail probability of 1e-5 for LinePulse's score (0.5) and about 3.5
# sigma for the Gaussian tail scores (0.9995), 0.95 for HalfSpaceTrees
THRESHOLDS = {
    "linepulse": PRODUCTION.threshold,
    "linepulse per asset (multivariate)": PRODUCTION.threshold,
    "linepulse without rest": PRODUCTION.threshold,
    "linepulse without quarantine": PRODUCTION.threshold,
    "linepulse without range rule": PRODUCTION.threshold,
    "linepulse v1 (rolling Gaussian tail)": 0.9995,
    "NAB windowed Gaussian": 0.9995,
    "River GaussianScorer": 0.9995,
    "River StandardAbsoluteDeviation": 0.9995,
    "River HalfSpaceTrees (MinMax-scaled)": 0.95,
    "random": 0.99,
}


def linepulse(settings: DetectorSettings) -> Callable[[], Scorer]:
    def make() -> Scorer:
        detector = SensorDetector(settings)
        return lambda x: detector.observe(x).score

    return make


def linepulse_asset() -> Scorer:
    detector = AssetDetector(PRODUCTION)
    return lambda x: detector.observe_row(x).score


class RollingGaussianTail:
    """LinePulse's first detector, kept for the comparison: 2·|CDF − 0.5| over a rolling window
    of 600, a noise floor of 1 % of the mean, anomalies never learned, warm-up 60."""

    def __init__(self) -> None:
        self.mean: Any = utils.Rolling(stats.Mean, window_size=600)
        self.var: Any = utils.Rolling(stats.Var, window_size=600)
        self.learned = 0

    def __call__(self, value: float) -> float:
        mean = float(self.mean.get())
        spread = max(math.sqrt(max(float(self.var.get()), 0.0)), abs(mean) * 0.01, 1e-9)
        score = math.erf(abs(value - mean) / spread / math.sqrt(2)) if self.learned >= 60 else 0.0
        if score < 0.9995:
            self.mean.update(value)
            self.var.update(value)
            self.learned += 1
        return score


class WindowedGaussian:
    """NAB's windowed Gaussian reference detector: a window of 6400 values moved 100 at a time,
    score 1 − the upper tail probability of the value's distance from the mean."""

    def __init__(self, window: int = 6400, step: int = 100) -> None:
        self.window, self.step = window, step
        self.values: list[float] = []
        self.pending: list[float] = []
        self.mean, self.std = 0.0, 1.0

    def _estimate(self) -> None:
        self.mean = sum(self.values) / len(self.values)
        variance = sum((v - self.mean) ** 2 for v in self.values) / len(self.values)
        self.std = math.sqrt(variance) or 1e-6

    def __call__(self, value: float) -> float:
        score = 0.0
        if self.values:
            z = abs(value - self.mean) / self.std
            score = 1 - 0.5 * math.erfc(z / math.sqrt(2))
        if len(self.values) < self.window:
            self.values.append(value)
            self._estimate()
        else:
            self.pending.append(value)
            if len(self.pending) == self.step:
                self.values = self.values[self.step :] + self.pending
                self.pending = []
                self._estimate()
        return score


def per_column(make: Callable[[], Callable[[float], float]]) -> Callable[[], Scorer]:
    """One univariate detector per column; the row's score is the largest."""

    def factory() -> Scorer:
        models: dict[str, Callable[[float], float]] = {}

        def score(x: dict[str, float]) -> float:
            return max((models.setdefault(k, make())(v) for k, v in x.items()), default=0.0)

        return score

    return factory


def river_univariate(make: Callable[[], Any], squash: bool) -> Callable[[], Scorer]:
    def one() -> Callable[[float], float]:
        model = make()

        def score(value: float) -> float:
            raw = float(model.score_one(None, value))
            model.learn_one(None, value)
            return math.erf(raw / math.sqrt(2)) if squash else raw

        return score

    return per_column(one)


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
    "linepulse": linepulse(PRODUCTION),
    "linepulse per asset (multivariate)": linepulse_asset,
    "linepulse without rest": linepulse(replace(PRODUCTION, rest=0)),
    "linepulse without quarantine": linepulse(replace(PRODUCTION, quarantine=0)),
    "linepulse without range rule": linepulse(replace(PRODUCTION, range_tolerance=1e12)),
    "linepulse v1 (rolling Gaussian tail)": per_column(RollingGaussianTail),
    "NAB windowed Gaussian": per_column(WindowedGaussian),
    "River GaussianScorer": river_univariate(
        lambda: anomaly.GaussianScorer(window_size=600, grace_period=60), squash=False
    ),
    "River StandardAbsoluteDeviation": river_univariate(
        lambda: anomaly.StandardAbsoluteDeviation(sub_stat=stats.Mean()), squash=True
    ),
    "River HalfSpaceTrees (MinMax-scaled)": river_hst,
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
            writer.writerow([row[timestamp], repr(scorer(features))])


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
        out = work / name.replace(" ", "_") / f"{path.parent.name}__{path.name}"
        out.parent.mkdir(parents=True, exist_ok=True)
        score_file(path, DETECTORS[name], out)
        pairs.append((path, out))
    report = work / f"{name.replace(' ', '_')}.json"
    return run_scorer(scorer, pairs, labels, THRESHOLDS[name], report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--scorer", type=Path, default=Path("../shared/tools/score_anomaly.py"))
    parser.add_argument("--out", type=Path, default=Path("load/out"))
    parser.add_argument("--only", default="", help="comma-separated detector names")
    args = parser.parse_args()
    nab = sorted((args.data / "nab-dev").glob("*/*.csv"))
    skab = sorted(
        p for p in (args.data / "skab-dev").glob("*/*.csv") if "anomaly-free" not in str(p)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    table = {}
    names = args.only.split(",") if args.only else list(DETECTORS)
    for name in names:
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
            f"{name:38s} NAB: ROC-AUC {nab_summary['mean_roc_auc']:.3f}  "
            f"NAB@fixed {nab_summary['nab_at_threshold']['normalized_score']:6.1f}  "
            f"NAB@shared-best {nab_summary['nab_shared_threshold']['normalized_score']:6.1f} | "
            f"SKAB: ROC-AUC {skab_summary['mean_roc_auc']:.3f}  "
            f"best point F1 {skab_summary['mean_pointwise_best_f1']:.3f}",
            flush=True,
        )
    (args.out / "detectors.json").write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
