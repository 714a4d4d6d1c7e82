"""End-to-end benchmark: vibration sample batches through Kafka, the worker and ClickHouse.

    python load/bench.py --seconds 60 --json OUT.json

Phase 1 (70 % of --seconds): a producer offers batches as fast as it can while a worker runs;
the worker's committed offsets give the pipeline's rate. Phase 2 (30 %): batches at half that
rate, with spikes injected, give the latency from an event's creation to its ClickHouse row and
to its alert. Last, a bare confluent-kafka consumer reads the same bytes from the same broker,
in the same run, for the ratio pipeline/bare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import report  # noqa: E402

from connectors.publisher import producer_config  # noqa: E402
from connectors.topics import ensure_topics  # noqa: E402
from schemas import topics  # noqa: E402
from schemas.binary import FIXED, MAGIC  # noqa: E402
from streams.commands.brokers import KafkaBroker  # noqa: E402
from tests.integration.conftest import WorkerProcess  # noqa: E402

PARTITIONS = 4
SPIKED_SENSORS = 10


class BatchFactory:
    """Pre-encoded sample arrays; each message gets its own id and creation time. `binary`:
    LPSB float32 batches (schemas/binary.py), else JSON `sensor.batch` messages."""

    def __init__(self, sensors: int, rate_hz: int, seed: int = 1, binary: bool = True) -> None:
        rng = np.random.default_rng(seed)
        t = np.arange(rate_hz) / rate_hz
        self.rate_hz = rate_hz
        self.binary = binary
        self.sensors = [
            (f"bench/line{i % 4}/st{i}/m{i}", f"m{i}.vibration") for i in range(sensors)
        ]
        normal = [
            np.round(np.sin(2 * np.pi * 50 * t + k) + rng.normal(0, 0.1, rate_hz), 4)
            for k in range(8)
        ]
        spike = np.round(8 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 1, rate_hz), 4)
        self.normal = [self._samples(v) for v in normal]
        self.spike = self._samples(spike)

    def _samples(self, values: np.ndarray) -> bytes:
        if self.binary:
            return values.astype("<f4").tobytes()
        return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)

    def message(
        self, index: int, sensor: int, time_ms: int, spike: bool = False
    ) -> tuple[str, str, bytes]:
        asset, name = self.sensors[sensor]
        event_id = uuid.uuid4().hex
        values = self.spike if spike else self.normal[index % len(self.normal)]
        if self.binary:
            meta = f'{{"asset":"{asset}","sensor":"{name}","id":"{event_id}","unit":"g"}}'.encode()
            fixed = FIXED.pack(MAGIC, 1, 1, len(meta), self.rate_hz, time_ms, self.rate_hz, 1.0)
            return asset, event_id, fixed + meta + values
        head = (
            f'{{"kind":"sensor.batch","id":"{event_id}","time":{time_ms},"asset":"{asset}",'
            f'"sensor":"{name}","sample_rate_hz":{self.rate_hz},"unit":"g","values":'
        ).encode()
        return asset, event_id, head + values + b"}"


def produce_for(
    producer: Producer,
    factory: BatchFactory,
    seconds: float,
    per_second: float,
    created: dict[str, int],
    by_time: dict[tuple[str, int], int],
    spikes_every_s: float | None = None,
) -> tuple[int, int]:
    """Send batches for `seconds` at `per_second`, each stamped with the current second as a
    sensor gateway would; the first SPIKED_SENSORS get 5 s of spikes every `spikes_every_s`."""
    started = time.monotonic()
    sent = sent_bytes = 0
    spike_until = 0.0
    next_spike = started + (spikes_every_s or 1e12)
    while time.monotonic() - started < seconds:
        due = started + sent / per_second
        if time.monotonic() < due:
            time.sleep(max(0.0, min(0.005, due - time.monotonic())))
            continue
        if time.monotonic() >= next_spike:
            spike_until = time.monotonic() + 5
            next_spike = time.monotonic() + (spikes_every_s or 1e12)
        sensor = sent % len(factory.sensors)
        now_ms = int(time.time() * 1000)
        event_time = now_ms - now_ms % 1000
        spike = sensor < SPIKED_SENSORS and time.monotonic() < spike_until
        asset, event_id, value = factory.message(sent, sensor, event_time, spike=spike)
        while True:
            try:
                producer.produce(topics.SENSOR_BATCHES, value=value, key=asset.encode())
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        created[event_id] = now_ms
        by_time.setdefault((asset, event_time), now_ms)
        sent += 1
        sent_bytes += len(value)
    producer.flush(60)
    return sent, sent_bytes


class AlertListener(threading.Thread):
    """Records when each alert arrives on the alert topic."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"al-{uuid.uuid4().hex}",
                "auto.offset.reset": "latest",
            }
        )
        self.consumer.subscribe([topics.ALERTS])
        self.arrivals: list[tuple[dict, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            message = self.consumer.poll(0.2)
            if message is not None and not message.error():
                self.arrivals.append((orjson.loads(message.value()), int(time.time() * 1000)))
        self.consumer.close()


def committed(bootstrap: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topics.SENSOR_BATCHES, p) for p in range(PARTITIONS)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=10))
    finally:
        consumer.close()


