"""Stream and batch agree on a simulated plant whose events arrive shuffled within the allowed
lateness."""

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
WINDOW_MS = 10_000
MINUTES = 8


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """Event time alone closes these windows: a slow publisher on a busy machine must not let
    the wall clock overtake the past events being replayed (idle advance)."""
    settings = {**FAST_WINDOWS, **ONLY_NEW_EVENTS, "idle_timeout_s": 60}
    process = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("worker"), **settings)
    process.start()
    yield process
    process.stop()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def test_simulated_plant_through_the_stream_equals_the_batch_result(
    worker: WorkerProcess, tmp_path
):
    plant = f"rc{uuid.uuid4().hex[:6]}"
    start = (int(time.time() * 1000) - (MINUTES + 1) * 60_000) // WINDOW_MS * WINDOW_MS
    simulator = PlantSimulator(
        SimulatorSettings(plant=plant, machines=3, lines=2, seed=5, vibration_rate_hz=10),
        start,
        break_every_s=180,
        break_length_s=30,
    )
    events = [
        e for e in simulator.advance(start + MINUTES * 60_000) if not e.kind.startswith("sensor")
    ]
    # each event may arrive up to 1.5 s after later ones: inside the 2 s allowed lateness
    rng = random.Random(9)
    lateness_ms = FAST_WINDOWS["allowed_lateness_s"] * 1000
    shuffled = sorted(events, key=lambda e: e.time + rng.uniform(0, 0.75 * lateness_ms))
    assert shuffled != events
    publisher = Publisher({"bootstrap.servers": worker.bootstrap})
    for event in shuffled:
        publisher.publish(event)
    publisher.flush()

    until = start + (MINUTES * 60 - 150) * 1000 // WINDOW_MS * WINDOW_MS
    path = tmp_path / "plant.jsonl"
    path.write_bytes(b"\n".join(encode(e) for e in events))
    out = io.StringIO()
    run_batch(path, "10s", "machine", None, _iso(until), out, io.StringIO())
    expected = {
        (r["asset"], r["window_start"]): r for r in map(json.loads, out.getvalue().splitlines())
    }
    assert len(expected) == 3 * (until - start) // WINDOW_MS

    rows = worker.wait_rows(
        "SELECT asset, toUnixTimestamp64Milli(window_start) AS start, availability, performance, "
        "quality, oee, planned_time_s, run_time_s, good, scrap FROM linepulse.oee_windows FINAL "
        f"WHERE provisional = 0 AND asset LIKE '{plant}/%' "
        f"AND window_start < fromUnixTimestamp64Milli({until})",
        lambda r: len(r) == len(expected),
        timeout_s=150,
    )
    late = worker.query(
        "SELECT count() AS n, groupUniqArray(5)(reason) AS why FROM linepulse.dead_letters "
        f"WHERE key LIKE '{plant}/%'"
    )
    assert late[0]["n"] == 0, late
    for row in rows:
        batch = expected[(row["asset"], _iso(row["start"]))]
        for name in (
            "availability",
            "performance",
            "quality",
            "oee",
            "planned_time_s",
            "run_time_s",
        ):
            assert row[name] == pytest.approx(batch[name], abs=1e-6), (
                row["asset"],
                row["start"],
                name,
            )
        assert (row["good"], row["scrap"]) == (batch["good"], batch["scrap"])
