"""Real components for integration tests: Apache Kafka (KRaft) and a LinePulse worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.loopback import free_port_block
from connectors.topics import ensure_topics
from streams.commands.brokers import KafkaBroker, free_port
from streams.commands.query_client import query_worker
from streams.store.owner import running_owner

PARTITIONS = 2


def started_broker() -> Iterator[str]:
    """A real single-node Kafka with LinePulse's topics, or the broker named by
    LINEPULSE_TEST_BOOTSTRAP; yields its bootstrap address (for fixtures)."""
    external = os.environ.get("LINEPULSE_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    broker = KafkaBroker.create()
    broker.start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, PARTITIONS)
        yield broker.bootstrap
    finally:
        broker.remove()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The broker the integration tests share."""
    yield from started_broker()


def health_at(port: int) -> dict:
    """What a worker process answers on /health at `port` ({} while nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as not_ready:  # 503 with the same body
        return json.loads(not_ready.read())
    except Exception:  # noqa: BLE001 - not up yet
        return {}


class WorkerProcess:
    def __init__(self, bootstrap: str, data_dir: Path, **settings: object) -> None:
        self.bootstrap = bootstrap
        self.data_dir = data_dir
        self.processes = int(str(settings.get("processes", 1)))
        self.port = free_port_block(1 + self.processes) if self.processes > 1 else free_port()
        self.app_id = f"test-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "LINEPULSE_KAFKA_BOOTSTRAP": bootstrap,
            "LINEPULSE_KAFKA_PARTITIONS": str(PARTITIONS),
            "LINEPULSE_DATA_DIR": str(data_dir),
            "LINEPULSE_WEB_PORT": str(self.port),
            "LINEPULSE_APP_ID": self.app_id,
            **{f"LINEPULSE_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120, wait_ready: bool = True) -> None:
        log = open(self.data_dir / "worker.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.commands.cli", "worker"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        if not wait_ready:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early\n{self.log_tail()}")
            owns_store = "LINEPULSE_CLICKHOUSE_URL" in self.env or running_owner(self.data_dir)
            if owns_store and self.health().get("ready"):
                return
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"worker not ready in {timeout_s} s\n{self.log_tail()}")

    def health(self) -> dict:
        return health_at(self.port)

    @property
    def compute_ports(self) -> list[int]:
        """The HTTP ports of the compute processes (--processes above 1), after the store's."""
        return [self.port + 1 + i for i in range(self.processes)] if self.processes > 1 else []

    def wait_compute_ready(self, timeout_s: float = 180) -> None:
        """Wait until every compute process is ready, so that nothing is timed through the
        group's first rebalances."""
        deadline = time.monotonic() + timeout_s
        while not all(health_at(port).get("ready") for port in self.compute_ports):
            assert time.monotonic() < deadline, "the worker's compute processes are not ready"
            time.sleep(0.5)

    def feed_events(self) -> int:
        """MES and sensor-spec events the worker's whole-topic feeds have applied so far."""
        return int(self.health().get("feed_events", 0))

    def wait_feed_events(self, at_least: int, what: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.feed_events() < at_least:
            assert time.monotonic() < deadline, f"the feeds did not read {what}"
            time.sleep(0.3)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name: str) -> float:
        """The value of the sample `name` (with its labels, if it has any) the worker exposes."""
        values = [
            line.split()[-1] for line in self.metrics().splitlines() if line.split(" ")[0] == name
        ]
        assert values, f"{name} is not exposed"
        return float(values[0])

    def query(self, sql: str) -> list[dict]:
        owner = running_owner(self.data_dir)
        assert owner, "the worker does not own the store"
        raw = query_worker(owner, sql, "json")
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]

    def wait_rows(
        self, sql: str, predicate: Callable[[list[dict]], bool], timeout_s: float = 90
    ) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        rows: list[dict] = []
        while time.monotonic() < deadline:
            rows = self.query(sql)
            if predicate(rows):
                return rows
            time.sleep(0.5)
        raise AssertionError(
            f"condition not met in {timeout_s} s; {len(rows)} rows, the last: {rows[-3:]}\n"
            f"{self.log_tail()}"
        )

    def log_tail(self) -> str:
        path = self.data_dir / "worker.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


FAST_WINDOWS = {
    "oee_window_s": 10,
    "allowed_lateness_s": 2,
    "idle_timeout_s": 1,
    "tick_interval_s": 0.5,
    "provisional_every_s": 2,
    "anomaly_warmup": 30,
    "anomaly_window": 200,
    "sink_batch_s": 0.3,
    "quality_stuck_after_s": 10,
    "machine_down_after_s": 15,
    "oee_target": 0.5,
}


# Tests share one broker: a fresh worker reading the other tests' history (events stamped
# "now" when they ran) would see its partition watermarks pushed past the events it is given.
ONLY_NEW_EVENTS = {"auto_offset_reset": "latest"}


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        kafka_bootstrap, tmp_path_factory.mktemp("worker"), **FAST_WINDOWS, **ONLY_NEW_EVENTS
    )
    process.start()
    yield process
    process.stop()


def consume(
    bootstrap: str, topic: str, predicate: Callable[[dict], bool], count: int, timeout_s: float = 60
) -> list[dict]:
    """Read `topic` from the start until `count` JSON messages match `predicate`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(found) < count:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = orjson.loads(message.value())
            if predicate(value):
                found.append(value)
    finally:
        consumer.close()
    return found


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The next offset to be written, per partition of `topic`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()


def committed_offsets(
    bootstrap: str, group: str, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The offset `group` committed on each (topic, partition); negative where it has none."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for topic, p in partitions]
        return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def wait_committed(
    bootstrap: str, group: str, wanted: dict[tuple[str, int], int], timeout_s: float = 30
) -> None:
    """Wait until `group` has committed at least the given offset of each topic partition (a
    worker killed after that resumes exactly behind what it processed)."""
    committed: dict[tuple[str, int], int] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        committed = committed_offsets(bootstrap, group, wanted)
        if all(committed[key] >= offset for key, offset in wanted.items()):
            return
        time.sleep(0.5)
    raise AssertionError(f"group {group} committed {committed}, not yet {wanted}")