def end_offsets(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topics.SENSOR_BATCHES, p), timeout=10)[1]
            for p in range(PARTITIONS)
        )
    finally:
        consumer.close()


def bare_read(bootstrap: str, messages: int) -> tuple[float, int]:
    """A bare consumer reading `messages` batches: (seconds, bytes)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
        }
    )
    consumer.subscribe([topics.SENSOR_BATCHES])
    read = total = 0
    started = None
    deadline = time.monotonic() + 300
    while read < messages and time.monotonic() < deadline:
        for message in consumer.consume(1000, 1.0):
            if message.error():
                continue
            if started is None:
                started = time.monotonic()
            read += 1
            total += len(message.value())
    consumer.close()
    return (time.monotonic() - (started or time.monotonic())), total


def pipeline_backlog(broker: KafkaBroker, data_dir: Path, messages: int) -> float | None:
    """A fresh worker (its own group) reading the backlog of `messages` batches: batches per
    second, from its first committed offset to its last (its start-up left out)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    worker = _worker(broker.bootstrap, data_dir)
    start_worker(worker)
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = committed(broker.bootstrap, worker.app_id)
            if done > 0 and first is None:
                first = (time.monotonic(), done)
            if done >= messages:
                break
            time.sleep(0.5)
        if first is None or done <= first[1]:
            return None
        return (done - first[1]) / (time.monotonic() - first[0])
    finally:
        worker.stop()


