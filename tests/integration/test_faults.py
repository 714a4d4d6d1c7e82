"""Faults: a worker killed mid-stream resumes from its changelogged state without loss or
double counting."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterable, Iterator

import pytest

from connectors.publisher import Publisher
from schemas import topics
from schemas.events import MachineState, ProductionCount, SensorReading, WorkOrderStarted
from schemas.states import State
from tests.integration.conftest import (
    FAST_WINDOWS,
    ONLY_NEW_EVENTS,
    WorkerProcess,
    committed_offsets,
    consume,
    end_offsets,
    started_broker,
    wait_committed,
)

pytestmark = pytest.mark.integration
WINDOW_MS = 10_000


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    """A broker of this module's own: a restarted worker reads the partitions its group never
    committed from their start, which must hold this module's events, not the whole session's."""
    yield from started_broker()


def test_killed_worker_resumes_oee_without_loss_or_double_counting(
    kafka_bootstrap, tmp_path, request
):
    asset = f"kill{uuid.uuid4().hex[:6]}/l1/s1/m1"
    base = (int(time.time() * 1000) - 60_000) // WINDOW_MS * WINDOW_MS

    def at(seconds: float) -> int:
        return base + int(seconds * 1000)

    before_kill = [
        WorkOrderStarted(
            time=at(0), asset=asset, work_order="WO", product="x", ideal_cycle_time_s=1.0
        ),
        MachineState(time=at(0), asset=asset, state=State.PRODUCING),
        ProductionCount(time=at(2), asset=asset, good=4),
        ProductionCount(time=at(12), asset=asset, good=3, scrap=1),
    ]
    after_kill = [
        MachineState(time=at(14), asset=asset, state=State.EQUIPMENT_FAILURE),
        ProductionCount(time=at(16), asset=asset, good=2),
        MachineState(time=at(18), asset=asset, state=State.PRODUCING),
        ProductionCount(time=at(25), asset=asset, good=5),
        MachineState(time=at(30), asset=asset, state=State.PRODUCING),
    ]
    # keep the watermark from closing windows while the worker is down: lateness covers it
    settings = {**FAST_WINDOWS, "allowed_lateness_s": 40, "idle_timeout_s": 600}
    first = WorkerProcess(kafka_bootstrap, tmp_path, **settings)
    request.addfinalizer(first.stop)
    first.start()
    watched = (topics.MACHINE_EVENTS, topics.MES_EVENTS)
    ends_before = {topic: end_offsets(kafka_bootstrap, topic) for topic in watched}
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    # the sink gives an event the context its worker knows when it stores it: the work order
    # is known first (events on two topics have no order between them)
    applied = first.feed_events()
    publisher.publish(before_kill[0])
    publisher.flush()
    first.wait_feed_events(applied + 1, "the work order")
    for event in before_kill[1:]:
        publisher.publish(event)
    publisher.flush()
    first.wait_rows(
        f"SELECT good FROM linepulse.oee_windows WHERE asset = '{asset}' AND provisional = 1 "
        "AND good = 3",  # the open window of the last event: every event was applied
        lambda r: len(r) >= 1,
    )
    # killed only once its offsets are committed: the second worker resumes exactly behind the
    # events the first processed
    published = {
        (topic, p): end
        for topic in watched
        for p, end in end_offsets(kafka_bootstrap, topic).items()
        if end > ends_before[topic][p]
    }
    wait_committed(kafka_bootstrap, first.app_id, published)
    first.stop(signal.SIGKILL)

    for event in after_kill:
        publisher.publish(event)
    publisher.flush()
    second = WorkerProcess(kafka_bootstrap, tmp_path, **{**settings, "idle_timeout_s": 1})
    second.app_id = first.app_id
    second.env["LINEPULSE_APP_ID"] = first.app_id
    request.addfinalizer(second.stop)
    second.start()
    try:
        rows = second.wait_rows(
            "SELECT toUnixTimestamp64Milli(window_start) AS start, planned_time_s, run_time_s, "
            "good, scrap FROM linepulse.oee_windows FINAL "
            f"WHERE asset = '{asset}' AND provisional = 0 AND window_start < "
            f"fromUnixTimestamp64Milli({at(30)}) ORDER BY start",
            lambda r: len(r) == 3,
            timeout_s=120,
        )
    except AssertionError as error:
        clocks = [
            line
            for line in second.metrics().splitlines()
            if line.startswith(("linepulse_watermark", "linepulse_consumer_lag"))
        ]
        raise AssertionError(f"{error}\nwatermarks and lags:\n" + "\n".join(clocks)) from None
    else:
        # input waiting when the worker started is stored with its production context
        machine_events = len(before_kill) + len(after_kill) - 1  # the work order is MES
        stored = second.wait_rows(
            f"SELECT kind, work_order FROM linepulse.machine_events WHERE asset = '{asset}'",
            lambda r: len(r) >= machine_events,
        )
        assert len(stored) == machine_events
        assert {r["work_order"] for r in stored} == {"WO"}
    finally:
        second.stop()
    got = [
        (r["start"] - base, r["planned_time_s"], r["run_time_s"], r["good"], r["scrap"])
        for r in rows
    ]
    assert got == [(0, 10, 10, 4, 0), (10_000, 10, 6, 5, 1), (20_000, 10, 10, 5, 0)]


def test_restarted_worker_scores_without_a_new_warm_up(kafka_bootstrap, tmp_path, request):
    asset = f"model{uuid.uuid4().hex[:6]}/l1/s1/m1"
    start = int(time.time() * 1000) - 120_000
    settings = {**FAST_WINDOWS, "anomaly_checkpoint_s": 1}
    first = WorkerProcess(kafka_bootstrap, tmp_path, **settings, **ONLY_NEW_EVENTS)
    request.addfinalizer(first.stop)
    first.start()
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    for i in range(60):
        publisher.publish(
            SensorReading(
                time=start + i * 1000, asset=asset, sensor="temp", value=20.0 + (i % 6) * 0.1
            )
        )
    publisher.flush()
    first.wait_rows(
        f"SELECT count() AS n FROM linepulse.anomaly_scores WHERE asset = '{asset}' "
        "AND warming_up = 0",
        lambda r: r[0]["n"] >= 20,
    )
    time.sleep(3)  # a checkpoint is written on the next tick of the partition
    first.stop(signal.SIGKILL)

    second = WorkerProcess(kafka_bootstrap, tmp_path, **settings)
    second.app_id = first.app_id
    second.env["LINEPULSE_APP_ID"] = first.app_id
    request.addfinalizer(second.stop)
    second.start()
    publisher.publish(SensorReading(time=start + 61_000, asset=asset, sensor="temp", value=20.2))
    publisher.publish(SensorReading(time=start + 62_000, asset=asset, sensor="temp", value=45.0))
    publisher.flush()
    rows = second.wait_rows(
        "SELECT toUnixTimestamp64Milli(time) - "
        f"{start} AS t, warming_up, is_anomaly FROM linepulse.anomaly_scores "
        f"WHERE asset = '{asset}' AND time >= fromUnixTimestamp64Milli({start + 61_000}) "
        "ORDER BY t",
        lambda r: len(r) >= 2,
    )
    assert rows[:2] == [
        {"t": 61_000, "warming_up": 0, "is_anomaly": 0},
        {"t": 62_000, "warming_up": 0, "is_anomaly": 1},
    ]


def test_sink_killed_mid_stream_stores_every_reading_exactly_once(
    kafka_bootstrap, tmp_path, request
):
    asset = f"sink{uuid.uuid4().hex[:6]}/l1/s1/m1"
    start = int(time.time() * 1000) - 60_000

    def readings(first: int, count: int) -> list[SensorReading]:
        return [
            SensorReading(time=start + i * 10, asset=asset, sensor=f"s{i % 4}", value=float(i % 97))
            for i in range(first, first + count)
        ]

    # nothing is committed while the first worker lives: all its input is read again
    settings = {**FAST_WINDOWS, "commit_interval_s": 3600, "sink_batch_rows": 500}
    first = WorkerProcess(kafka_bootstrap, tmp_path, **settings, **ONLY_NEW_EVENTS)
    request.addfinalizer(first.stop)
    first.start()
    starts = end_offsets(kafka_bootstrap, topics.SENSOR_READINGS)
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    for event in readings(0, 4000):
        publisher.publish(event)
    publisher.flush()
    count_sql = (
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM linepulse.sensor_readings "
        f"WHERE asset = '{asset}'"
    )
    seen = first.wait_rows(count_sql, lambda r: r[0]["n"] >= 1000)[0]["n"]
    first.stop(signal.SIGKILL)
    # Faust may still commit now and then (at a rebalance): what it committed is not read again
    left = _committed(kafka_bootstrap, first.app_id, starts)
    skipped = sum(max(0, left[p] - start) for p, start in starts.items())

    second = WorkerProcess(kafka_bootstrap, tmp_path, **settings)
    second.app_id = first.app_id
    second.env["LINEPULSE_APP_ID"] = first.app_id
    request.addfinalizer(second.stop)
    second.start()
    for event in readings(4000, 500):
        publisher.publish(event)
    publisher.flush()
    ends = end_offsets(kafka_bootstrap, topics.SENSOR_READINGS)
    second.wait_rows(count_sql, lambda r: r[0]["n"] >= 4500)
    time.sleep(2)  # any duplicate would be inserted by now
    assert second.query(count_sql) == [{"n": 4500, "ids": 4500}]
    # the sink reads every message its group had not committed (it once skipped those read
    # while it opened the store, which only showed as fewer replayed rows)
    uncommitted = sum(end - left[p] for p, end in ends.items())
    assert second.metric(SINK_READ_READINGS) >= uncommitted
    assert seen - skipped > 0, "the first worker committed all it stored: nothing was replayed"
    assert second.metric("linepulse_sink_replayed_rows_total") >= seen - skipped


SINK_READ_READINGS = f'linepulse_events_in_total{{agent="sink",topic="{topics.SENSOR_READINGS}"}}'


def _committed(bootstrap: str, group: str, partitions: Iterable[int]) -> dict[int, int]:
    """The offsets `group` committed on `partitions` of the readings topic (0 if none)."""
    offsets = committed_offsets(bootstrap, group, [(topics.SENSOR_READINGS, p) for p in partitions])
    return {partition: max(offset, 0) for (_, partition), offset in offsets.items()}


def test_killed_worker_clears_its_open_alert_episode_exactly_once(
    kafka_bootstrap, tmp_path, request
):
    asset = f"down{uuid.uuid4().hex[:6]}/l1/s1/m1"
    settings = {**FAST_WINDOWS, "machine_down_after_s": 3}
    first = WorkerProcess(kafka_bootstrap, tmp_path, **settings, **ONLY_NEW_EVENTS)
    request.addfinalizer(first.stop)
    first.start()
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    stopped = int(time.time() * 1000)
    publisher.publish(MachineState(time=stopped, asset=asset, state=State.EQUIPMENT_FAILURE))
    publisher.flush()

    def down_steps(count: int) -> list[dict]:
        return consume(
            kafka_bootstrap,
            topics.ALERTS,
            lambda v: v["asset"] == asset and v["alert_kind"] == "machine_down",
            count,
            timeout_s=30,
        )

    (raised,) = down_steps(1)
    assert raised["status"] == "raised"
    time.sleep(2)  # the snapshot of the tick that raised it reaches the changelog
    first.stop(signal.SIGKILL)

    second = WorkerProcess(kafka_bootstrap, tmp_path, **settings)  # reads what was not committed
    second.app_id = first.app_id
    second.env["LINEPULSE_APP_ID"] = first.app_id
    request.addfinalizer(second.stop)
    second.start()
    time.sleep(3)  # ticks while the machine is still down: a forgotten episode is raised anew
    publisher.publish(
        MachineState(time=int(time.time() * 1000), asset=asset, state=State.PRODUCING)
    )
    publisher.flush()
    steps = down_steps(2)
    time.sleep(3)  # a doubled step would be on the topic by now
    steps = down_steps(3)
    assert [(s["status"], s["alert_id"]) for s in steps] == [
        ("raised", raised["alert_id"]),
        ("cleared", raised["alert_id"]),
    ]
