"""The sink against the real embedded ClickHouse: refused rows are isolated, the rest stored."""

from __future__ import annotations

import time

import pytest

from schemas.alarms import AlarmAction
from schemas.codec import encode
from streams.core.alarms import AlarmBook
from streams.processors.protocol import Message
from streams.store.clickhouse import (
    EmbeddedStore,
    latest_schema_version,
    migrate,
    migration_files,
    query_rows,
    sql_statements,
)
from streams.store.sink import BatchResult, Sink
from tests.factories import T0, alert_step, reading


def reading_at(now_s: float, offset_s: float, value: float):
    return reading((now_s * 1000 - T0) / 1000 + offset_s, value)


pytestmark = pytest.mark.integration


def write(store, values, positions=None, guard=None) -> BatchResult:
    """The sink's write of `values` as messages at `positions` (topic, partition, offset)."""
    positions = positions or [("test.topic", 0, i) for i in range(len(values))]
    messages = [Message(t, p, o, v) for (t, p, o), v in zip(positions, values, strict=True)]
    return Sink(store, guard=guard).write(messages)


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
    result = write(store, values)
    assert result.rows == 9
    assert list(result.refused) == [6]
    assert "plausible" in result.refused[6]
    assert list(result.undecodable) == [10]
    stored = query_rows(
        store, "SELECT count() AS n, max(value) AS top FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 9, "top": 29.0}]


def _schema_and_rollups(store) -> tuple[list[dict], list[dict]]:
    tables = query_rows(
        store,
        "SELECT name, create_table_query FROM system.tables WHERE database = 'linepulse' "
        "ORDER BY name",
    )
    rollup = query_rows(
        store, "SELECT sum(sample_count) AS n, sum(value_sum) AS s FROM linepulse.sensor_minutes"
    )
    return tables, rollup


def test_migrations_apply_once_are_recorded_and_rerun_without_change(store):
    assert migrate(store) == []
    versions = query_rows(store, "SELECT version FROM linepulse.schema_migrations ORDER BY version")
    assert versions == [{"version": v} for v in range(1, latest_schema_version() + 1)]
    now = time.time()
    write(store, [encode(reading_at(now, i, float(i))) for i in range(5)])
    before = _schema_and_rollups(store)
    assert before[1] == [{"n": 5, "s": 10.0}]
    for _, _, sql in migration_files():  # as if the record of them were lost
        for statement in sql_statements(sql):
            store.execute(statement)
    assert _schema_and_rollups(store) == before


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
        _oee_row("q/l3/s1/m4", hour, 60, 60, 0, 0, 0),  # ran a whole minute, made no part
    ]
    assert write(store, values).rows == 5
    rows = query_rows(
        store,
        "SELECT level, asset, availability, performance, quality, oee, good "
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
    assert len([r for r in rows if r["level"] == "machine"]) == 4
    assert by_asset[("plant", "q")]["oee"] == 0
    idle = by_asset[("machine", "q/l3/s1/m4")]
    assert (idle["oee"], idle["quality"], idle["performance"]) == (0, None, 0)
    assert line["oee"] == pytest.approx(75 / 120 * 1 * 65 / 75)


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
    write(store, values)
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
    assert write(store, [encode(count)]).rows == 1
    rows = query_rows(store, "SELECT good, scrap, rework FROM linepulse.machine_events")
    assert rows == [{"good": 6, "scrap": 1, "rework": 3}]


def test_export_writes_a_time_range_of_a_table_to_parquet(tmp_path):
    import polars as pl

    from streams.commands.export import export_table
    from streams.settings import StoreSettings

    settings = StoreSettings(data_dir=tmp_path / "data")
    opened = EmbeddedStore(settings.chdb_path)
    try:
        migrate(opened)
        now = time.time()
        write(opened, [encode(reading_at(now, -i, float(i))) for i in range(10)])
    finally:
        opened.close()
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(now - 4.5, tz=UTC).isoformat()
    rows = export_table(settings, "sensor_readings", start, None, tmp_path / "out.parquet")
    frame = pl.read_parquet(tmp_path / "out.parquet")
    assert rows == frame.height == 5  # the readings of the last 4.5 seconds
    assert sorted(frame["value"].to_list()) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_replayed_batch_is_not_stored_twice(store):
    from streams.store.exactly_once import ReplayGuard

    now = time.time()
    values = [encode(reading_at(now, i, 20.0 + i)) for i in range(6)]
    positions = [("linepulse.sensor.readings", i % 2, i // 2) for i in range(6)]
    assert write(store, values[:4], positions[:4], ReplayGuard()).rows == 4
    # a new worker reads the partitions again from the last committed offsets (all of them)
    after_restart = ReplayGuard()
    result = write(store, values, positions, after_restart)
    assert result.rows == 2
    assert after_restart.suspects == {("linepulse.sensor.readings", 0)} | {
        ("linepulse.sensor.readings", 1)
    }
    more = [encode(reading_at(now, 10 + i, 1.0)) for i in range(2)]
    assert write(store, more, [(p[0], p[1], 3) for p in positions[:2]], after_restart).rows == 2
    assert after_restart.suspects == frozenset()
    stored = query_rows(
        store, "SELECT count() AS n, uniqExact(event_id) AS ids FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 8, "ids": 8}]


def test_a_replay_of_thousands_of_long_ids_is_looked_up_in_queries_clickhouse_accepts(store):
    from streams.store.exactly_once import ReplayGuard

    # one query for all of them would exceed ClickHouse's 256 KiB query size
    now = time.time()
    sensors = [f"station-{i:04d}.vibration.channel-{'x' * 40}" for i in range(5000)]
    values = [
        encode(reading_at(now, i / 100, 1.0).model_copy(update={"sensor": s}))
        for i, s in enumerate(sensors)
    ]
    positions = [("linepulse.sensor.readings", 0, i) for i in range(len(values))]
    assert write(store, values[:3000], positions[:3000], ReplayGuard()).rows == 3000
    assert write(store, values, positions, ReplayGuard()).rows == 2000
    stored = query_rows(
        store, "SELECT count() AS n, uniqExact(event_id) AS ids FROM linepulse.sensor_readings"
    )
    assert stored == [{"n": 5000, "ids": 5000}]


def test_sensor_rollups_hold_each_sample_of_readings_and_second_summaries_once(store):
    from schemas.events import SensorSecond

    minute_s = int(time.time()) // 60 * 60 - 120
    readings = [
        reading_at(minute_s, 0, 0.0),  # `reading` places the asset and sensor
        reading_at(minute_s, 10, 2.0),
        reading_at(minute_s, 70, 5.0),
    ]
    bad = reading_at(minute_s, 20, 999.0).model_copy(update={"quality": "bad"})
    second = SensorSecond(
        time=(minute_s + 30) * 1000,
        asset=readings[0].asset,
        sensor=readings[0].sensor,
        batch_id="b1",
        samples=4,
        mean=1.0,
        minimum=-1.0,
        maximum=3.0,
        rms=2.0,
        peak=3.0,
        crest_factor=1.5,
        kurtosis=3.0,
        band_low=0.0,
        band_mid=0.0,
        band_high=0.0,
    )
    write(store, [encode(e) for e in [*readings, bad, second]])
    minutes = query_rows(
        store,
        "SELECT samples, mean, rms, minimum, maximum FROM linepulse.sensor_1m ORDER BY minute",
    )
    # minute 1: samples 0 and 2 plus four samples of mean 1 and rms 2 (sum 4, squares 16)
    assert minutes[0]["samples"] == 6
    assert minutes[0]["mean"] == pytest.approx(6 / 6)
    assert minutes[0]["rms"] == pytest.approx((20 / 6) ** 0.5)
    assert (minutes[0]["minimum"], minutes[0]["maximum"]) == (-1.0, 3.0)
    assert minutes[1] == {"samples": 1, "mean": 5.0, "rms": 5.0, "minimum": 5.0, "maximum": 5.0}
    hours = query_rows(
        store, "SELECT sum(samples) AS n, max(maximum) AS top FROM linepulse.sensor_1h"
    )
    assert hours == [{"n": 7, "top": 5.0}]


def test_daily_and_shift_rollups_are_recomputed_from_the_closed_windows(store):
    from schemas.events import ShiftStarted

    base = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000
    values = [
        encode(ShiftStarted(time=base, asset="p/l1/s1/m1", shift="early")),
        _oee_row("p/l1/s1/m1", base, 60, 60, 30, 10, 0),
        _oee_row("p/l1/s1/m1", base + 60_000, 60, 30, 30, 10, 0),
    ]
    write(store, values)
    for view in ("oee_daily_refresh", "oee_shift_refresh"):
        store.execute(f"SYSTEM REFRESH VIEW linepulse.{view}")
        store.execute(f"SYSTEM WAIT VIEW linepulse.{view}")
    # a late correction of the second window, then the minute's refresh
    write(store, [_oee_row("p/l1/s1/m1", base + 60_000, 60, 60, 60, 20, 0, version=2)])
    for view in ("oee_daily_refresh", "oee_shift_refresh"):
        store.execute(f"SYSTEM REFRESH VIEW linepulse.{view}")
        store.execute(f"SYSTEM WAIT VIEW linepulse.{view}")
    windows = query_rows(
        store,
        "SELECT toUnixTimestamp64Milli(window_start) - "
        f"{base} AS start, version, good FROM linepulse.oee_windows FINAL ORDER BY start",
    )
    assert windows == [
        {"start": 0, "version": 1, "good": 10},
        {"start": 60_000, "version": 2, "good": 20},  # one current row per window
    ]
    daily = query_rows(
        store,
        "SELECT good, run_time_s, availability FROM linepulse.oee_daily_rollup FINAL "
        "WHERE level = 'machine'",
    )
    assert daily == [{"good": 30, "run_time_s": 120.0, "availability": 1.0}]
    shift = query_rows(
        store,
        "SELECT shift, good, performance FROM linepulse.oee_shift_rollup FINAL "
        "WHERE level = 'plant'",
    )
    assert shift == [{"shift": "early", "good": 30, "performance": pytest.approx(90 / 120)}]


def grafana_sql(sql: str) -> str:
    """A panel's SQL as the Grafana ClickHouse data source sends it, for the last day."""
    import re

    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= now() - INTERVAL 1 DAY AND \1 <= now()", sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(\1, INTERVAL 60 second)", sql)
    sql = sql.replace("${line:singlequote}", "'p/l1'").replace(
        "${asset:singlequote}", "'p/l1/s1/m1'"
    )
    assert "$" not in sql, sql
    return sql


def test_every_grafana_panel_and_variable_query_runs_on_the_real_schema(store):
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "helm/linepulse/dashboards/linepulse-oee.json"
    dashboard = json.loads(path.read_text())
    base = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000
    write(store, [_oee_row("p/l1/s1/m1", base, 60, 30, 30, 10, 0)])
    queries = [t["rawSql"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert len(queries) >= 10
    results = {sql: query_rows(store, grafana_sql(sql)) for sql in queries}
    stat = results[dashboard["panels"][0]["targets"][0]["rawSql"]]
    assert stat[0]["availability"] == pytest.approx(0.5)


def test_retention_follows_the_settings_and_changes_only_what_differs(store):
    from streams.settings import StoreSettings
    from streams.store.clickhouse import apply_retention

    assert apply_retention(store, StoreSettings()) == []
    shorter = StoreSettings(retention_raw_days=7, retention_aggregate_days=400)
    changed = apply_retention(store, shorter)
    assert sorted(changed) == [
        "alerts",
        "oee_rollups",
        "oee_windows",
        "sensor_hours",
        "sensor_minutes",
        "sensor_readings",
    ]
    ttl = query_rows(
        store,
        "SELECT create_table_query AS q FROM system.tables "
        "WHERE database = 'linepulse' AND name = 'sensor_readings'",
    )[0]["q"]
    assert "TTL toDateTime(time) + toIntervalDay(7)" in ttl
    assert apply_retention(store, shorter) == []
    with pytest.raises(ValueError, match="90"):
        StoreSettings(retention_aggregate_days=30)


def test_the_migrated_tables_have_the_shapes_declared_once(store):
    import re

    from schemas.tables import TABLES
    from streams.settings import StoreSettings

    settings = StoreSettings()
    tables = {
        r["name"]: r
        for r in query_rows(
            store,
            "SELECT name, sorting_key, create_table_query FROM system.tables "
            "WHERE database = 'linepulse'",
        )
    }
    columns = query_rows(
        store,
        "SELECT table, name, default_kind FROM system.columns WHERE database = 'linepulse'",
    )
    for name, shape in TABLES.items():
        found = tables[name]
        assert tuple(found["sorting_key"].split(", ")) == shape.sort_key, name
        if shape.columns is not None:
            own = [c for c in columns if c["table"] == name]
            written = {c["name"] for c in own if not c["default_kind"]}
            assert written <= set(shape.columns) <= {c["name"] for c in own}, name
        ttl_days = re.search(r"toIntervalDay\((\d+)\)", found["create_table_query"])
        declared = settings.retention_days(shape.retention) if shape.retention else None
        assert (int(ttl_days.group(1)) if ttl_days else None) == declared, name


def test_alarm_times_give_each_alarms_time_to_acknowledge_and_to_clear(store):
    raised_at = int(time.time() * 1000) - 600_000
    book = AlarmBook()
    steps = [
        *book.condition(alert_step("raised", raised_at, alert_id="x1")),
        book.act(
            AlarmAction(
                time=raised_at + 60_000,
                asset="plant1/line1/st1/m1",
                alert_id="x1",
                action="acknowledge",
                actor="lead",
            )
        ),
        *book.condition(alert_step("cleared", raised_at + 90_000, alert_id="x1")),
        *book.condition(alert_step("raised", raised_at, alert_id="x2")),
    ]
    result = write(store, [encode(step) for step in steps])
    assert (result.rows, result.undecodable, result.refused) == (4, {}, {})
    rows = query_rows(
        store,
        "SELECT alert_id, seconds_to_acknowledge AS ack, seconds_to_clear AS clear, "
        "closed IS NOT NULL AS closed, alarm_state_now AS state, escalations "
        "FROM linepulse.alarm_times ORDER BY alert_id",
    )
    assert [(r["alert_id"], r["ack"], r["clear"], r["closed"], r["state"]) for r in rows] == [
        ("x1", 60, 90, 1, "normal"),
        ("x2", None, None, 0, "unacknowledged"),
    ]
    stored = query_rows(
        store, "SELECT acknowledged_by, version FROM linepulse.alerts WHERE status = 'acknowledged'"
    )
    assert stored == [{"acknowledged_by": "lead", "version": 2}]
