"""The sink against the real embedded ClickHouse: refused rows are isolated, the rest stored."""

from __future__ import annotations

import time

import pytest

from schemas.codec import encode
from streams.sink import write_batch
from streams.store import EmbeddedStore, migrate, query_rows
from tests.factories import T0, reading


def reading_at(now_s: float, offset_s: float, value: float):
    return reading((now_s * 1000 - T0) / 1000 + offset_s, value)


pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path):
    opened = EmbeddedStore(tmp_path / "clickhouse")  # one embedded engine per process at a time
    try:
        migrate(opened)
        yield opened
    finally:
        opened.close()


def test_rows_clickhouse_refuses_are_isolated_and_the_rest_is_stored(store):
    store.execute(
        "ALTER TABLE linepulse.sensor_readings ADD CONSTRAINT plausible CHECK value < 1000"
    )
    now = time.time()  # raw readings older than their 30-day TTL would be dropped at once
    values = [encode(reading_at(now, i, 20.0 + i)) for i in range(10)]
    values[6] = encode(reading_at(now, 6, 5000.0))
    values.append(b"not json")
    result = write_batch(store, values)
    assert result.rows == 9
    assert list(result.refused) == [6]
    assert "plausible" in result.refused[6]
    assert list(result.undecodable) == [10]
    stored = query_rows(
        store, "SELECT count() AS n, max(value) AS top FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 9, "top": 29.0}]


def test_migrations_apply_once_and_are_recorded(store):
    assert migrate(store) == []
    versions = query_rows(store, "SELECT version FROM linepulse.schema_migrations ORDER BY version")
    assert versions == [{"version": v} for v in range(1, 5)]


def _oee_row(
    asset: str,
    start_ms: int,
    planned: float,
    run: float,
    ideal: float,
    good: int,
    scrap: int,
    version: int = 1,
    provisional: bool = False,
) -> bytes:
    from schemas.events import OeeResult

    return encode(
        OeeResult(
            time=start_ms,
            asset=asset,
            window_start=start_ms,
            window_end=start_ms + 60_000,
            window="1m",
            version=version,
            provisional=provisional,
            planned_time_s=planned,
            run_time_s=run,
            unknown_time_s=0,
            excluded_time_s=60 - planned,
            ideal_time_s=ideal,
            good=good,
            scrap=scrap,
            total=good + scrap,
        )
    )


def test_hourly_view_sums_closed_windows_per_level_and_recomputes(store):
    hour = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000
    values = [
        _oee_row("p/l1/s1/m1", hour, 60, 60, 60, 60, 0),
        _oee_row("p/l1/s2/m2", hour, 60, 15, 15, 5, 10),
        _oee_row("p/l1/s2/m2", hour, 60, 60, 60, 99, 0, version=0, provisional=True),
        _oee_row("p/l2/s1/m3", hour + 60_000, 30, 30, 15, 10, 0),
    ]
    assert write_batch(store, values).rows == 4
    rows = query_rows(
        store,
        "SELECT level, asset, availability, performance, quality, good "
        "FROM linepulse.oee_hourly ORDER BY level, asset",
    )
    by_asset = {(r["level"], r["asset"]): r for r in rows}
    line = by_asset[("line", "p/l1")]
    assert line["availability"] == pytest.approx(75 / 120)
    assert line["performance"] == pytest.approx(75 / 75)
    assert line["quality"] == pytest.approx(65 / 75)
    assert line["good"] == 65  # the provisional row is not counted
    plant = by_asset[("plant", "p")]
    assert plant["availability"] == pytest.approx(105 / 150)
    assert plant["performance"] == pytest.approx(90 / 105)
    assert len([r for r in rows if r["level"] == "machine"]) == 3


def test_every_documented_query_runs_on_the_real_schema(store):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "queries.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 6
    for sql in blocks:
        store.query_bytes(sql, "JSONEachRow")


def test_shift_view_puts_each_window_in_the_shift_last_started_on_its_machine(store):
    from schemas.events import ShiftStarted

    base = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000
    values = [
        encode(ShiftStarted(time=base, asset="p/l1/s1/m1", shift="early")),
        encode(ShiftStarted(time=base + 120_000, asset="p/l1/s1/m1", shift="late")),
        _oee_row("p/l1/s1/m1", base, 60, 60, 30, 10, 0),
        _oee_row("p/l1/s1/m1", base + 60_000, 60, 30, 30, 10, 0),
        _oee_row("p/l1/s1/m1", base + 120_000, 60, 60, 60, 5, 5),
    ]
    write_batch(store, values)
    rows = query_rows(
        store,
        "SELECT shift, availability, performance, good, scrap "
        "FROM linepulse.oee_by_shift WHERE level = 'line' ORDER BY shift",
    )
    assert rows == [
        {"shift": "early", "availability": 0.75, "performance": 60 / 90, "good": 20, "scrap": 0},
        {"shift": "late", "availability": 1.0, "performance": 1.0, "good": 5, "scrap": 5},
    ]


def test_counts_keep_rework_apart_from_scrap(store):
    from schemas.events import ProductionCount

    now = int(time.time() * 1000)
    count = ProductionCount(time=now, asset="p/l/s/m", good=6, scrap=1, rework=3)
    assert write_batch(store, [encode(count)]).rows == 1
    rows = query_rows(store, "SELECT good, scrap, rework FROM linepulse.machine_events")
    assert rows == [{"good": 6, "scrap": 1, "rework": 3}]


def test_export_writes_a_time_range_of_a_table_to_parquet(tmp_path):
    import polars as pl

    from streams.export import export_table
    from streams.settings import StoreSettings

    settings = StoreSettings(data_dir=tmp_path / "data")
    opened = EmbeddedStore(settings.chdb_path)
    try:
        migrate(opened)
        now = time.time()
        write_batch(opened, [encode(reading_at(now, -i, float(i))) for i in range(10)])
    finally:
        opened.close()
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(now - 4.5, tz=UTC).isoformat()
    rows = export_table(settings, "sensor_readings", start, None, tmp_path / "out.parquet")
    frame = pl.read_parquet(tmp_path / "out.parquet")
    assert rows == frame.height == 5  # the readings of the last 4.5 seconds
    assert sorted(frame["value"].to_list()) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_replayed_batch_is_not_stored_twice(store):
    from streams.replay import ReplayGuard

    now = time.time()
    values = [encode(reading_at(now, i, 20.0 + i)) for i in range(6)]
    positions = [("linepulse.sensor.readings", i % 2, i // 2) for i in range(6)]
    assert write_batch(store, values[:4], positions[:4], ReplayGuard()).rows == 4
    # a new worker reads the partitions again from the last committed offsets (all of them)
    after_restart = ReplayGuard()
    result = write_batch(store, values, positions, after_restart)
    assert result.rows == 2
    assert after_restart.suspects == {("linepulse.sensor.readings", 0)} | {
        ("linepulse.sensor.readings", 1)
    }
    more = [encode(reading_at(now, 10 + i, 1.0)) for i in range(2)]
    assert (
        write_batch(store, more, [(p[0], p[1], 3) for p in positions[:2]], after_restart).rows == 2
    )
    assert after_restart.suspects == frozenset()
    stored = query_rows(
        store, "SELECT count() AS n, uniqExact(event_id) AS ids FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 8, "ids": 8}]
