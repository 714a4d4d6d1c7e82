"""`linepulse export`: a table (or a time range of it) to a Parquet file, through polars."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from schemas.events import iso_to_epoch_ms
from schemas.exceptions import LinePulseError
from schemas.tables import TABLES
from streams.commands.query_client import run_query
from streams.settings import StoreSettings

# the views and the tables a materialized view fills (not in schemas.tables): their time column
_VIEW_TIME_COLUMNS = {
    "oee_closed": "window_start",
    "oee_levels": "window_start",
    "oee_hourly": "hour",
    "oee_daily": "day",
    "oee_by_shift": "shift_started",
    "oee_daily_rollup": "day",
    "oee_shift_rollup": "shift_started",
    "sensor_1m": "minute",
    "sensor_1h": "hour",
    "readings_checked": "time",
    "vibration_condition_now": "last_second",
    "alarm_times": "raised",
}
TIME_COLUMNS = {name: shape.time_column for name, shape in TABLES.items()} | _VIEW_TIME_COLUMNS


class ExportError(LinePulseError):
    """The export cannot be made as asked."""


def export_sql(table: str, start: str | None, end: str | None) -> str:
    """The query of `table`'s rows in [start, end) by its time column, in time order."""
    if table not in TIME_COLUMNS:
        msg = f"unknown table {table!r}; choose one of {', '.join(sorted(TIME_COLUMNS))}"
        raise ExportError(msg)
    column = TIME_COLUMNS[table]
    conditions = []
    try:
        if start:
            conditions.append(f"{column} >= fromUnixTimestamp64Milli({iso_to_epoch_ms(start)})")
        if end:
            conditions.append(f"{column} < fromUnixTimestamp64Milli({iso_to_epoch_ms(end)})")
    except ValueError as exc:
        raise ExportError(str(exc)) from exc
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM linepulse.{table}{where} ORDER BY {column}"


def export_table(
    settings: StoreSettings, table: str, start: str | None, end: str | None, out: Path
) -> int:
    """Rows written; the file is zstd-compressed Parquet."""
    raw = run_query(settings, export_sql(table, start, end), "parquet")
    frame = pl.read_parquet(io.BytesIO(raw)) if raw else pl.DataFrame()
    frame.write_parquet(out, compression="zstd")
    return frame.height