def peer_run(python: str, script: str, bootstrap: str, messages: int) -> float | None:
    """Batches per second of a peer (`load/minimal_loop.py`, `load/quix_app.py`) reading the
    backlog of `messages` batches in a group of its own; None when it failed."""
    data_dir = Path(tempfile.mkdtemp(prefix="linepulse-peer-"))
    command = [
        python,
        str(Path(__file__).with_name(script)),
        "--bootstrap",
        bootstrap,
        "--group",
        f"peer-{uuid.uuid4().hex}",
        "--messages",
        str(messages),
        "--data-dir",
        str(data_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        print(f"{script} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["messages"] / result["seconds"] if result["seconds"] > 0 else None


QUIX = "quixstreams==3.28.1"


def quix_python() -> str:
    """The Python of a virtualenv with Quix Streams (pinned; made once under load/out)."""
    venv = Path(__file__).with_name("out") / "quix-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        packages = [QUIX, "chdb", "river", "scipy", "numpy", "orjson", "pyyaml"]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return str(python)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


WORKER_PROCESSES = 1  # --processes


def _worker(bootstrap: str, data_dir: Path, **settings: object) -> WorkerProcess:
    settings = {
        "anomaly_warmup": 20,
        "sink_batch_s": 0.5,
        "processes": WORKER_PROCESSES,
        **settings,
    }
    worker = WorkerProcess(bootstrap, data_dir, **settings)
    worker.env["LINEPULSE_KAFKA_PARTITIONS"] = str(PARTITIONS)
    worker.env["LINEPULSE_LOG_LEVEL"] = "warning"
    return worker


def start_worker(worker: WorkerProcess, timeout_s: float = 180) -> None:
    """Start the worker and wait until each of its compute processes (--processes) is ready
    too, so that no phase is timed through the group's first rebalances."""
    worker.start(timeout_s)
    worker.wait_compute_ready(timeout_s)


def throughput_phase(
    broker: KafkaBroker, data_dir: Path, factory: BatchFactory, seconds: float, offer: float
) -> dict:
    """Offer `offer` batches/s for `seconds` to a running worker; its committed offsets say
    how many it processed."""
    worker = _worker(broker.bootstrap, data_dir)
    start_worker(worker)
    producer = Producer(producer_config({"bootstrap.servers": broker.bootstrap}))
    try:
        before = committed(broker.bootstrap, worker.app_id)
        started = time.monotonic()
        sent, sent_bytes = produce_for(producer, factory, seconds, offer, {}, {})
        time.sleep(3)  # offsets are committed every few seconds
        elapsed = time.monotonic() - started
        processed = committed(broker.bootstrap, worker.app_id) - before
    finally:
        worker.stop()
    return {"sent": sent, "bytes": sent_bytes, "elapsed": elapsed, "processed": processed}


def latency_phase(
    broker: KafkaBroker, data_dir: Path, factory: BatchFactory, seconds: float, rate: float
) -> dict:
    """A fresh worker reading from the end of the topics, at a rate it can carry, with spikes."""
    worker = _worker(broker.bootstrap, data_dir, auto_offset_reset="latest", anomaly_warmup=8)
    start_worker(worker)
    producer = Producer(producer_config({"bootstrap.servers": broker.bootstrap}))
    created: dict[str, int] = {}
    by_time: dict[tuple[str, int], int] = {}
    listener = AlertListener(broker.bootstrap)
    listener.start()
    try:
        time.sleep(2)
        # spikes on the first SPIKED_SENSORS, after the 8-observation warm-up
        sent, _ = produce_for(
            producer, factory, seconds, rate, created, by_time, spikes_every_s=max(seconds / 3, 10)
        )
        time.sleep(5)
        listener.stop.set()
        listener.join(10)
        ids = list(created)
        rows: list[dict] = []
        for chunk in range(0, len(ids), 2000):
            id_list = ",".join(f"'{i}'" for i in ids[chunk : chunk + 2000])
            rows += worker.query(
                "SELECT event_id, toUnixTimestamp64Milli(min(inserted_at)) AS at "
                f"FROM linepulse.sensor_seconds WHERE event_id IN ({id_list}) GROUP BY event_id"
            )
    finally:
        worker.stop()
    raised = [(a, at) for a, at in listener.arrivals if a.get("status") == "raised"]
    spiked = {asset for asset, _ in factory.sensors[:SPIKED_SENSORS]}
    return {
        "sent": sent,
        "alerts_on_spiked_sensor": sum(1 for a, _ in raised if a["asset"] in spiked),
        "alerts_on_other_sensors": sum(1 for a, _ in raised if a["asset"] not in spiked),
        "alert_kinds": dict(
            Counter(
                f"{a['alert_kind']} on {'spiked' if a['asset'] in spiked else 'other'} sensors"
                for a, _ in raised
            )
        ),
        "row_latency": [r["at"] - created[r["event_id"]] for r in rows],
        "alert_latency": [
            at - by_time[(a["asset"], a["time"])]
            for a, at in raised
            if (a["asset"], a["time"]) in by_time
        ],
    }


def run(
    seconds: float,
    sensors: int,
    rate_hz: int,
    offer_mbps: float,
    out: Path | None,
    binary: bool = True,
    peers: bool = False,
) -> dict:
    """`sensors` 0: as many sensors as it takes to offer `offer_mbps` with one batch per sensor
    per second, as a plant's gateways would send them."""
    broker = KafkaBroker.create()
    broker.start()
    data_dir = Path(tempfile.mkdtemp(prefix="linepulse-bench-"))
    size = len(BatchFactory(1, rate_hz, binary=binary).message(0, 0, 0)[2])
    offer = offer_mbps * 1e6 / size
    sensors = sensors or max(1, round(offer))
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, PARTITIONS)
        first = throughput_phase(
            broker, data_dir, BatchFactory(sensors, rate_hz, binary=binary), seconds * 0.6, offer
        )
        avg_size = first["bytes"] / max(first["sent"], 1)
        pipeline_rate = first["processed"] / first["elapsed"]
        carried = max(min(pipeline_rate, first["sent"] / first["elapsed"]) * 0.5, 1)
        second = latency_phase(
            broker,
            data_dir,
            BatchFactory(max(1, round(carried)), rate_hz, 2, binary=binary),
            seconds * 0.4,
            carried,
        )
        bare_s, bare_bytes = bare_read(broker.bootstrap, first["sent"])
        backlog = {}
        if peers:
            backlog["pipeline"] = pipeline_backlog(broker, data_dir / "backlog", first["sent"])
            backlog["minimal_loop"] = peer_run(
                sys.executable, "minimal_loop.py", broker.bootstrap, first["sent"]
            )
            backlog["quix_streams"] = peer_run(
                quix_python(), "quix_app.py", broker.bootstrap, first["sent"]
            )
    finally:
        broker.remove()
    bare_rate = first["sent"] / bare_s if bare_s > 0 else None
    result = {
        "seconds": seconds,
        "format": "binary" if binary else "json",
        "worker_processes": WORKER_PROCESSES,
        "sensors": sensors,
        "sample_rate_hz": rate_hz,
        "message_bytes_avg": round(avg_size),
        "offered_mb_per_s": round(first["bytes"] / first["elapsed"] / 1e6, 2),
        "pipeline_events_per_s": round(pipeline_rate, 1),
        "pipeline_mb_per_s": round(pipeline_rate * avg_size / 1e6, 2),
        "pipeline_samples_per_s": round(pipeline_rate * rate_hz),
        "bare_events_per_s": round(bare_rate, 1) if bare_rate else None,
        "bare_mb_per_s": round(bare_bytes / bare_s / 1e6, 2) if bare_s > 0 else None,
        "ratio_pipeline_to_bare": round(pipeline_rate / bare_rate, 4) if bare_rate else None,
        "latency_phase_events_per_s": round(carried, 1),
        "latency_phase_events": second["sent"],
        "latency_to_clickhouse_ms": {
            "p50": percentile(second["row_latency"], 50),
            "p99": percentile(second["row_latency"], 99),
            "rows": len(second["row_latency"]),
        },
        "latency_to_alert_ms": {
            "p50": percentile(second["alert_latency"], 50),
            "p99": percentile(second["alert_latency"], 99),
            "alerts": len(second["alert_latency"]),
            "on_spiked_sensors": second["alerts_on_spiked_sensor"],
            "on_other_sensors": second["alerts_on_other_sensors"],
            "by_kind": second["alert_kinds"],
        },
        "plant_goal_mb_per_s": 58,
        "share_of_plant_goal": round(pipeline_rate * avg_size / 1e6 / 58, 4),
    }
    if peers:
        result["backlog_events_per_s"] = {k: _round(v) for k, v in backlog.items()}
        result["backlog_bare_events_per_s"] = _round(bare_rate)
        pipeline_backlog_rate = backlog["pipeline"]
        for peer in ("minimal_loop", "quix_streams"):
            rate = backlog[peer]
            result[f"ratio_pipeline_to_{peer}"] = (
                round(pipeline_backlog_rate / rate, 4) if pipeline_backlog_rate and rate else None
            )
    report(result, out)
    return result


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sensors", type=int, default=0, help="0: one batch per sensor per second")
    parser.add_argument("--rate-hz", type=int, default=10_000)
    parser.add_argument(
        "--offer-mbps",
        type=float,
        default=58.0,
        help="payload offered in the throughput phase (the plant goal)",
    )
    parser.add_argument(
        "--format",
        choices=("binary", "json"),
        default="binary",
        help="how batches are sent: LPSB float32 (default) or JSON",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also time the pipeline, the minimal loop and a Quix Streams app on the backlog",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="the worker's compute processes (--processes)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    global WORKER_PROCESSES
    WORKER_PROCESSES = args.processes
    run(
        args.seconds,
        args.sensors,
        args.rate_hz,
        args.offer_mbps,
        args.json,
        binary=args.format == "binary",
        peers=args.peers,
    )


if __name__ == "__main__":
    main()
