"""Faults injected into the simulated plant raise the right alerts, which clear when the fault ends.

The simulator runs in real time (a silent sensor is noticed by the clock, not by data) and
publishes to the real broker; a worker process scores, checks and alerts.
"""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator
from connectors.simulator.run import run_realtime
from schemas import topics
from streams.settings import SimulatorSettings
from tests.integration.conftest import FAST_WINDOWS, ONLY_NEW_EVENTS, WorkerProcess, consume

pytestmark = pytest.mark.integration

# seconds after the simulator starts; with seed 8 all machines produce throughout the run
FAULTS = "spike:m1:50:6,stuck:m2:40:25,silent:m3:40:20,drift:m4:55:20"
RUN_S = 105


def episodes(alerts: list[dict]) -> dict[str, list[dict]]:
    by_id: dict[str, list[dict]] = {}
    for alert in alerts:
        by_id.setdefault(alert["alert_id"], []).append(alert)
    return by_id


def raised_within(
    alerts: list[dict], machine: str, kind: str, start_s: float, end_s: float, t0: int
) -> list[list[dict]]:
    """The episodes of `kind` on `machine` raised between `start_s` and `end_s`."""
    found = []
    for steps in episodes(alerts).values():
        first = steps[0]
        if (
            first["asset"].endswith(f"/{machine}")
            and first["alert_kind"] == kind
            and first["status"] == "raised"
            and start_s * 1000 <= first["time"] - t0 <= end_s * 1000
        ):
            found.append(steps)
    return found


def cleared_after(steps: list[dict], after_s: float, t0: int) -> bool:
    return any(s["status"] == "cleared" and s["time"] - t0 >= after_s * 1000 for s in steps)


def test_injected_faults_raise_the_right_alerts_and_clear_them_when_the_fault_ends(
    kafka_bootstrap, tmp_path, request
):
    settings = {**FAST_WINDOWS, "alert_clear_after": 5, "anomaly_scope": "asset"}
    worker = WorkerProcess(kafka_bootstrap, tmp_path, **settings, **ONLY_NEW_EVENTS)
    request.addfinalizer(worker.stop)
    worker.start()
    plant = f"faults{uuid.uuid4().hex[:6]}"
    t0 = int(time.time() * 1000)
    simulator = PlantSimulator(
        SimulatorSettings(
            plant=plant, lines=1, machines=5, vibration_rate_hz=200, seed=8, faults=FAULTS
        ),
        t0,
    )
    run_realtime(simulator, Publisher({"bootstrap.servers": kafka_bootstrap}), RUN_S)

    def ours(alert: dict) -> bool:
        return alert["asset"].startswith(f"{plant}/")

    # every expected episode has been cleared once its cleared step is on the topic
    alerts = consume(kafka_bootstrap, topics.ALERTS, ours, 10_000, timeout_s=20)

    spike = raised_within(alerts, "m1", "anomaly", 50, 56, t0)
    assert spike, f"no anomaly alert for the spike on m1: {_summary(alerts, t0)}"
    assert all(cleared_after(steps, 56, t0) for steps in spike)

    stuck = raised_within(alerts, "m2", "data_quality", 49, 65, t0)
    assert [s[0]["source"] for s in stuck] == ["m2.temperature"], _summary(alerts, t0)
    assert "stuck" in stuck[0][0]["message"]
    assert cleared_after(stuck[0], 65, t0)

    silent = raised_within(alerts, "m3", "sensor_silent", 44, 60, t0)
    assert {s[0]["source"] for s in silent} == {"m3.current", "m3.temperature", "m3.vibration"}
    assert all(cleared_after(steps, 60, t0) for steps in silent)

    drift = raised_within(alerts, "m4", "anomaly", 55, 75, t0)
    assert drift, f"no anomaly alert for the drift on m4: {_summary(alerts, t0)}"
    assert {s[0]["source"] for s in drift} & {"m4.temperature", "m4.vibration"}
    assert all(cleared_after(steps, 75, t0) for steps in drift)
    # the machine's multivariate model sees the wear too, as one episode for all its sensors
    assert "all sensors" in {steps[0]["source"] for steps in drift}
    stored = worker.wait_rows(
        "SELECT count() AS n FROM linepulse.anomaly_scores "
        f"WHERE asset = '{plant}/line1/st4/m4' AND sensor = 'all sensors' AND is_anomaly",
        lambda rows: rows[0]["n"] > 0,
    )
    assert stored[0]["n"] > 0

    # (when the simulator stops, every sensor falls silent: those alerts are not counted)
    untouched = [a for a in alerts if a["asset"].endswith("/m5") and a["time"] - t0 < RUN_S * 1000]
    assert not [a for a in untouched if a["alert_kind"] in ("data_quality", "sensor_silent")]
    # the production context travels with the alert
    assert spike[0][0]["context"]["work_order"]
    assert spike[0][0]["context"]["station"]


def _summary(alerts: list[dict], t0: int) -> list[tuple]:
    return [
        (
            round((a["time"] - t0) / 1000, 1),
            a["asset"].rsplit("/", 1)[-1],
            a["alert_kind"],
            a["status"],
            a["source"],
        )
        for a in alerts
    ]
