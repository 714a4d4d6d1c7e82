"""ClickHouse column types as the Arrow types rows are inserted as."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streams.store.columns import TIMESTAMP, arrow_table, arrow_type, by_columns


@pytest.mark.parametrize(
    ("clickhouse", "arrow"),
    [
        ("DateTime64(3, 'UTC')", TIMESTAMP),
        ("Nullable(DateTime64(3, 'UTC'))", TIMESTAMP),
        ("DateTime('UTC')", TIMESTAMP),
        ("LowCardinality(String)", pa.string()),
        ("Nullable(Float64)", pa.float64()),
        ("SimpleAggregateFunction(sum, Float64)", pa.float64()),
        ("UInt8", pa.uint64()),
        ("Int32", pa.int64()),
        ("Map(LowCardinality(String), Float64)", pa.map_(pa.string(), pa.float64())),
        (
            "Map(String, Map(String, UInt64))",
            pa.map_(pa.string(), pa.map_(pa.string(), pa.uint64())),
        ),
    ],
)
def test_clickhouse_types_map_to_arrow(clickhouse: str, arrow: pa.DataType) -> None:
    assert arrow_type(clickhouse) == arrow


def test_a_type_without_an_arrow_equivalent_is_named() -> None:
    with pytest.raises(ValueError, match="IPv4"):
        arrow_type("IPv4")


def test_rows_become_typed_columns_with_times_in_milliseconds_and_nulls_kept() -> None:
    types = {"time": "DateTime64(3, 'UTC')", "ok": "UInt8", "score": "Nullable(Float64)"}
    rows = [{"time": 1.567, "ok": True, "score": None}, {"time": 2.001, "ok": False, "score": 0.5}]
    table = arrow_table(rows, ["time", "ok", "score"], types)
    assert table.column("time").cast(pa.int64()).to_pylist() == [1567, 2001]
    assert table.column("ok").to_pylist() == [1, 0]
    assert table.column("score").to_pylist() == [None, 0.5]


def test_rows_are_grouped_by_the_columns_they_carry_and_unknown_keys_left_out() -> None:
    known = {"a": "String", "b": "String"}
    groups = by_columns([{"a": "1", "b": "2"}, {"a": "3"}, {"a": "4", "b": "5", "x": 0}], known)
    assert groups == {
        ("a", "b"): [{"a": "1", "b": "2"}, {"a": "4", "b": "5", "x": 0}],
        ("a",): [{"a": "3"}],
    }
