"""The whole path over a real Kafka broker, a real worker process and the embedded ClickHouse."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.publisher import Publisher, batch_bytes
from schemas import topics
from schemas.codec import encode
from schemas.events import (
    MachineState,
    OperatorLogin,
    PlannedStopEnded,
    PlannedStopStarted,
    PlcCounter,
    ProductionCount,
    SensorBatch,
    SensorReading,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderStarted,
)
from schemas.states import State
from streams.commands.batch_oee import run_batch
from tests.integration.conftest import WorkerProcess, consume

pytestmark = pytest.mark.integration
WINDOW_MS = 10_000


def _plant() -> str:
    return f"it{uuid.uuid4().hex[:6]}"


def test_oee_rows_in_clickhouse_equal_the_values_computed_by_hand(worker: WorkerProcess, tmp_path):
    plant = _plant()
    a, b = f"{plant}/l1/s1/ma", f"{plant}/l1/s2/mb"
    line2, c = f"{plant}/l2", f"{plant}/l2/s1/mc"
    base = (int(time.time() * 1000) - 60_000) // WINDOW_MS * WINDOW_MS

    def at(seconds: float) -> int:
        return base + int(seconds * 1000)

    events = [
        # machine A: delta counts, ideal cycle 0.5 s
        WorkOrderStarted(
            time=at(0), asset=a, work_order="WO-A", product="door", ideal_cycle_time_s=0.5
        ),
        MachineState(time=at(0), asset=a, state=State.PRODUCING),
        ProductionCount(time=at(1), asset=a, good=8),
        ProductionCount(time=at(4), asset=a, good=5, scrap=1),
        MachineState(time=at(6), asset=a, state=State.EQUIPMENT_FAILURE),
        MachineState(time=at(9), asset=a, state=State.PRODUCING),
        ProductionCount(time=at(12), asset=a, good=10),
        MachineState(time=at(15), asset=a, state=State.NO_SHIFT),
        MachineState(time=at(18), asset=a, state=State.PRODUCING),
        ProductionCount(time=at(25), asset=a, good=4),
        # machine B: cumulative PLC counters with a reset, a microstop and a planned break
        WorkOrderStarted(
            time=at(0), asset=b, work_order="WO-B", product="roof", ideal_cycle_time_s=1.0
        ),
        MachineState(time=at(0), asset=b, state=State.PRODUCING),
        PlcCounter(time=at(0), asset=b, counter="good", value=100),
        PlcCounter(time=at(0), asset=b, counter="scrap", value=0),
        PlcCounter(time=at(5), asset=b, counter="good", value=110),
        PlcCounter(time=at(8), asset=b, counter="scrap", value=2),
        MachineState(time=at(12), asset=b, state=State.UNSPECIFIED_STOP),
        PlcCounter(time=at(15), asset=b, counter="good", value=3),
        PlannedStopStarted(time=at(16), asset=b, reason="break"),
        PlannedStopEnded(time=at(19), asset=b, reason="break"),
        PlcCounter(time=at(25), asset=b, counter="good", value=9),
        MachineState(time=at(30), asset=b, state=State.PRODUCING),
        # machine C: its work order (ideal cycle 2 s) is sent on its line, not on the machine
        WorkOrderStarted(
            time=at(0), asset=line2, work_order="WO-L2", product="seat", ideal_cycle_time_s=2.0
        ),
        MachineState(time=at(0), asset=c, state=State.PRODUCING),
        ProductionCount(time=at(5), asset=c, good=3),
        ProductionCount(time=at(15), asset=c, good=2),
        ProductionCount(time=at(25), asset=c, good=5),
    ]
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    for event in reversed(events):  # arrival order must not matter
        publisher.publish(event)
    publisher.flush()

    sql = (
        f"SELECT asset, toUnixTimestamp64Milli(window_start) AS start, availability, "
        f"performance, quality, oee, planned_time_s, run_time_s, good, scrap, "
        f"performance_over_one FROM linepulse.oee_windows FINAL "
        f"WHERE provisional = 0 AND asset LIKE '{plant}/%' AND window_start < "
        f"fromUnixTimestamp64Milli({at(30)}) ORDER BY asset, start"
    )
    rows = worker.wait_rows(sql, lambda r: len(r) == 9)  # none for the line itself
    got = {(r["asset"], (r["start"] - base) // 1000): r for r in rows}

    # (A, P, Q, OEE, planned s, run s, good, scrap), worked out on paper from the events above
    expected = {
        (a, 0): (0.7, 1.0, 13 / 14, 0.65, 10, 7, 13, 1),
        (a, 10): (1.0, 5 / 7, 1.0, 5 / 7, 7, 7, 10, 0),
        (a, 20): (1.0, 0.2, 1.0, 0.2, 10, 10, 4, 0),
        (b, 0): (1.0, 1.2, 10 / 12, 1.0, 10, 10, 10, 2),
        (b, 10): (1.0, 3 / 7, 1.0, 3 / 7, 7, 7, 3, 0),
        (b, 20): (1.0, 0.6, 1.0, 0.6, 10, 10, 6, 0),
        (c, 0): (1.0, 0.6, 1.0, 0.6, 10, 10, 3, 0),
        (c, 10): (1.0, 0.4, 1.0, 0.4, 10, 10, 2, 0),
        (c, 20): (1.0, 1.0, 1.0, 1.0, 10, 10, 5, 0),
    }
    assert set(got) == set(expected)
    for key, (av, pe, qu, oee, planned, run, good, scrap) in expected.items():
        row = got[key]
        assert row["availability"] == pytest.approx(av), key
        assert row["performance"] == pytest.approx(pe), key
        assert row["quality"] == pytest.approx(qu), key
        assert row["oee"] == pytest.approx(oee), key
        assert (row["planned_time_s"], row["run_time_s"]) == (planned, run), key
        assert (row["good"], row["scrap"]) == (good, scrap), key
    assert got[(b, 0)]["performance_over_one"] == 1

    # the batch command computes the same rows from a file of the same events
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(encode(e) for e in events))
    out = io.StringIO()
    end_iso = datetime.fromtimestamp(at(30) / 1000, tz=UTC).isoformat()
    run_batch(lines, "10s", "machine", None, end_iso, out, io.StringIO())
    batch = {
        (r["asset"], r["window_start"]): r for r in map(json.loads, out.getvalue().splitlines())
    }
    assert len(batch) == 9
    for (asset, offset), row in got.items():
        start_iso = datetime.fromtimestamp((base + offset * 1000) / 1000, tz=UTC)
        mirrored = batch[(asset, start_iso.isoformat().replace("+00:00", "Z"))]
        for name in ("availability", "performance", "quality", "oee"):
            assert mirrored[name] == pytest.approx(row[name]), (asset, offset, name)
        assert (mirrored["good"], mirrored["scrap"]) == (row["good"], row["scrap"])

    # windows below the 50 % target raise an episode; the next one at or above clears it
    low = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("alert_kind") == "oee_below_target" and v["asset"] in (a, b),
        3,
    )
    steps = sorted((v["asset"], v["time"] - base, v["status"], round(v["value"], 4)) for v in low)
    assert steps == [
        (a, 30_000, "raised", 0.2),
        (b, 20_000, "raised", round(3 / 7, 4)),
        (b, 30_000, "cleared", 0.6),
    ]

    # an event later than its closed window is a valid event: stored (the batch command counts
    # it), not dead-lettered, and the stream's closed window stays as it was
    late_before = worker.metric("linepulse_late_events_total")
    late = ProductionCount(time=at(2), asset=a, good=99)
    publisher.publish(late)
    publisher.flush()
    worker.wait_rows(
        f"SELECT good FROM linepulse.machine_events WHERE event_id = '{late.id}'",
        lambda r: r == [{"good": 99}],
    )
    assert worker.metric("linepulse_late_events_total") == late_before + 1
    assert worker.query(f"SELECT * FROM linepulse.dead_letters WHERE key = '{a}'") == []
    assert worker.query(f"{sql.split(' ORDER BY')[0]} AND good = 99") == []


def test_injected_anomaly_raises_an_alert_on_the_alert_topic(worker: WorkerProcess):
    plant = _plant()
    asset = f"{plant}/l1/s1/m1"
    start = int(time.time() * 1000) - 200_000
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    normal = [20.0 + (i % 7) * 0.1 for i in range(120)]
    for i, value in enumerate([*normal, *[45.0] * 8]):
        publisher.publish(
            SensorReading(
                time=start + i * 1000,
                asset=asset,
                sensor="m1.temperature",
                value=value,
                unit="degC",
            )
        )
    publisher.flush()
    alerts = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["alert_kind"] == "anomaly",
        1,
    )
    assert alerts, "no alert arrived"
    alert = alerts[0]
    assert (alert["alert_kind"], alert["status"], alert["source"]) == (
        "anomaly",
        "raised",
        "m1.temperature",
    )
    assert alert["time"] >= start + 120_000  # raised by the spike, not during warm-up
    stored = worker.wait_rows(
        f"SELECT status FROM linepulse.alerts WHERE asset = '{asset}'", lambda r: len(r) >= 1
    )
    assert stored[0]["status"] == "raised"
    # the documented example consumer sees the same episode
    example = _example_consumer()
    seen = [
        a
        for a in example.alerts(
            worker.bootstrap, f"doc-{uuid.uuid4().hex}", from_start=True, idle_timeout_s=3
        )
        if a["asset"] == asset
    ]
    assert alert["alert_id"] in {a["alert_id"] for a in seen}


def _example_consumer():
    path = Path(__file__).resolve().parents[2] / "docs" / "examples" / "alert_consumer.py"
    spec = importlib.util.spec_from_file_location("alert_consumer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_malformed_events_reach_the_dead_letter_topic_while_good_events_flow(worker: WorkerProcess):
    plant = _plant()
    asset = f"{plant}/l1/s1/m1"
    now = int(time.time() * 1000)
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    publisher.send(topics.MACHINE_EVENTS, asset, b"\x00\x01 not json")
    publisher.send(
        topics.SENSOR_READINGS,
        asset,
        b'{"kind":"sensor.reading","time":%d,"asset":"%s","sensor":"t","value":"hot"}'
        % (now, asset.encode()),
    )
    future = MachineState(time=now + 3_600_000, asset=asset, state=State.PRODUCING)
    publisher.publish(future)
    good = SensorReading(time=now, asset=asset, sensor="t", value=21.5)
    publisher.publish(good)
    publisher.flush()

    letters = consume(worker.bootstrap, topics.DEAD_LETTERS, lambda v: v.get("key") == asset, 3)
    by_type = {letter["error_type"]: letter for letter in letters}
    assert set(by_type) == {"not_json", "schema", "time_in_future"}
    assert "sensor.reading.value" in by_type["schema"]["reason"]
    assert by_type["schema"]["source_topic"] == topics.SENSOR_READINGS
    assert "in the future" in by_type["time_in_future"]["reason"]
    stored = worker.wait_rows(
        f"SELECT value, event_id FROM linepulse.sensor_readings WHERE asset = '{asset}'",
        lambda r: len(r) >= 1,
    )
    assert stored == [{"value": 21.5, "event_id": good.id}]
    worker.wait_rows(
        f"SELECT error_type FROM linepulse.dead_letters WHERE key = '{asset}'",
        lambda r: len(r) == 3,
    )
    # acceptance is decided once: what the agents dead-letter, the sink does not store
    later = MachineState(time=now + 1, asset=asset, state=State.PRODUCING)
    publisher.publish(later)
    publisher.flush()
    stored_states = worker.wait_rows(
        f"SELECT event_id FROM linepulse.machine_events WHERE asset = '{asset}'",
        lambda r: len(r) >= 1,
    )
    assert stored_states == [{"event_id": later.id}]
    assert future.id not in {r["event_id"] for r in stored_states}


def test_sample_batches_are_stored_as_per_second_summaries(worker: WorkerProcess):
    """The same batch as a binary batch (the publisher's default) and as JSON gives the same
    rows; a truncated binary batch is a dead letter that keeps its payload whole."""
    plant = _plant()
    start = (int(time.time() * 1000) - 30_000) // 1000 * 1000
    values = [1.0 if n % 2 else -1.0 for n in range(2500)]  # a square wave: RMS 1, crest 1
    batches = {
        fmt: SensorBatch(
            time=start,
            asset=f"{plant}/l1/s1/{fmt}",
            sensor="m1.vibration",
            sample_rate_hz=1000,
            values=values,
            unit="g",
        )
        for fmt in ("binary", "json")
    }
    for fmt, batch in batches.items():
        publisher = Publisher({"bootstrap.servers": worker.bootstrap}, batch_format=fmt)
        publisher.publish(batch)
        publisher.flush()
    broken = batch_bytes(batches["binary"])[:-6]
    publisher.send(topics.SENSOR_BATCHES, f"{plant}/l1/s1/broken", broken)
    publisher.flush()
    for batch in batches.values():
        rows = worker.wait_rows(
            f"SELECT toUnixTimestamp(second) * 1000 AS t, samples, rms, crest_factor, event_id "
            f"FROM linepulse.sensor_seconds WHERE asset = '{batch.asset}' ORDER BY t",
            lambda r: len(r) == 3,
        )
        assert [(r["t"] - start, r["samples"]) for r in rows] == [
            (0, 1000),
            (1000, 1000),
            (2000, 500),
        ]
        assert all(r["rms"] == pytest.approx(1.0) and r["event_id"] == batch.id for r in rows)
        scores = worker.wait_rows(
            f"SELECT count() AS n FROM linepulse.anomaly_scores WHERE asset = '{batch.asset}'",
            lambda r: r[0]["n"] == 3,
        )
        assert scores == [{"n": 3}]
    (letter,) = worker.wait_rows(
        "SELECT error_type, payload FROM linepulse.dead_letters "
        f"WHERE key = '{plant}/l1/s1/broken'",
        lambda r: len(r) == 1,
    )
    assert letter == {
        "error_type": "sample_count",
        "payload": "base64:" + base64.b64encode(broken).decode(),
    }


def test_stuck_and_silent_sensors_raise_data_quality_alerts_and_clear(worker: WorkerProcess):
    asset = f"{_plant()}/l1/s1/m1"
    start = int(time.time() * 1000) - 60_000
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    for i in range(50):
        value = 20.0 + (i % 4) * 0.1 if i < 20 else 55.5  # frozen from the 21st reading on
        publisher.publish(
            SensorReading(time=start + i * 1000, asset=asset, sensor="temp", value=value)
        )
        publisher.publish(
            SensorReading(
                time=start + i * 1000, asset=asset, sensor="flow", value=3.0 + (i % 5) * 0.01
            )
        )
    publisher.flush()
    # nothing more arrives: "flow" and "temp" fall silent; "temp" was stuck before that
    stuck = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["alert_kind"] == "data_quality",
        1,
    )
    assert stuck[0]["source"] == "temp"
    assert stuck[0]["status"] == "raised"
    assert stuck[0]["time"] >= start + 30_000  # held 10 s from the 21st reading
    silent = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: (
            v.get("asset") == asset
            and v["alert_kind"] == "sensor_silent"
            and v["status"] == "raised"
        ),
        2,
        timeout_s=60,
    )
    assert {a["source"] for a in silent} == {"temp", "flow"}
    publisher.publish(SensorReading(time=start + 55_000, asset=asset, sensor="flow", value=3.0))
    publisher.flush()
    cleared = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: (
            v.get("asset") == asset and v.get("source") == "flow" and v["status"] == "cleared"
        ),
        1,
    )
    assert cleared[0]["alert_id"] == next(a["alert_id"] for a in silent if a["source"] == "flow")
    findings = worker.wait_rows(
        "SELECT sensor, rule, count() AS n FROM linepulse.quality_findings "
        f"WHERE asset = '{asset}' GROUP BY sensor, rule ORDER BY sensor, rule",
        lambda r: (
            {(x["sensor"], x["rule"]) for x in r}
            >= {("temp", "stuck"), ("temp", "silent"), ("flow", "silent")}
        ),
    )
    assert all(row["n"] >= 1 for row in findings)  # every finding is stored, not only alerts


def test_a_machine_down_longer_than_the_limit_raises_and_clears_a_critical_alert(
    worker: WorkerProcess,
):
    asset = f"{_plant()}/l1/s1/m1"
    now = int(time.time() * 1000)
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    publisher.publish(MachineState(time=now - 5_000, asset=asset, state=State.PRODUCING))
    publisher.publish(MachineState(time=now - 4_000, asset=asset, state=State.EQUIPMENT_FAILURE))
    publisher.flush()
    # nothing more arrives: the stop is timed by the partition's clock, not by new events
    raised = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["alert_kind"] == "machine_down",
        1,
        timeout_s=60,
    )
    assert raised[0]["status"] == "raised"
    assert raised[0]["severity"] == "critical"
    assert raised[0]["value"] >= 15
    publisher.publish(
        MachineState(time=int(time.time() * 1000), asset=asset, state=State.PRODUCING)
    )
    publisher.flush()
    cleared = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["status"] == "cleared",
        1,
    )
    assert cleared[0]["alert_id"] == raised[0]["alert_id"]


def test_metrics_move_when_events_flow(worker: WorkerProcess):
    # last in the module: the tests above made every named metric move
    text = worker.metrics()
    for name in (
        "linepulse_events_in_total",
        "linepulse_sink_rows_total",
        "linepulse_dead_letters_total",
        "linepulse_watermark_delay_seconds",
        'linepulse_processing_seconds_bucket{agent="score_sensor_data"',
        'linepulse_quality_findings_total{rule="stuck"}',
        "linepulse_anomaly_models_warming",
        'linepulse_consumer_lag_messages{partition="0",topic="linepulse.machine.events.v1"}',
    ):
        assert name in text
    rows_line = [
        line
        for line in text.splitlines()
        if line.startswith("linepulse_sink_rows_total{") and "sensor_readings" in line
    ]
    assert rows_line
    assert float(rows_line[0].rsplit(" ", 1)[1]) >= 1


def test_readings_states_and_alerts_carry_the_production_context_of_their_time(
    worker: WorkerProcess,
):
    plant = _plant()
    station = f"{plant}/body/st010"
    machine = f"{station}/robot1"
    vin = "WVWZZZ1JZXW000042"
    start = int(time.time() * 1000) - 200_000
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    applied_before = worker.feed_events()
    for event in (
        ShiftStarted(time=start, asset=f"{plant}/body", shift="early"),
        WorkOrderStarted(
            time=start, asset=machine, work_order="WO-77", product="suv", ideal_cycle_time_s=60
        ),
        VehicleAtStation(time=start + 1000, asset=station, vin=vin),
        OperatorLogin(time=start + 1000, asset=machine, operator="op-12"),
    ):
        publisher.publish(event)
    publisher.flush()
    worker.wait_feed_events(applied_before + 4, "the MES events")
    values = [20.0 + (i % 7) * 0.1 for i in range(90)] + [60.0] * 6
    for i, value in enumerate(values):
        publisher.publish(
            SensorReading(time=start + 5000 + i * 1000, asset=machine, sensor="temp", value=value)
        )
    publisher.publish(ProductionCount(time=start + 6000, asset=machine, good=1))
    publisher.flush()
    rows = worker.wait_rows(
        "SELECT DISTINCT vin, operator, work_order FROM linepulse.sensor_readings "
        f"WHERE asset = '{machine}'",
        lambda r: len(r) >= 1,
    )
    assert rows == [{"vin": vin, "operator": "op-12", "work_order": "WO-77"}]
    counts = worker.wait_rows(
        "SELECT vin, operator, work_order FROM linepulse.machine_events "
        f"WHERE asset = '{machine}' AND kind = 'machine.count'",
        lambda r: len(r) >= 1,
    )
    assert counts == [{"vin": vin, "operator": "op-12", "work_order": "WO-77"}]
    alerts = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == machine and v["alert_kind"] == "anomaly",
        1,
    )
    assert alerts[0]["context"] == {
        "vin": vin,
        "station": station,
        "operator": "op-12",
        "work_order": "WO-77",
        "product": "suv",
        "shift": "early",
    }


def test_declared_range_and_rate_raise_data_quality_alerts_and_are_stored(worker: WorkerProcess):
    from schemas.events import SensorSpec

    plant = _plant()
    asset = f"{plant}/l1/s1/m1"
    start = int(time.time() * 1000) - 240_000
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    applied_before = worker.feed_events()
    publisher.publish_spec(
        SensorSpec(
            time=start,
            asset=asset,
            sensor="oil",
            unit="degC",
            expected_min=0,
            expected_max=100,
            interval_ms=1000,
            source="test",
        )
    )
    publisher.flush()
    worker.wait_feed_events(applied_before + 1, "the spec")
    times = [start + i * 1000 for i in range(30)] + [start + 30_000 + i * 3000 for i in range(20)]
    for i, at in enumerate(times):
        value = 150.0 if i == 25 else 40.0 + (i % 5) * 0.1
        publisher.publish(SensorReading(time=at, asset=asset, sensor="oil", value=value))
    publisher.flush()
    alerts = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["alert_kind"] == "data_quality",
        3,
    )
    by_source = {(a["source"], a["status"]): a for a in alerts}
    raised = by_source[("oil range", "raised")]
    assert "outside its expected 0.0..100.0 degC" in raised["message"]
    assert raised["value"] == 150.0
    assert raised["threshold"] == 100.0
    assert ("oil range", "cleared") in by_source or ("oil rate", "raised") in by_source
    rate = consume(
        worker.bootstrap,
        topics.ALERTS,
        lambda v: v.get("asset") == asset and v["source"] == "oil rate",
        1,
    )
    assert rate[0]["status"] == "raised"
    assert "expected every 1.00 s" in rate[0]["message"]
    stored = worker.wait_rows(
        "SELECT expected_min, expected_max, interval_ms FROM linepulse.sensor_specs FINAL "
        f"WHERE asset = '{asset}'",
        lambda r: len(r) == 1,
    )
    assert stored == [{"expected_min": 0.0, "expected_max": 100.0, "interval_ms": 1000.0}]
    out_of_range = worker.wait_rows(
        "SELECT value, detail FROM linepulse.quality_findings "
        f"WHERE asset = '{asset}' AND rule = 'out_of_range'",
        lambda r: len(r) >= 1,
    )
    assert out_of_range == [{"value": 150.0, "detail": "expected 0.0..100.0 degC"}]
    # every stored reading can be read with its verdict
    checked = worker.wait_rows(
        "SELECT value, findings, usable FROM linepulse.readings_checked "
        f"WHERE asset = '{asset}' ORDER BY time",
        lambda r: len(r) == len(times),
    )
    assert checked[25] == {"value": 150.0, "findings": ["out_of_range"], "usable": 0}
    assert all(row["usable"] == 1 for i, row in enumerate(checked) if i != 25)


def test_hour_and_day_rollups_are_summed_in_the_stream(worker: WorkerProcess):
    plant = _plant()
    asset = f"{plant}/l1/s1/m1"
    hour = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 3_600_000
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    # all at once: a pause after the first event would let the idle partition's watermark
    # follow the wall clock past this past hour (shift rollups: tests/unit/test_rollups.py)
    events = [
        WorkOrderStarted(
            time=hour + 50 * 60_000, asset=asset, work_order="W", product="p", ideal_cycle_time_s=5
        ),
        MachineState(time=hour + 50 * 60_000, asset=asset, state=State.PRODUCING),
        *[
            ProductionCount(time=hour + 50 * 60_000 + i * 30_000, asset=asset, good=2)
            for i in range(20)
        ],
        MachineState(time=hour + 61 * 60_000, asset=asset, state=State.PRODUCING),
    ]
    for event in events:
        publisher.publish(event)
    publisher.flush()
    rows = worker.wait_rows(
        "SELECT window, provisional, toUnixTimestamp64Milli(window_start) AS start, "
        "planned_time_s, run_time_s, good, availability FROM linepulse.oee_rollups FINAL "
        f"WHERE asset = '{asset}' ORDER BY window, start",
        lambda r: any(x["window"] == "1h" and x["provisional"] == 0 for x in r),
    )
    final_hour = next(r for r in rows if r["window"] == "1h" and r["start"] == hour)
    assert final_hour["provisional"] == 0
    assert final_hour["planned_time_s"] == 600.0  # the ten minutes the machine reported
    assert final_hour["good"] == 40
    assert final_hour["availability"] == 1.0
    assert {r["window"] for r in rows} >= {"1h", "1d"}
    base = worker.query(
        "SELECT sum(good) AS good FROM linepulse.oee_windows FINAL "
        f"WHERE asset = '{asset}' AND provisional = 0 AND window_start >= "
        f"fromUnixTimestamp64Milli({hour}) AND window_start < "
        f"fromUnixTimestamp64Milli({hour + 3_600_000})"
    )
    assert base == [{"good": 40}]  # the rollup equals the sum of its base windows
