"""`linepulse vibration`: the stream's condition monitoring over a recording, window by window, as
if the windows arrived live: one JSON object per window with the velocity RMS, its ISO zone, the
envelope lines at each defect frequency relative to the background, and the suspected bearing
component or none."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import polars as pl
from pydantic import ValidationError

from schemas.codec import describe_validation_error
from schemas.exceptions import LinePulseError
from schemas.vibration import BearingGeometry, DefectMultipliers, VibrationSpec
from streams.core.bearings import COMPONENT_NAMES
from streams.core.condition import ConditionMonitor, ConditionSettings, ConditionWindow

MULTIPLIER_KEYS = {"bpfo", "bpfi", "bsf", "ftf"}
GEOMETRY_KEYS = {
    "elements": "rolling_elements",
    "ball": "ball_diameter_mm",
    "pitch": "pitch_diameter_mm",
    "angle": "contact_angle_deg",
}


class VibrationInputError(LinePulseError):
    """The recording or the options of `linepulse vibration` cannot be used."""


def parse_bearing(text: str) -> BearingGeometry | DefectMultipliers:
    """`BPFO=3.05,BPFI=4.95,BSF=1.99,FTF=0.38` (multiples of shaft speed) or the geometry
    `elements=9,ball=7.94,pitch=39.04[,angle=0]` (mm, degrees)."""
    values: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        key, sep, value = item.partition("=")
        try:
            values[key.strip().lower()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            msg = f"bearing item {item!r}: write KEY=NUMBER, e.g. BPFO=3.05 or elements=9"
            raise VibrationInputError(msg)
    try:
        if set(values) == MULTIPLIER_KEYS:
            return DefectMultipliers(**values)
        if set(values) <= set(GEOMETRY_KEYS) and {"elements", "ball", "pitch"} <= set(values):
            return BearingGeometry(**{GEOMETRY_KEYS[k]: v for k, v in values.items()})
    except ValidationError as exc:
        msg = f"bearing {text!r}: {describe_validation_error(exc)}"
        raise VibrationInputError(msg) from exc
    msg = (
        f"bearing {text!r}: give all of BPFO, BPFI, BSF, FTF (multiples of shaft speed) or "
        "elements, ball and pitch (mm), optionally angle (degrees)"
    )
    raise VibrationInputError(msg)


def _numbers(text: str | None, count: int, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    parts = text.replace("-", ",").split(",") if count == 2 else text.split(",")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != count:
        msg = f"{what} {text!r}: give {count} numbers"
        raise VibrationInputError(msg)
    return numbers


def spec_of_args(args: argparse.Namespace) -> VibrationSpec:
    """The vibration spec the command line declares, as a tag map would."""
    try:
        return VibrationSpec(
            unit=args.unit,
            machine_group=args.group,
            foundation=args.foundation,
            shaft_rpm=args.shaft_rpm,
            bearing=parse_bearing(args.bearing) if args.bearing else None,
            zone_boundaries_mm_s=_numbers(args.zone_boundaries, 3, "--zone-boundaries"),
            resonance_band_hz=_numbers(args.band, 2, "--band"),
            limit_mm_s=args.limit,
        )
    except ValidationError as exc:
        raise VibrationInputError(describe_validation_error(exc)) from exc


def read_column(path: Path, column: str, separator: str) -> np.ndarray[Any, Any]:
    """The recording's samples, in file order (rows without a number are refused)."""
    try:
        frame = pl.read_csv(path, separator=separator, columns=[column], infer_schema_length=0)
    except pl.exceptions.ColumnNotFoundError as exc:
        names = pl.read_csv(path, separator=separator, n_rows=0).columns
        msg = f"no column {column!r} in {path}; it has {', '.join(names)} (choose with --column)"
        raise VibrationInputError(msg) from exc
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"cannot read {path} as CSV with separator {separator!r}: {exc}"
        raise VibrationInputError(msg) from exc
    values = frame[column].str.strip_chars().cast(pl.Float64, strict=False)
    bad = values.is_null() | values.is_nan() | values.is_infinite()
    if bad.any():
        row = int(bad.arg_max() or 0) + 2  # 1-based, after the header
        msg = f"{path} line {row}: {column} is not a finite number; clean the recording first"
        raise VibrationInputError(msg)
    return values.to_numpy()


