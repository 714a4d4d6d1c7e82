"""Stream and batch agree over simulated days. In a module of its own: another worker on the
shared broker would also store its own OEE rows through this worker's sink."""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from datetime import UTC, datetime

import pytest

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator
from schemas.codec import encode
from streams.commands.batch_oee import run_batch
from streams.settings import SimulatorSettings
from tests.integration.conftest import FAST_WINDOWS, ONLY_NEW_EVENTS, WorkerProcess

pytestmark = pytest.mark.integration


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def test_simulated_days_through_the_stream_equal_the_batch_minutes_and_days(
    kafka_bootstrap: str, tmp_path
):
    """One whole UTC day and the hour after it, replayed shuffled within the lateness: every
    minute the watermark has closed, and the day's rollups, equal `linepulse oee` on the same
    events. The span is fixed rather than "yesterday and today so far": the time of day the test
    runs at changes neither its length nor whether its last minutes fall in a planned break."""
    day_ms = 86_400_000
    now = int(time.time() * 1000)
    start = (now - day_ms - 7_200_000) // day_ms * day_ms
    until = start + day_ms + 3_600_000
    plant = f"days{uuid.uuid4().hex[:6]}"
    simulator = PlantSimulator(
        SimulatorSettings(plant=plant, machines=2, lines=1, seed=11, vibration_rate_hz=10),
        start,
        break_every_s=7200,
        break_length_s=600,
    )
    events = [e for e in simulator.advance(until) if not e.kind.startswith("sensor")]
    rng = random.Random(3)
    shuffled = sorted(events, key=lambda e: e.time + rng.uniform(0, 20_000))
    lateness_ms = 30_000
    settings = {
        **FAST_WINDOWS,
        **ONLY_NEW_EVENTS,
        "oee_window_s": 60,
        "allowed_lateness_s": lateness_ms // 1000,
        "idle_timeout_s": 600,
        "max_event_age_s": 4 * 86_400,
    }
    worker = WorkerProcess(kafka_bootstrap, tmp_path / "worker", **settings)
    (tmp_path / "worker").mkdir()
    worker.start()
    try:
        publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
        for event in shuffled:
            publisher.publish(event)
        publisher.flush()
        # a minute closes once the watermark (the newest event time less the lateness) passes
        # its end; one more minute of margin for the shuffle
        watermark = max(e.time for e in events) - lateness_ms
        last_closed = watermark // 60_000 * 60_000 - 60_000
        path = tmp_path / "plant.jsonl"
        path.write_bytes(b"\n".join(encode(e) for e in events))
        minutes = _batch(path, "1m", _iso(until))
        expected = {
            (r["asset"], r["window_start"]): r
            for r in minutes
            if r["window_start"] < _iso(last_closed)
        }
        rows = worker.wait_rows(
            "SELECT asset, toUnixTimestamp64Milli(window_start) AS start, availability, "
            "performance, quality, oee, planned_time_s, run_time_s, good, scrap "
            f"FROM linepulse.oee_windows FINAL WHERE provisional = 0 AND asset LIKE '{plant}/%' "
            f"AND window_start < fromUnixTimestamp64Milli({last_closed})",
            lambda r: len(r) >= len(expected),
            timeout_s=300,
        )
        assert len(rows) == len(expected) > 2 * 1440 + 2 * 30
        for row in rows:
            _assert_same(row, expected[(row["asset"], _iso(row["start"]))])
        days = {(r["asset"], r["window_start"]): r for r in _batch(path, "day", _iso(until))}
        stream_days = worker.wait_rows(
            "SELECT asset, toUnixTimestamp64Milli(window_start) AS start, availability, "
            "performance, quality, oee, planned_time_s, run_time_s, good, scrap "
            f"FROM linepulse.oee_rollups FINAL WHERE window = '1d' AND provisional = 0 "
            f"AND asset LIKE '{plant}/%' ORDER BY asset, start",
            lambda r: len(r) >= 2,
            timeout_s=60,
        )
        assert len(stream_days) == 2  # the whole day, per machine
        for row in stream_days:
            _assert_same(row, days[(row["asset"], _iso(row["start"]))])
    finally:
        worker.stop()


def _batch(path, window: str, until: str) -> list[dict]:
    out = io.StringIO()
    run_batch(path, window, "machine", None, until, out, io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _assert_same(row: dict, batch: dict) -> None:
    for name in ("availability", "performance", "quality", "oee", "planned_time_s", "run_time_s"):
        assert row[name] == pytest.approx(batch[name], abs=1e-6), (row["asset"], row["start"], name)
    assert (row["good"], row["scrap"]) == (batch["good"], batch["scrap"])
