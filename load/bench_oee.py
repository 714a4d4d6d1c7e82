"""OEE agent throughput: machine state and count events through the worker.

    python load/bench_oee.py --events 200000 [--processes N] --json OUT.json

Preloads a simulated plant's state, count and MES events (no sensors) into Kafka, then measures
in the same run on the same broker: a bare confluent-kafka consumer reading those messages, and
a LinePulse worker processing them (OEE windows, changelog state, the ClickHouse sink), timed
from its first committed offset to its last in both its groups: the processors' (`<app id>`)
and the sink's (`<app id>-store`), each also reported on its own.
"""

from __future__ import annotations

import argparse
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


def worker_read(bootstrap: str, messages: int, processes: int) -> dict[str, tuple[float, int]]:
    """Seconds from first progress to all `messages` committed, and the messages committed in
    that time: the whole worker (both groups), the processors' group, and the sink's;
    `processes` compute processes beside the store's (1: one process does all)."""
    data_dir = Path(tempfile.mkdtemp(prefix="linepulse-bench-oee-"))
    worker = WorkerProcess(bootstrap, data_dir, processes=processes)
    worker.env["LINEPULSE_KAFKA_PARTITIONS"] = str(PARTITIONS)
    worker.env["LINEPULSE_LOG_LEVEL"] = "warning"
    worker.env["LINEPULSE_MAX_EVENT_AGE_S"] = str(2 * 86400)
    worker.start()
    try:
        worker.wait_compute_ready()
        groups = {"processors": worker.app_id, "sink": f"{worker.app_id}-store"}
        return progress_rates(bootstrap, groups, messages)
    finally:
        worker.stop()


def progress_rates(
    bootstrap: str, groups: dict[str, str], messages: int
) -> dict[str, tuple[float, int]]:
    """For each group, and for all of them together ("worker": an event is done once every
    group has it), seconds from the first committed progress to all `messages` committed, and
    the messages committed in that time."""
    first: dict[str, tuple[float, int]] = {}
    last: dict[str, tuple[float, int]] = {}
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and len(last) < len(groups) + 1:
        done = {name: committed(bootstrap, group) for name, group in groups.items()}
        done["worker"] = min(done.values())
        now = time.monotonic()
        for name, count in done.items():
            if count and name not in first:
                first[name] = (now, count)
            if count >= messages and name not in last:
                last[name] = (now, count)
        time.sleep(0.5)
    assert len(last) == len(groups) + 1, f"not all committed: {first}, {last}"
    return {name: (last[name][0] - first[name][0], last[name][1] - first[name][1]) for name in last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument(
        "--processes", type=int, default=1, help="the worker's compute processes (--processes)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    broker = KafkaBroker.create()
    broker.start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, PARTITIONS)
        sent = preload(broker.bootstrap, args.events, args.machines)
        bare_s = bare_read(broker.bootstrap, sent)
        timed = worker_read(broker.bootstrap, sent, args.processes)
        rates = {name: n / s for name, (s, n) in timed.items()}
    finally:
        broker.remove()
    bare_rate = sent / bare_s
    result = {
        "events": sent,
        "machines": args.machines,
        "worker_processes": args.processes,
        "oee_agent_events_per_s": round(rates["worker"], 1),
        "bare_events_per_s": round(bare_rate, 1),
        "ratio_oee_to_bare": round(rates["worker"] / bare_rate, 4),
        "processors_events_per_s": round(rates["processors"], 1),
        "ratio_processors_to_bare": round(rates["processors"] / bare_rate, 4),
        "sink_events_per_s": round(rates["sink"], 1),
        "ratio_sink_to_bare": round(rates["sink"] / bare_rate, 4),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