def windows(
    samples: np.ndarray[Any, Any],
    sample_rate_hz: float,
    window_s: float,
    monitor: ConditionMonitor,
    shaft_rpm: float | None = None,
) -> Iterator[ConditionWindow]:
    """The monitor's judgement of every whole window of the recording, in order."""
    size = int(round(window_s * sample_rate_hz))
    if size < 64:
        msg = f"a window of {window_s} s at {sample_rate_hz} Hz is {size} samples; use >= 64"
        raise VibrationInputError(msg)
    if samples.size < size:
        msg = f"the recording has {samples.size} samples, fewer than one window of {size}"
        raise VibrationInputError(msg)
    for index in range(samples.size // size):
        window = samples[index * size : (index + 1) * size]
        yield monitor.observe(round(index * window_s * 1000), window, sample_rate_hz, shaft_rpm)


def as_json(index: int, window: ConditionWindow) -> dict[str, Any]:
    """One window's line of output."""
    result: dict[str, Any] = {
        "window": index,
        "start_s": window.time / 1000,
        "velocity_rms_mm_s": round(window.velocity_rms_mm_s, 4),
        "zone": window.zone,
        "held_zone": window.held_zone,
        "shaft_rpm": window.shaft_rpm,
        "band_hz": [round(f, 1) for f in window.band_hz] if window.band_hz else None,
        "suspected": window.suspected,
    }
    if window.diagnosis is not None:
        result["background"] = window.diagnosis.background
        result["evidence"] = {
            e.component: {
                "frequency_hz": round(e.frequency_hz, 2),
                "found_hz": round(e.found_hz, 2),
                "ratio": round(max(e.ratios[:2]), 2),
                "line_ratios": [round(r, 2) for r in e.ratios],
            }
            for e in window.diagnosis.evidence
        }
    forecast = window.forecast
    result["forecast"] = (
        {
            "limit_mm_s": forecast.limit,
            "at_s": forecast.at_ms / 1000,
            "low_s": forecast.low_ms / 1000,
            "high_s": forecast.high_ms / 1000,
        }
        if forecast
        else None
    )
    return result


def run_vibration(
    input_path: Path,
    column: str,
    sample_rate_hz: float,
    spec: VibrationSpec,
    settings: ConditionSettings,
    window_s: float = 1.0,
    separator: str = ",",
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> Counter[str]:
    """Write one JSON line per window to `out` (stdout) and a summary to `err` (stderr); returns
    how many windows named each component (and `none`)."""
    out, err = out or sys.stdout, err or sys.stderr
    samples = read_column(input_path, column, separator)
    monitor = ConditionMonitor(spec, settings)
    named: Counter[str] = Counter()
    zones: Counter[str] = Counter()
    for index, window in enumerate(windows(samples, sample_rate_hz, window_s, monitor)):
        out.write(orjson.dumps(as_json(index, window)).decode() + "\n")
        named[window.suspected or "none"] += 1
        zones[window.zone] += 1
    total = sum(named.values())
    verdicts = ", ".join(
        f"{COMPONENT_NAMES.get(name, name)} {count}" for name, count in named.most_common()
    )
    err.write(
        f"{total} windows of {window_s} s: suspected {verdicts}; "
        f"zones {', '.join(f'{z} {n}' for z, n in sorted(zones.items()))}\n"
    )
    if spec.multipliers is None or spec.shaft_rpm is None:
        err.write("no bearing diagnosis: give --bearing and --shaft-rpm for one\n")
    return named
