"""`linepulse demo`: broker, simulated plant, worker and store in one command, with a live view."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator
from connectors.simulator.run import run_through_devices
from connectors.topics import consumer_lag, ensure_topics
from schemas import topics
from streams.commands.brokers import RunningBroker, free_port, start_tansu
from streams.commands.query_client import query_worker
from streams.settings import KafkaSettings, SimulatorSettings, StoreSettings
from streams.store.clickhouse import StoreError, open_store
from streams.store.owner import running_owner

LIVE_OEE_SQL = """
SELECT asset, window_start AS window, provisional AS live, round(availability, 3) AS A,
       round(performance, 3) AS P, round(quality, 3) AS Q, round(oee, 3) AS OEE, total AS parts
FROM linepulse.oee_windows
ORDER BY asset, window_start DESC, version DESC LIMIT 1 BY asset
"""
LINE_OEE_SQL = """
SELECT arrayStringConcat(arraySlice(splitByChar('/', asset), 1, 2), '/') AS line,
       round(sum(run_time_s) / nullIf(sum(planned_time_s), 0), 3) AS A,
       round(sum(ideal_time_s) / nullIf(sum(run_time_s), 0), 3) AS P,
       round(sum(good) / nullIf(sum(total), 0), 3) AS Q,
       round(A * P * Q, 3) AS OEE, sum(total) AS parts
FROM linepulse.oee_windows FINAL WHERE provisional = 0 GROUP BY line ORDER BY line
"""
ALERTS_SQL = """
SELECT formatDateTime(time, '%H:%i:%S') AS at, alert_kind AS kind, status, severity, asset, source
FROM linepulse.alerts ORDER BY time DESC LIMIT 6
"""
COUNTS_SQL = """
SELECT (SELECT count() FROM linepulse.dead_letters) AS dead_letters,
       (SELECT count() FROM linepulse.alerts) AS alert_steps,
       (SELECT count() FROM linepulse.sensor_readings) AS readings,
       (SELECT count() FROM linepulse.sensor_seconds) AS vibration_seconds,
       (SELECT count() FROM linepulse.oee_windows FINAL WHERE provisional = 0) AS closed_windows
"""


@dataclass
class DemoOptions:
    """How long the demo runs, on which broker, and how often it sends a bad event."""

    duration_s: float | None
    broker: str = "tansu"
    bad_event_every_s: float = 30.0


def _start_worker(
    kafka: KafkaSettings, store: StoreSettings, port: int, log_path: Path, app_id: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LINEPULSE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "LINEPULSE_KAFKA_PARTITIONS": str(kafka.partitions),
        "LINEPULSE_DATA_DIR": str(store.data_dir),
        "LINEPULSE_WEB_PORT": str(port),
        "LINEPULSE_APP_ID": app_id,
    }
    env.setdefault("LINEPULSE_ALLOWED_LATENESS_S", "5")
    env.setdefault("LINEPULSE_ANOMALY_WARMUP", "30")
    env.setdefault("LINEPULSE_MACHINE_DOWN_AFTER_S", "120")
    env.setdefault("LINEPULSE_OEE_TARGET", "0.6")
    log = open(log_path, "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "streams.commands.cli", "worker"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def _wait_for_owner(
    store: StoreSettings, worker: subprocess.Popen[bytes], timeout_s: float
) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            msg = (
                f"the worker exited with code {worker.returncode}; see {store.data_dir}/worker.log"
            )
            raise StoreError(msg)
        owner = running_owner(store.data_dir)
        if owner is not None:
            return owner
        time.sleep(0.3)
    log_path = store.data_dir / "worker.log"
    msg = f"the worker did not open the store within {timeout_s:.0f} s; see {log_path}"
    raise StoreError(msg)


def _render(owner: dict, published: int, rate: float, elapsed: float) -> str:
    def block(title: str, sql: str) -> str:
        """A titled section with the worker's answer to `sql`, or why there is none yet."""
        try:
            body = query_worker(owner, sql, "table", timeout_s=10).decode().rstrip()
        except (StoreError, OSError) as exc:
            body = f"  (not available yet: {exc})"
        return f"{title}\n{body or '  (nothing yet)'}"

    header = (
        f"LinePulse demo — {elapsed:5.0f} s — {published} events published, {rate:,.0f} events/s"
    )
    return "\n\n".join(
        [
            header,
            block("OEE per machine (latest window; live = provisional)", LIVE_OEE_SQL),
            block("OEE per line (closed windows)", LINE_OEE_SQL),
            block("Latest alerts", ALERTS_SQL),
            block("Counts (dead letters = rejected input)", COUNTS_SQL),
        ]
    )


