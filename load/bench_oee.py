"""OEE agent throughput: machine state and count events through the worker.

    python load/bench_oee.py --events 200000 --json OUT.json

Preloads a simulated plant's state, count and MES events (no sensors) into Kafka, then measures
in the same run on the same broker: a bare confluent-kafka consumer reading those messages, and
a LinePulse worker processing them (OEE windows, changelog state, the ClickHouse sink), timed
from its first committed offset to its last, and the Faust floor: the worker's Faust app with one
agent that only takes the same messages in the worker's batches (`load/faust_floor.py`), timed
the same way. The processors read through librdkafka; the floor is the most the sink, which
Faust hands its input, can reach. The worker is timed by both its groups: the processors'
(`<app id>`) and the sink's (`<app id>-store`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import report  # noqa: E402

from connectors.publisher import Publisher  # noqa: E402
from connectors.simulator.plant import PlantSimulator  # noqa: E402
from connectors.topics import ensure_topics  # noqa: E402
from schemas import topics  # noqa: E402
from streams.commands.brokers import KafkaBroker  # noqa: E402
from streams.settings import SimulatorSettings  # noqa: E402
from tests.integration.conftest import WorkerProcess, committed_offsets  # noqa: E402

PARTITIONS = 4
INPUTS = (topics.MACHINE_EVENTS, topics.MES_EVENTS)


def preload(bootstrap: str, wanted: int, machines: int) -> int:
    """Publish simulated plant events (times in the last hours) until `wanted` are sent."""
    publisher = Publisher({"bootstrap.servers": bootstrap})
    start = int(time.time() * 1000) - 6 * 3_600_000
    simulator = PlantSimulator(
        SimulatorSettings(plant="bench", machines=machines, lines=8, vibration_rate_hz=10), start
    )
    sent = 0
    step = start
    while sent < wanted:
        step += 60_000
        for event in simulator.advance(step):
            if event.kind.startswith("sensor"):
                continue
            publisher.publish(event)
            sent += 1
    publisher.flush(120)
    return sent


def _partitions() -> list[tuple[str, int]]:
    return [(t, p) for t in INPUTS for p in range(PARTITIONS)]


def committed(bootstrap: str, group: str) -> int:
    offsets = committed_offsets(bootstrap, group, _partitions())
    return sum(max(offset, 0) for offset in offsets.values())


def bare_read(bootstrap: str, messages: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(list(INPUTS))
    read = 0
    started = None
    deadline = time.monotonic() + 300
    while read < messages and time.monotonic() < deadline:
        for message in consumer.consume(1000, 1.0):
            if message.error():
                continue
            started = started or time.monotonic()
            read += 1
    consumer.close()
    return time.monotonic() - (started or time.monotonic())


def worker_read(bootstrap: str, messages: int) -> tuple[float, int]:
    """Seconds from the worker's first progress to all `messages` committed."""
    worker = WorkerProcess(bootstrap, Path(tempfile.mkdtemp(prefix="linepulse-bench-oee-")))
    worker.env["LINEPULSE_KAFKA_PARTITIONS"] = str(PARTITIONS)
    worker.env["LINEPULSE_LOG_LEVEL"] = "warning"
    worker.env["LINEPULSE_MAX_EVENT_AGE_S"] = str(2 * 86400)
    worker.start()
    try:
        # the processors' group and the sink's: an event is done once both have it
        return progress_rate(bootstrap, (worker.app_id, f"{worker.app_id}-store"), messages)
    finally:
        worker.stop()


def progress_rate(bootstrap: str, groups: tuple[str, ...], messages: int) -> tuple[float, int]:
    """Seconds from the groups' first committed progress to all `messages` committed by each,
    and the messages committed by all of them in that time."""
    first_progress = None
    done = 0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        done = min(committed(bootstrap, group) for group in groups)
        if done and first_progress is None:
            first_progress = (time.monotonic(), done)
        if done >= messages:
            break
        time.sleep(0.5)
    assert first_progress is not None, f"{groups} committed nothing"
    return time.monotonic() - first_progress[0], done - first_progress[1]


def floor_read(bootstrap: str, messages: int) -> tuple[float, int]:
    """The Faust floor app over the same messages, in the worker's environment, timed like the
    worker."""
    data_dir = Path(tempfile.mkdtemp(prefix="linepulse-bench-floor-"))
    settings = WorkerProcess(bootstrap, data_dir)  # its environment only: the floor runs instead
    settings.env["LINEPULSE_KAFKA_PARTITIONS"] = str(PARTITIONS)
    with open(data_dir / "floor.log", "wb") as log:
        floor = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("faust_floor.py")), "worker"],
            env=settings.env,
            stdout=log,
            stderr=log,
        )
    try:
        return progress_rate(bootstrap, (f"{settings.app_id}-store",), messages)  # its Faust app id
    finally:
        floor.terminate()
        floor.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    broker = KafkaBroker.create()
    broker.start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, PARTITIONS)
        sent = preload(broker.bootstrap, args.events, args.machines)
        bare_s = bare_read(broker.bootstrap, sent)
        worker_s, processed = worker_read(broker.bootstrap, sent)
        floor_s, floored = floor_read(broker.bootstrap, sent)
    finally:
        broker.remove()
    bare_rate = sent / bare_s
    worker_rate = processed / worker_s
    floor_rate = floored / floor_s
    result = {
        "events": sent,
        "machines": args.machines,
        "oee_agent_events_per_s": round(worker_rate, 1),
        "bare_events_per_s": round(bare_rate, 1),
        "ratio_oee_to_bare": round(worker_rate / bare_rate, 4),
        "faust_floor_events_per_s": round(floor_rate, 1),
        "ratio_faust_floor_to_bare": round(floor_rate / bare_rate, 4),
        "ratio_oee_to_faust_floor": round(worker_rate / floor_rate, 4),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
