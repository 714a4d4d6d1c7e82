"""Rows as Arrow columns typed like the ClickHouse table they go to: the embedded engine
inserts them column by column (`INSERT ... SELECT FROM Python(table)`), about twice as fast
as parsing the same rows as JSON text (`load/RESULTS.md`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from streams.store.rows import Row

_WRAPPERS = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_AGGREGATE = re.compile(r"^SimpleAggregateFunction\(\s*\w+\s*,\s*(.*)\)$")
_MAP = re.compile(r"^Map\((.*)\)$")
TIMESTAMP = pa.timestamp("ms", tz="UTC")


def _inner(clickhouse_type: str) -> str:
    """The type without the wrappers that do not change how values are sent."""
    while True:
        wrapped = _WRAPPERS.match(clickhouse_type) or _AGGREGATE.match(clickhouse_type)
        if wrapped is None:
            return clickhouse_type.strip()
        clickhouse_type = wrapped.group(1)


def _split_pair(arguments: str) -> tuple[str, str]:
    """`K, V` of a Map's arguments, where V may hold commas of its own."""
    depth = 0
    for index, char in enumerate(arguments):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            return arguments[:index].strip(), arguments[index + 1 :].strip()
    msg = f"not a Map's key and value types: {arguments}"
    raise ValueError(msg)


def arrow_type(clickhouse_type: str) -> pa.DataType:
    """The Arrow type LinePulse's rows are sent as for a ClickHouse column type; times are
    sent in milliseconds (the rows hold seconds)."""
    base = _inner(clickhouse_type)
    found = _MAP.match(base)
    if found:
        key, value = _split_pair(found.group(1))
        return pa.map_(arrow_type(key), arrow_type(value))
    if base.startswith(("DateTime", "Date")):
        return TIMESTAMP
    if base.startswith("Float"):
        return pa.float64()
    if base.startswith("UInt") or base == "Bool":
        return pa.uint64()
    if base.startswith("Int"):
        return pa.int64()
    if base.startswith(("String", "FixedString", "Enum", "UUID")):
        return pa.string()
    msg = f"no Arrow type for the ClickHouse type {clickhouse_type}"
    raise ValueError(msg)


def _milliseconds(value: Any) -> int | None:
    return None if value is None else round(value * 1000)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _converter(kind: pa.DataType) -> Callable[[Any], Any] | None:
    if kind == TIMESTAMP:
        return _milliseconds
    if pa.types.is_integer(kind):
        return _integer
    return None


def arrow_table(rows: list[Row], columns: list[str], types: dict[str, str]) -> pa.Table:
    """`rows` (all with `columns`) as an Arrow table; `types`: the table's ClickHouse column
    types by name."""
    arrays = {}
    for column in columns:
        kind = arrow_type(types[column])
        convert = _converter(kind)
        values = [row[column] for row in rows]
        arrays[column] = pa.array(
            values if convert is None else [convert(v) for v in values], type=kind
        )
    return pa.table(arrays)


def by_columns(rows: list[Row], known: dict[str, str]) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by the table columns they carry (keys the table lacks are left out, as
    ClickHouse's JSON input skips them); a column a row leaves out takes its default."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        columns = tuple(key for key in row if key in known)
        groups.setdefault(columns, []).append(row)
    return groups
