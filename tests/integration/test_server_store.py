"""The ClickHouse-server code path (clickhouse-connect over HTTP) and a ClickHouse outage.

No ClickHouse server can be installed here: the real engine (chdb) is served over ClickHouse's
HTTP interface by tests/chdb_http.py, which can be stopped and started again like a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.publisher import Publisher
from schemas.events import SensorReading
from streams.commands.brokers import free_port, terminate
from streams.settings import StoreSettings
from streams.store.clickhouse import ServerStore, StoreError, query_rows
from tests.integration.conftest import FAST_WINDOWS, ONLY_NEW_EVENTS, WorkerProcess

pytestmark = pytest.mark.integration


class ChdbServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.chdb_http",
                "--port",
                str(self.port),
                "--path",
                str(self.path),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"serving"

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, 10)
            self.process = None

    def store(self) -> ServerStore:
        return ServerStore(StoreSettings(clickhouse_url=self.url))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChdbServer]:
    started = ChdbServer(tmp_path / "server")
    started.start()
    try:
        yield started
    finally:
        started.stop()


def _linepulse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def _stored_readings(server: ChdbServer, asset: str) -> dict:
    """How many readings of `asset` the server holds, and how many distinct event ids."""
    store = server.store()
    try:
        return query_rows(
            store,
            "SELECT count() AS n, uniqExact(event_id) AS ids FROM linepulse.sensor_readings "
            f"WHERE asset = '{asset}'",
        )[0]
    finally:
        store.close()


def test_db_migrate_prepares_a_server_and_a_worker_refuses_an_unmigrated_one(server, tmp_path):
    env = {"LINEPULSE_CLICKHOUSE_URL": server.url}
    version = _linepulse("db", "version", env=env)
    assert version.stdout.strip() == "schema version: 0", version.stdout + version.stderr
    migrated = _linepulse("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    again = _linepulse("db", "migrate", env=env)
    assert "applied: nothing" in again.stdout
    store = server.store()
    try:
        with pytest.raises(StoreError, match="UNKNOWN_TABLE|does not exist"):
            store.query_bytes("SELECT * FROM linepulse.nope")
    finally:
        store.close()


def test_clickhouse_away_for_a_while_loses_no_rows(kafka_bootstrap, server, tmp_path, request):
    assert _linepulse("db", "migrate", env={"LINEPULSE_CLICKHOUSE_URL": server.url}).returncode == 0
    asset = f"away{uuid.uuid4().hex[:6]}/l1/s1/m1"
    start = int(time.time() * 1000) - 60_000

    def readings(first: int, count: int) -> list[SensorReading]:
        return [
            SensorReading(time=start + i * 10, asset=asset, sensor="temp", value=float(i % 50))
            for i in range(first, first + count)
        ]

    worker = WorkerProcess(
        kafka_bootstrap, tmp_path / "worker", clickhouse_url=server.url, **FAST_WINDOWS
    )
    worker.data_dir.mkdir()
    request.addfinalizer(worker.stop)
    worker.start()
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})

    def stored() -> dict:
        return _stored_readings(server, asset)

    def wait_for(predicate, what: str, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise AssertionError(f"{what} not seen in {timeout_s} s\n{worker.log_tail()}")

    for event in readings(0, 1000):
        publisher.publish(event)
    publisher.flush()
    wait_for(lambda: stored()["n"] == 1000, "the first readings")

    server.stop()
    for event in readings(1000, 1500):
        publisher.publish(event)
    publisher.flush()
    wait_for(
        lambda: worker.health().get("clickhouse", "").startswith("unreachable"),
        "the worker reporting ClickHouse unreachable",
    )
    time.sleep(3)  # a few retries with backoff
    server.start()
    wait_for(lambda: stored()["n"] >= 2500, "the readings held while ClickHouse was away", 240)
    time.sleep(2)
    assert stored() == {"n": 2500, "ids": 2500}
    wait_for(lambda: worker.health().get("ready"), "the worker ready again")
    assert "linepulse_sink_retries_total" in worker.metrics()


def test_a_worker_started_while_clickhouse_is_away_stores_its_whole_backlog_when_it_returns(
    kafka_bootstrap, server, tmp_path, request
):
    """The sink waits for the store to open while the other agents read the same messages: it
    must still get every one of them (it lost all that was fetched before it began reading,
    until it started reading at once)."""
    assert _linepulse("db", "migrate", env={"LINEPULSE_CLICKHOUSE_URL": server.url}).returncode == 0
    asset = f"late{uuid.uuid4().hex[:6]}/l1/s1/m1"
    start = int(time.time() * 1000) - 60_000
    publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
    settings = {**FAST_WINDOWS, "clickhouse_url": server.url, "commit_interval_s": 1}
    first = WorkerProcess(kafka_bootstrap, tmp_path / "worker", **settings, **ONLY_NEW_EVENTS)
    first.data_dir.mkdir()
    request.addfinalizer(first.stop)
    first.start()

    def stored() -> dict:
        return _stored_readings(server, asset)

    def wait_stored(count: int) -> None:
        deadline = time.monotonic() + 120
        while stored()["n"] < count and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # any duplicate would be inserted by now

    def publish(first_index: int, count: int) -> None:
        for i in range(first_index, first_index + count):
            reading = SensorReading(time=start + i * 10, asset=asset, sensor="temp", value=1.0)
            publisher.publish(reading)
        publisher.flush()

    publish(0, 1)
    wait_stored(1)
    time.sleep(2)  # its position is committed
    first.stop()

    server.stop()
    publish(1, 2999)
    second = WorkerProcess(kafka_bootstrap, tmp_path / "worker", **settings)
    second.app_id = second.env["LINEPULSE_APP_ID"] = first.app_id
    request.addfinalizer(second.stop)
    second.start(wait_ready=False)
    time.sleep(15)  # the agents read the backlog meanwhile, and the offsets are committed
    server.start()
    wait_stored(3000)
    flow = [
        line
        for line in second.metrics().splitlines()
        if "sensor.readings" in line and not line.startswith("#") and "_created" not in line
    ]
    assert stored() == {"n": 3000, "ids": 3000}, "\n".join(flow)
