"""`linepulse oee`: OEE from a JSONL file of the events that travel on the topics.

Uses the same core as the stream (MachineWindows, window_totals); polars does the rollups.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

import orjson
import polars as pl

from schemas.codec import decode_ingest
from schemas.events import IngestEvent, ShiftEnded, ShiftStarted, iso_to_epoch_ms
from schemas.exceptions import InvalidEventError, LinePulseError
from streams.core.calendar import ShiftCalendar
from streams.core.context import ContextBook, ancestors
from streams.core.oee import DEFAULT_CATEGORIES, OeeTotals, StateCategories
from streams.core.plans import GroupPlans, is_group_plan
from streams.core.windows import WINDOW_KINDS, MachineWindows, window_start
from streams.settings import OeeSettings

_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}


def window_ms_of(window: str) -> int:
    """'10s', '1m', '15m', '1h' or 'day' (a UTC day) as milliseconds."""
    if window == "day":
        return 86_400_000
    match = re.fullmatch(r"(\d+)([smh])", window)
    if match is None or int(match.group(1)) == 0:
        msg = f"window {window!r} is not one of: a length like 10s, 1m, 15m, 1h; day; shift"
        raise BatchInputError(msg)
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


Level = Literal["machine", "line", "plant"]
TIME_FIGURES = ("planned_time_s", "run_time_s", "unknown_time_s", "excluded_time_s", "ideal_time_s")
_LEVEL_PARTS = {"machine": 4, "line": 2, "plant": 1}


class BatchInputError(LinePulseError):
    """The events file or the options of `linepulse oee` cannot be used."""


@dataclass
class LoadedEvents:
    """A file's events: window events by machine, group plans, shifts and the rejected lines."""

    by_machine: dict[str, list[IngestEvent]] = field(default_factory=dict)
    plans: GroupPlans = field(default_factory=lambda: GroupPlans(changes_kept=None))
    shifts: dict[str, list[IngestEvent]] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    first_time: int | None = None
    last_time: int | None = None


def load_events(lines: Iterable[bytes | str]) -> LoadedEvents:
    """Validate every line with the topic contracts; bad lines are reported, not fatal. Work
    orders and planned stops of a plant, line or station go to `plans`, for the machines below
    (they have no windows of their own)."""
    loaded = LoadedEvents()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = decode_ingest(line)
        except InvalidEventError as error:
            loaded.rejected.append((number, error.reason))
            continue
        if isinstance(event, ShiftStarted | ShiftEnded):
            loaded.shifts.setdefault(event.asset, []).append(event)
        elif is_group_plan(event):
            loaded.plans.apply(event)
        elif event.kind in WINDOW_KINDS:
            loaded.by_machine.setdefault(event.asset, []).append(event)
        else:
            continue
        loaded.first_time = min(event.time, loaded.first_time or event.time)
        loaded.last_time = max(event.time, loaded.last_time or event.time)
    return loaded


def parse_time(text: str | None) -> int | None:
    """An ISO-8601 option as epoch ms (None stays None); a bad one raises BatchInputError."""
    if text is None:
        return None
    try:
        return iso_to_epoch_ms(text)
    except ValueError as exc:
        raise BatchInputError(str(exc)) from exc


def _shift_events(shifts: dict[str, list[IngestEvent]], asset: str) -> list[IngestEvent]:
    """The shift events of the asset and of its station, line and plant."""
    return [event for owner in ancestors(asset) for event in shifts.get(owner, [])]


def _shift_intervals(
    shifts: dict[str, list[IngestEvent]], asset: str, until: int | None
) -> list[tuple[str, int, int]]:
    """The asset's shifts from the start and end events of the asset and of its line, station
    or plant, the most specific winning as in the stream (the production context); a shift
    still open runs to `until` (if given)."""
    events = _shift_events(shifts, asset)
    book = ContextBook()
    for event in events:
        book.apply(event)
    changes = sorted({event.time for event in events})
    intervals = []
    current: tuple[str, int] | None = None
    for time_ms in changes:
        name, since = book.since(asset, "shift", time_ms)
        found = (name, since) if name is not None and since is not None else None
        if found != current:
            if current is not None:
                intervals.append((current[0], current[1], time_ms))
            current = found
    if current is not None and until is not None and until > current[1]:
        intervals.append((current[0], current[1], until))
    return intervals


