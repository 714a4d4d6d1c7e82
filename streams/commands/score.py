"""`linepulse score`: the streaming detector over a CSV, row by row, as if the rows arrived live."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import polars as pl

from schemas.exceptions import LinePulseError
from streams.core.anomaly import AssetDetector, DetectorSettings, SensorDetector
from streams.settings import AnomalySettings

LABEL_COLUMNS = frozenset({"anomaly", "anomalies", "changepoint", "label", "labels", "is_anomaly"})


class ScoreInputError(LinePulseError):
    """The CSV or the options of `linepulse score` cannot be used."""


def choose_columns(frame: pl.DataFrame, timestamp: str, wanted: list[str] | None) -> list[str]:
    """The columns to score: those asked for, else every numeric column but the time and labels."""
    if wanted:
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            msg = f"no column {', '.join(missing)} in the CSV; it has {', '.join(frame.columns)}"
            raise ScoreInputError(msg)
        return wanted
    numeric = [
        name
        for name, dtype in frame.schema.items()
        if name != timestamp and dtype.is_numeric() and name.lower() not in LABEL_COLUMNS
    ]
    if not numeric:
        msg = "the CSV has no numeric column to score; name them with --value-columns"
        raise ScoreInputError(msg)
    return numeric


def score_rows(
    frame: pl.DataFrame, columns: list[str], settings: DetectorSettings, per_asset: bool = False
) -> Iterator[float]:
    """One score in [0, 1] per row, in input order; missing values are left out of the row.
    A row is one sensor's observation with a feature per column, or with `per_asset` one round
    of the asset model over the columns."""
    detector = AssetDetector(settings) if per_asset else SensorDetector(settings)
    for row in frame.select(columns).iter_rows():
        features = {
            name: float(value)
            for name, value in zip(columns, row, strict=True)
            if value is not None and math.isfinite(float(value))
        }
        if not features:
            yield 0.0
        elif isinstance(detector, AssetDetector):
            yield detector.observe_row(features).score
        else:
            yield detector.observe(features).score


def run_score(
    input_path: Path,
    out_path: Path,
    timestamp: str,
    value_columns: list[str] | None,
    separator: str,
    err: IO[str] = sys.stderr,
    settings: DetectorSettings | None = None,
    per_asset: bool = False,
) -> int:
    """Score the CSV into `out_path` (timestamp, score); returns the number of rows."""
    try:
        frame = pl.read_csv(
            input_path, separator=separator, infer_schema_length=10_000, try_parse_dates=False
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"cannot read {input_path} as CSV with separator {separator!r}: {exc}"
        raise ScoreInputError(msg) from exc
    if timestamp not in frame.columns:
        msg = (
            f"no timestamp column {timestamp!r} in {input_path}; it has "
            f"{', '.join(frame.columns)} (choose one with --timestamp-column)"
        )
        raise ScoreInputError(msg)
    columns = choose_columns(frame, timestamp, value_columns)
    err.write(f"scoring {frame.height} rows on {', '.join(columns)}\n")
    with out_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "score"])
        for stamp, score in zip(
            frame[timestamp].cast(pl.Utf8),
            score_rows(frame, columns, settings or AnomalySettings().detector(), per_asset),
            strict=True,
        ):
            writer.writerow([stamp, f"{score:.9f}"])
    return frame.height
