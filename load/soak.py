"""Soak: a worker's memory over a long run with a plant's worth of sensor models.

    python load/soak.py --minutes 30 --sensors 400 --json load/soak.json

Half the sensors send a binary sample batch (`--rate-hz` samples) every `--period-s`, the other
half a single reading each period, each sensor with a level and noise of its own, so that every
one of them holds a trained model. The worker's resident memory (RSS, summed over its
processes, and the anonymous part of it: without the pages of library code, such as the embedded
ClickHouse's 200 MB) is sampled every `--every-s`, with how many sample batches it lags behind.
After the warm-up (the first sixth of the run) the memory must be flat — the growth of a straight
line fitted through the samples, over the rest of the run, under 5 % of the memory at the end of
the warm-up — and below `--limit-mb`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import BatchFactory, _worker, committed, end_offsets, start_worker  # noqa: E402
from report import report  # noqa: E402

from connectors.publisher import producer_config  # noqa: E402
from connectors.topics import ensure_topics  # noqa: E402
from schemas import topics  # noqa: E402
from streams.commands.brokers import KafkaBroker  # noqa: E402

PARTITIONS = 4
FLAT_SHARE = 0.05  # growth after the warm-up allowed, as a share of the memory at its end


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """The resident memory of `pid` and all its descendants, in MB, and the anonymous part of
    it (what the processes allocated, without the pages of their libraries' code)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    totals_kb = {"Rss:": 0, "Anonymous:": 0}
    todo = [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            name, *value = line.split()
            if name in totals_kb:
                totals_kb[name] += int(value[0])
    return totals_kb["Rss:"] / 1024, totals_kb["Anonymous:"] / 1024


class Plant(threading.Thread):
    """Sends every sensor's message once per period until stopped."""

    def __init__(self, bootstrap: str, sensors: int, rate_hz: int, period_s: float) -> None:
        super().__init__(daemon=True)
        self.producer = Producer(producer_config({"bootstrap.servers": bootstrap}))
        self.batches = BatchFactory(sensors - sensors // 2, rate_hz)
        self.readers = [(f"soak/line{i % 4}/st{i}/m{i}", f"m{i}.temp") for i in range(sensors // 2)]
        self.period_s = period_s
        self.sent = 0
        self.stopped = threading.Event()
        self.rng = np.random.default_rng(7)

    def _reading(self, index: int, time_ms: int) -> tuple[str, bytes]:
        asset, name = self.readers[index]
        value = 40 + index % 30 + float(self.rng.normal(0, 0.5))
        event = {
            "kind": "sensor.reading",
            "id": uuid.uuid4().hex,
            "time": time_ms,
            "asset": asset,
            "sensor": name,
            "value": round(value, 3),
            "unit": "C",
        }
        return asset, orjson.dumps(event)

    def _send(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key.encode())
                break
            except BufferError:
                self.producer.poll(0.05)
        self.sent += 1

    def run(self) -> None:
        """Send a period's messages spread over the period, then the next."""
        cycle = 0
        started = time.monotonic()
        while not self.stopped.is_set():
            time_ms = int(time.time() * 1000)
            for sensor in range(len(self.batches.sensors)):
                asset, _, value = self.batches.message(cycle + sensor, sensor, time_ms)
                self._send(topics.SENSOR_BATCHES, asset, value)
                self.producer.poll(0)
            for index in range(len(self.readers)):
                self._send(topics.SENSOR_READINGS, *self._reading(index, time_ms))
            self.producer.poll(0)
            cycle += 1
            due = started + cycle * self.period_s
            self.stopped.wait(max(0.0, due - time.monotonic()))
        self.producer.flush(30)


def fitted_growth_mb(samples: list[tuple[float, float]]) -> float:
    """The growth over the samples' span of a straight line fitted through them."""
    if len(samples) < 2:
        return 0.0
    seconds = np.array([t for t, _ in samples])
    rss = np.array([m for _, m in samples])
    slope = float(np.polyfit(seconds, rss, 1)[0])
    return slope * float(seconds[-1] - seconds[0])


def run(args: argparse.Namespace) -> dict:
    """Run the soak and return its figures."""
    broker = KafkaBroker.create()
    broker.start()
    data_dir = Path(tempfile.mkdtemp(prefix="linepulse-soak-"))
    samples: list[tuple[float, float]] = []
    anonymous_samples: list[tuple[float, float]] = []
    lags: list[int] = []
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, PARTITIONS)
        worker = _worker(broker.bootstrap, data_dir, processes=args.processes)
        start_worker(worker)
        assert worker.process is not None
        plant = Plant(broker.bootstrap, args.sensors, args.rate_hz, args.period_s)
        plant.start()
        started = time.monotonic()
        try:
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(args.every_s)
                if worker.process.poll() is not None:
                    raise RuntimeError(f"the worker exited\n{worker.log_tail()}")
                rss, anonymous = tree_memory_mb(worker.process.pid)
                samples.append((time.monotonic() - started, rss))
                anonymous_samples.append((samples[-1][0], anonymous))
                lag = end_offsets(broker.bootstrap) - committed(broker.bootstrap, worker.app_id)
                lags.append(lag)
                elapsed = samples[-1][0]
                print(f"{elapsed:5.0f} s RSS {rss:.1f} MB anon {anonymous:.1f} MB lag {lag}")
        finally:
            plant.stopped.set()
            plant.join(60)
            worker.stop()
    finally:
        broker.remove()
    warm_up_s = args.minutes * 60 / 6
    warm = [s for s in samples if s[0] >= warm_up_s]
    at_warm = warm[0][1] if warm else None
    growth = fitted_growth_mb(warm)
    anonymous_warm = [s for s in anonymous_samples if s[0] >= warm_up_s]
    peak = max((m for _, m in samples), default=None)
    flat = at_warm is not None and growth < FLAT_SHARE * at_warm
    return {
        "minutes": args.minutes,
        "sensors": args.sensors,
        "sample_rate_hz": args.rate_hz,
        "period_s": args.period_s,
        "worker_processes": args.processes,
        "messages_sent": plant.sent,
        "rss_mb_at_warm_up_end": round(at_warm, 1) if at_warm else None,
        "rss_mb_end": round(samples[-1][1], 1) if samples else None,
        "rss_mb_peak": round(peak, 1) if peak else None,
        "rss_growth_after_warm_up_mb": round(growth, 1),
        "anonymous_mb_at_warm_up_end": round(anonymous_warm[0][1], 1) if anonymous_warm else None,
        "anonymous_mb_end": round(anonymous_samples[-1][1], 1) if anonymous_samples else None,
        "anonymous_growth_after_warm_up_mb": round(fitted_growth_mb(anonymous_warm), 1),
        "flat": flat,
        "under_limit": peak is not None and peak < args.limit_mb,
        "limit_mb": args.limit_mb,
        "lag_batches_max": max(lags, default=None),
        "lag_batches_end": lags[-1] if lags else None,
        "rss_mb_samples": [[round(t), round(m, 1)] for t, m in samples],
        "anonymous_mb_samples": [[round(t), round(m, 1)] for t, m in anonymous_samples],
    }


def main() -> None:
    """Parse the command line, run the soak, print and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sensors", type=int, default=400)
    parser.add_argument("--rate-hz", type=int, default=1_000, help="samples per batch sensor")
    parser.add_argument("--period-s", type=float, default=1.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--every-s", type=float, default=10.0, help="between memory samples")
    parser.add_argument("--limit-mb", type=float, default=500.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args)
    report(result, args.json)


if __name__ == "__main__":
    main()
