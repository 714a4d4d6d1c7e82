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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator
from connectors.simulator.run import run_through_devices
from connectors.topics import consumer_lag, ensure_topics
from schemas import topics
from schemas.exceptions import LinePulseError
from streams.commands.brokers import RunningBroker, free_port, start_tansu
from streams.commands.demo_view import (
    ALERTS_SQL,
    CONDITION_SQL,
    COUNTS_SQL,
    LINE_OEE_SQL,
    LIVE_OEE_SQL,
    line_oee_table,
    machine_oee_table,
)
from streams.commands.query_client import query_worker
from streams.settings import KafkaSettings, SimulatorSettings, StoreSettings
from streams.store.clickhouse import StoreError, open_store, query_rows
from streams.store.owner import running_owner


@dataclass
class DemoOptions:
    """How long the demo runs, on which broker, how often it sends a bad event, and whether it
    moves an earlier run's data dir aside first."""

    duration_s: float | None
    broker: str = "tansu"
    bad_event_every_s: float = 30.0
    fresh: bool = False


class DemoError(LinePulseError):
    """The demo cannot start with the data dir it was given."""


def _aside_name(data_dir: Path, now: datetime) -> Path:
    stem = f"{data_dir.name}.old-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    target = data_dir.with_name(stem)
    number = 2
    while target.exists():
        target = data_dir.with_name(f"{stem}-{number}")
        number += 1
    return target


def refuse_owned_data_dir(data_dir: Path) -> None:
    """Raise DemoError when a running worker owns `data_dir`: the demo's own worker could not
    open the store there."""
    owner = running_owner(data_dir)
    if owner is not None:
        msg = (
            f"{data_dir} is in use by a running worker (pid {owner['pid']}): stop that worker, "
            "or give --data-dir another directory"
        )
        raise DemoError(msg)


def prepare_data_dir(data_dir: Path, fresh: bool, now: datetime) -> str | None:
    """With `fresh`, move an earlier run's data dir aside to `<dir>.old-<UTC time>`; without,
    leave it. Returns the one line to say about it (None when there was no earlier data).
    A data dir a running worker owns is refused either way (chdb lets one process open it)."""
    refuse_owned_data_dir(data_dir)
    if not data_dir.is_dir() or not any(data_dir.iterdir()):
        return None
    if not fresh:
        return (
            f"linepulse demo: appending to the existing data in {data_dir} (its counts include "
            "earlier runs); --fresh moves it aside and starts clean"
        )
    source = data_dir.absolute()
    if not source.name:
        msg = f"cannot move {data_dir} aside: give --data-dir a directory of its own"
        raise DemoError(msg)
    target = _aside_name(source, now)
    source.rename(target)
    return f"linepulse demo: moved the earlier data from {data_dir} to {target}; starting clean"


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
    # a demo lasts minutes, not hours: trend points of 5 s, a forecast after one minute
    env.setdefault("LINEPULSE_VIBRATION_TREND_STEP_S", "5")
    env.setdefault("LINEPULSE_VIBRATION_TREND_MIN_POINTS", "12")
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
    def block(
        title: str, sql: str, table: Callable[[list[dict[str, Any]]], str] | None = None
    ) -> str:
        """A titled section with the worker's answer to `sql` (drawn by `table` from its rows
        when given), or why there is none yet."""
        try:
            if table is None:
                body = query_worker(owner, sql, "table", timeout_s=10).decode().rstrip()
            else:
                answer = query_worker(owner, sql, "json", timeout_s=10)
                body = table([orjson.loads(line) for line in answer.splitlines() if line.strip()])
        except (StoreError, OSError) as exc:
            body = f"  (not available yet: {exc})"
        return f"{title}\n{body or '  (nothing yet)'}"

    header = (
        f"LinePulse demo — {elapsed:5.0f} s — {published} events published, {rate:,.0f} events/s"
    )
    return "\n\n".join(
        [
            header,
            block(
                "OEE per machine (latest window; live = provisional)",
                LIVE_OEE_SQL,
                machine_oee_table,
            ),
            block("OEE per line (closed windows)", LINE_OEE_SQL, line_oee_table),
            block("Machine condition (ISO zone, bearing, forecast)", CONDITION_SQL),
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
    said = prepare_data_dir(store.data_dir, options.fresh, datetime.now(UTC))
    if said is not None:
        print(said, flush=True)
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
            print(line_oee_table(query_rows(store, LINE_OEE_SQL)) or "  (none)")
            print(store.query_bytes(COUNTS_SQL, "PrettyCompactMonoBlock").decode())
        finally:
            store.close()
    print(
        f"Data is in {settings.data_dir}; query it with: "
        f'linepulse query --data-dir {settings.data_dir} "SELECT ..."'
    )