def _shifts_of(
    loaded: LoadedEvents,
    asset: str,
    horizon: int,
    complete_only: bool,
    calendar: ShiftCalendar | None,
) -> list[tuple[str, int, int]]:
    if calendar is not None:
        first = loaded.first_time or horizon
        return [(s.name, s.start, s.end) for s in calendar.shifts(asset, first, horizon)]
    open_until = None if complete_only else horizon
    return _shift_intervals(loaded.shifts, asset, open_until)


def _machine_windows(asset: str, events: list[IngestEvent], window_ms: int) -> MachineWindows:
    windows = MachineWindows(asset, window_ms)
    for event in events:
        windows.add(event)  # type: ignore[arg-type]
    return windows


def machine_rows(
    loaded: LoadedEvents,
    window: str,
    start: int | None,
    end: int | None,
    categories: StateCategories = DEFAULT_CATEGORIES,
    calendar: ShiftCalendar | None = None,
) -> Iterator[tuple[str, str, int, int, OeeTotals]]:
    """(asset, window label, start, end, totals) of every machine window in [start, end);
    shifts come from the calendar when there is one, else from MES shift events."""
    if loaded.last_time is None:
        return
    # without an explicit end, the data's last event ends the timeline and a trailing window is
    # reported only when complete; with one, the last state runs until it
    complete_only = end is None
    horizon = end if end is not None else loaded.last_time + 1
    for asset, events in sorted(loaded.by_machine.items()):
        if window == "shift":
            windows = _machine_windows(asset, events, window_ms_of("day"))
            for name, s_start, s_end in _shifts_of(loaded, asset, horizon, complete_only, calendar):
                if (start is None or s_start >= start) and s_end <= horizon:
                    yield (
                        asset,
                        f"shift:{name}",
                        s_start,
                        s_end,
                        windows.totals(s_start, s_end, categories, horizon, calendar, loaded.plans),
                    )
            continue
        window_ms = window_ms_of(window)
        windows = _machine_windows(asset, events, window_ms)
        first = window_start(start if start is not None else loaded.first_time or 0, window_ms)
        for w_start in range(first, window_start(horizon - 1, window_ms) + 1, window_ms):
            if complete_only and w_start + window_ms > horizon:
                break
            w_end = min(w_start + window_ms, horizon)
            yield (
                asset,
                window,
                w_start,
                w_end,
                windows.totals(w_start, w_end, categories, horizon, calendar, loaded.plans),
            )


def _group(asset: str, level: Level) -> str:
    return "/".join(asset.split("/")[: _LEVEL_PARTS[level]])


_KEYS = ["asset", "window", "window_start", "window_end"]


def _records(
    rows: Iterable[tuple[str, str, int, int, OeeTotals]], level: Level
) -> list[dict[str, object]]:
    """One record per machine window, its asset cut to the group of `level`."""
    return [
        {
            "asset": _group(asset, level),
            "window": label,
            "window_start": w_start,
            "window_end": w_end,
            "planned_time_s": t.planned_time_s,
            "run_time_s": t.run_time_s,
            "unknown_time_s": t.unknown_time_s,
            "excluded_time_s": t.excluded_time_s,
            "ideal_time_s": t.ideal_time_s,
            "good": t.good,
            "scrap": t.scrap,
            "parts_without_cycle_time": t.counts_without_cycle_time,
            "losses": [{"reason": k, "seconds": v} for k, v in sorted(t.losses_s.items())],
        }
        for asset, label, w_start, w_end, t in rows
    ]


