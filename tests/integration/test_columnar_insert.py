"""The embedded engine's columnar (Arrow) insert stores every table's rows exactly as
ClickHouse's own JSON input does."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.events import now_ms
from schemas.tables import TABLES
from streams.store.clickhouse import EmbeddedStore, migrate
from streams.store.columns import TIMESTAMP, arrow_type
from streams.store.rows import rows_of
from tests.factories import T0
from tests.unit.test_tables import SAMPLES

DAYS_SINCE_T0 = (now_ms() - T0) // 86_400_000  # the tables' TTL would drop rows of T0


def _recent(store: EmbeddedStore, table: str, row: dict) -> dict:
    """The row moved forward in whole days, so that no TTL drops it."""
    raw = store.query_bytes(f"DESCRIBE TABLE {table}", "JSONEachRow")
    types = {c["name"]: c["type"] for c in map(orjson.loads, raw.splitlines())}
    return {
        key: value + DAYS_SINCE_T0 * 86_400
        if arrow_type(types[key]) == TIMESTAMP and isinstance(value, int | float)
        else value
        for key, value in row.items()
    }


def _rows(store: EmbeddedStore, table: str, columns: list[str]) -> list[dict]:
    names = ", ".join(f"`{c}`" for c in columns)
    raw = store.query_bytes(f"SELECT {names} FROM {table} ORDER BY {names}", "JSONEachRow")
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def test_arrow_rows_are_stored_as_json_rows_are_in_every_table(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "clickhouse")
    try:
        migrate(store)
        by_table: dict[str, list[dict]] = {}
        for event in SAMPLES:
            for table, row in rows_of(event):
                by_table.setdefault(table, []).append(_recent(store, table, row))
        assert len(by_table) == sum(1 for s in TABLES.values() if s.columns is not None)
        for table, rows in by_table.items():
            twin = f"{table}_json_twin"
            store.execute(f"CREATE TABLE {twin} AS {table}")
            store.insert_rows(table, rows)
            lines = b"\n".join(orjson.dumps(row) for row in rows).decode()
            store.execute(f"INSERT INTO {twin} FORMAT JSONEachRow\n{lines}")
            stored = _rows(store, table, list(rows[0]))
            assert stored == _rows(store, twin, list(rows[0])), table
            assert len(stored) == len(rows), table
    finally:
        store.close()


def test_times_keep_their_milliseconds(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "clickhouse")
    try:
        migrate(store)
        table = "linepulse.sensor_readings"
        base = next(row for event in SAMPLES for t, row in rows_of(event) if t == table)
        times_ms = [1_796_144_290_000 + ms for ms in range(0, 1000, 7)]
        store.insert_rows(table, [{**base, "time": t / 1000, "event_id": str(t)} for t in times_ms])
        raw = store.query_bytes(
            f"SELECT toUnixTimestamp64Milli(time) AS t FROM {table} ORDER BY t", "JSONEachRow"
        )
        assert [orjson.loads(line)["t"] for line in raw.splitlines()] == times_ms
    finally:
        store.close()