def _bad_event(now_ms: int) -> bytes:
    """What a misconfigured PLC sends: a reading whose value is text, not a number."""
    return orjson.dumps(
        {
            "kind": "sensor.reading",
            "time": now_ms,
            "asset": "plant1/line1/st1/m1",
            "sensor": "m1.temperature",
            "value": "41,7 °C",
        }
    )


def _drain(kafka: KafkaSettings, app_id: str, timeout_s: float) -> int:
    names = [t.name for t in topics.topic_specs(kafka.partitions) if t.name != topics.WINDOW_TICKS]
    deadline = time.monotonic() + timeout_s
    lag = -1
    while time.monotonic() < deadline:
        lag = consumer_lag(kafka.confluent_config(), app_id, names)
        if lag == 0:
            return 0
        time.sleep(1.0)
    return lag


def run_demo(
    options: DemoOptions,
    kafka: KafkaSettings,
    store: StoreSettings,
    simulator_settings: SimulatorSettings,
) -> int:
    """Run the worker and the simulated plant until the duration or Ctrl-C, then print a summary."""
    store.data_dir.mkdir(parents=True, exist_ok=True)
    broker: RunningBroker | None = None
    if options.broker == "tansu":
        broker = start_tansu(log_path=store.data_dir / "broker.log")
        kafka = kafka.model_copy(update={"bootstrap": broker.bootstrap})
    app_id = f"linepulse-demo-{int(time.time())}"
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = None
    try:
        ensure_topics(kafka.confluent_config(), kafka.partitions)
        port = free_port()
        worker = _start_worker(kafka, store, port, store.data_dir / "worker.log", app_id)
        owner = _wait_for_owner(store, worker, 90)
        published = _simulate(options, kafka, simulator_settings, owner, stop)
        print(
            f"\nstopping: {published} events published ({_through_protocols()}); "
            "waiting for the worker to store them",
            flush=True,
        )
        lag = _drain(kafka, app_id, 90)
        if lag:
            print(
                f"warning: {lag} messages were still unprocessed when the demo stopped", flush=True
            )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
        if broker is not None:
            broker.stop()
    _print_summary(store)
    return 0


def _simulate(
    options: DemoOptions,
    kafka: KafkaSettings,
    settings: SimulatorSettings,
    owner: dict,
    stop: threading.Event,
) -> int:
    """The simulated plant in real time; current and temperature through its OPC UA and Modbus
    servers and LinePulse's connectors, everything else published directly."""
    now = int(time.time() * 1000)
    simulator = PlantSimulator(settings, now - now % 1000)
    publisher = Publisher(kafka.confluent_config())
    interactive = sys.stdout.isatty()
    started = time.monotonic()
    view = {"at": started, "sent": 0, "bad_at": started - options.bad_event_every_s + 10}

    def on_step(sent: int) -> None:
        """Send a bad event now and then and redraw the dashboard, after each simulation step."""
        clock = time.monotonic()
        if clock - view["bad_at"] >= options.bad_event_every_s:
            publisher.send(
                topics.SENSOR_READINGS, "plant1/line1/st1/m1", _bad_event(int(time.time() * 1000))
            )
            view["bad_at"] = clock
        if clock - view["at"] >= (2.0 if interactive else 10.0):
            rate = (sent - view["sent"]) / (clock - view["at"])
            text = _render(owner, sent, rate, clock - started)
            print(("\x1b[2J\x1b[H" if interactive else "\n") + text, flush=True)
            view["at"], view["sent"] = clock, sent

    return asyncio.run(run_through_devices(simulator, publisher, options.duration_s, stop, on_step))


def _counted(metric_name: str) -> float:
    """The sum of a Prometheus counter over all its labels, in this process."""
    from prometheus_client import REGISTRY

    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == metric_name
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _through_protocols() -> str:
    updates = _counted("linepulse_opcua_updates")
    reads = _counted("linepulse_modbus_requests")
    return f"{updates:.0f} OPC UA updates and {reads:.0f} Modbus reads by the connectors"


def _print_summary(settings: StoreSettings) -> None:
    with contextlib.suppress(StoreError):
        store = open_store(settings)
        try:
            print("\nClosed OEE windows per line:")
            print(store.query_bytes(LINE_OEE_SQL, "PrettyCompactMonoBlock").decode())
            print(store.query_bytes(COUNTS_SQL, "PrettyCompactMonoBlock").decode())
        finally:
            store.close()
    print(
        f"Data is in {settings.data_dir}; query it with: "
        f'linepulse query --data-dir {settings.data_dir} "SELECT ..."'
    )