def _summed_losses(frame: pl.DataFrame) -> pl.DataFrame:
    """Seconds lost per reason, summed per group and window, as a list of structs."""
    return (
        frame.select([*_KEYS, "losses"])
        .explode("losses")
        .drop_nulls("losses")
        .unnest("losses")
        .group_by([*_KEYS, "reason"])
        .agg(pl.col("seconds").sum())
        .group_by(_KEYS)
        .agg(pl.struct("reason", "seconds").alias("losses"))
    )


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null where the denominator is not positive."""
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(None)


def _with_ratios(sums: pl.DataFrame) -> pl.DataFrame:
    """The summed figures with total, availability, performance, quality and OEE added."""
    total = pl.col("good") + pl.col("scrap")
    performance = (
        pl.when(pl.col("parts_without_cycle_time") > 0)
        .then(None)
        .otherwise(_ratio(pl.col("ideal_time_s"), pl.col("run_time_s")))
    )
    return sums.with_columns(
        total=total,
        availability=_ratio(pl.col("run_time_s"), pl.col("planned_time_s")),
        performance=performance,
        quality=_ratio(pl.col("good"), total),
    ).with_columns(
        # as streams.core.oee.ratios: no good part in planned time is OEE 0, not null
        oee=pl.when(pl.col("availability").is_not_null() & (pl.col("good") == 0))
        .then(0.0)
        .otherwise(pl.col("availability") * pl.col("performance") * pl.col("quality")),
        performance_over_one=pl.col("performance") > 1.0 + 1e-9,
    )


def rollup(rows: Iterable[tuple[str, str, int, int, OeeTotals]], level: Level) -> pl.DataFrame:
    """Sum times and counts per asset group and window, then recompute the ratios.
    Performance (and OEE) is null when any part was counted without an ideal cycle time; OEE
    is 0 all the same, as in the stream, when time was planned and no good part was made."""
    records = _records(rows, level)
    if not records:
        return pl.DataFrame()
    frame = pl.DataFrame(records)
    sums = frame.group_by(_KEYS).agg(
        pl.col(c).sum() for c in (*TIME_FIGURES, "good", "scrap", "parts_without_cycle_time")
    )
    joined = sums.join(_summed_losses(frame), on=_KEYS, how="left")
    return _with_ratios(joined).sort(_KEYS)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def write_json_lines(frame: pl.DataFrame, out: IO[str]) -> int:
    """Write the rollup as JSON lines with ISO times; returns the number of lines."""
    columns = [
        "asset",
        "window",
        "window_start",
        "window_end",
        "availability",
        "performance",
        "quality",
        "oee",
        *TIME_FIGURES,
        "good",
        "scrap",
        "total",
        "parts_without_cycle_time",
        "performance_over_one",
        "losses",
    ]
    count = 0
    for row in frame.select(columns).iter_rows(named=True) if frame.height else []:
        row["window_start"], row["window_end"] = _iso(row["window_start"]), _iso(row["window_end"])
        row["performance_over_one"] = bool(row["performance_over_one"])
        for name in TIME_FIGURES:
            row[name] = round(row[name], 3)
        row["losses_s"] = {
            item["reason"]: round(item["seconds"], 3) for item in row.pop("losses") or []
        }
        out.write(orjson.dumps(row).decode() + "\n")
        count += 1
    return count


def run_batch(
    path: Path,
    window: str,
    level: Level,
    start: str | None,
    end: str | None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    categories: StateCategories | None = None,
    calendar: ShiftCalendar | None = None,
) -> int:
    """`categories` default to those of the worker's settings, so stream and batch agree."""
    if window != "shift":
        window_ms_of(window)
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise BatchInputError(msg) from exc
    with handle:
        loaded = load_events(handle)
    for number, reason in loaded.rejected[:20]:
        err.write(f"{path}:{number}: skipped: {reason}\n")
    if len(loaded.rejected) > 20:
        err.write(f"{path}: {len(loaded.rejected) - 20} more lines skipped\n")
    categories = categories or OeeSettings().categories()
    first, last = parse_time(start), parse_time(end)
    rows = machine_rows(loaded, window, first, last, categories, calendar)
    written = write_json_lines(rollup(rows, level), out)
    if not written:
        why = _why_empty(loaded, window, first, last, calendar)
        err.write(f"{path}: no OEE row: {why}\n")
    return written


def _why_empty(
    loaded: LoadedEvents,
    window: str,
    start: int | None,
    end: int | None,
    calendar: ShiftCalendar | None = None,
) -> str:
    """Why a run printed no row, for a user who expected one."""
    if start is not None and end is not None and end <= start:
        return "--to is not after --from"
    if not loaded.by_machine:
        return "no valid machine event in the file"
    if start is not None and loaded.last_time is not None and start > loaded.last_time:
        return "--from is after the last event"
    if window == "shift" and calendar is None:
        started = any(
            isinstance(event, ShiftStarted)
            for asset in loaded.by_machine
            for event in _shift_events(loaded.shifts, asset)
        )
        if not started:
            return (
                "no mes.shift.started event for the file's machines and no shift calendar "
                "(LINEPULSE_SHIFT_CALENDAR): shift windows come from one or the other"
            )
    if end is not None:
        return f"no {window} window ends by --to"
    return (
        f"no complete {window} window between the first and the last event; --to closes the "
        "last one at the time it gives"
    )
