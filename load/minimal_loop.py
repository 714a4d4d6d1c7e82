"""The limit: the sensor job as a minimal hand-written loop, no framework, for `load/bench.py`.

    python load/minimal_loop.py --bootstrap HOST:PORT --group G --messages N --data-dir DIR

confluent-kafka `consume(1000)`, the binary batches decoded with numpy views, the per-second
features of the whole consumed batch at once (2-D numpy, one row per second of samples), the
same online detector per sensor as the worker's, one bulk insert of the summaries into an
embedded ClickHouse per consumed batch, then the offsets committed. It does what the worker's
sensor path does for batches that each hold whole seconds, and nothing else: no production
context, no data-quality rules, no dead letters, no alerts, no exactly-once guard, no restart
state. Prints one JSON line: messages, seconds taken from the first message to the last commit.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import topics  # noqa: E402
from streams.core.anomaly import DetectorSettings, SensorDetector  # noqa: E402
from streams.store.clickhouse import EmbeddedStore, migrate  # noqa: E402

FIXED = struct.Struct("<4sBBHIqdf")
TABLE = "linepulse.sensor_seconds"
SCORED = ("rms", "peak", "crest_factor", "kurtosis", "band_low", "band_mid", "band_high")


def features(samples: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row features of a 2-D array of seconds of samples, as the worker computes them."""
    mean = samples.mean(axis=1)
    rms = np.sqrt(np.mean(samples * samples, axis=1))
    peak = np.max(np.abs(samples), axis=1)
    centred = samples - mean[:, None]
    variance = np.mean(centred * centred, axis=1)
    safe = np.where(variance > 0, variance, 1.0)
    kurtosis = np.where(variance > 0, np.mean(centred**4, axis=1) / safe**2, 0.0)
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    total = np.where(power.sum(axis=1) > 0, power.sum(axis=1), 1.0)
    low, mid, high = (part.sum(axis=1) / total for part in np.array_split(power, 3, axis=1))
    return {
        "mean": mean,
        "minimum": samples.min(axis=1),
        "maximum": samples.max(axis=1),
        "rms": rms,
        "peak": peak,
        "crest_factor": np.where(rms > 0, peak / np.where(rms > 0, rms, 1.0), 0.0),
        "kurtosis": kurtosis,
        "band_low": low,
        "band_mid": mid,
        "band_high": high,
    }


def row_of(
    header: dict[str, Any], time_ms: int, count: int, second: dict[str, float]
) -> dict[str, Any]:
    """The `linepulse.sensor_seconds` row of one batch of one second."""
    return {
        "second": time_ms // 1000,
        "asset": header["asset"],
        "sensor": header["sensor"],
        "samples": count,
        "mean": second["mean"],
        "min": second["minimum"],
        "max": second["maximum"],
        **{name: second[name] for name in SCORED},
        "unit": header.get("unit", ""),
        "event_id": header["id"],
    }


def decode(raw: bytes) -> tuple[dict[str, Any], int, np.ndarray]:
    """Header, time and float32 samples of a binary batch."""
    _, _, _, header_len, count, time_ms, _, _ = FIXED.unpack_from(raw)
    header = orjson.loads(raw[FIXED.size : FIXED.size + header_len])
    samples = np.frombuffer(raw, "<f4", count, FIXED.size + header_len)
    return header, time_ms, samples


def run(bootstrap: str, group: str, messages: int, data_dir: Path, timeout_s: float) -> dict:
    """Consume `messages` batches and do the job; the figures of the run."""
    store = EmbeddedStore(data_dir)
    migrate(store)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
        }
    )
    consumer.subscribe([topics.SENSOR_BATCHES])
    detectors: dict[str, SensorDetector] = defaultdict(
        lambda: SensorDetector(DetectorSettings(warmup=20))
    )
    done = scored = 0
    started: float | None = None
    deadline = time.monotonic() + timeout_s
    while done < messages and time.monotonic() < deadline:
        batch = [m for m in consumer.consume(1000, 1.0) if not m.error()]
        if not batch:
            continue
        started = started or time.monotonic()
        decoded = [decode(m.value()) for m in batch]
        samples = np.stack([s for _, _, s in decoded]).astype(np.float64)
        columns = features(samples)
        rows = []
        for i, (header, time_ms, _) in enumerate(decoded):
            second = {name: float(values[i]) for name, values in columns.items()}
            key = f"{header['asset']}|{header['sensor']}"
            detectors[key].observe({k: second[k] for k in SCORED})
            scored += 1
            rows.append(row_of(header, time_ms, samples.shape[1], second))
        store.insert_rows(TABLE, rows)
        consumer.commit(asynchronous=False)
        done += len(batch)
    elapsed = time.monotonic() - (started or time.monotonic())
    consumer.close()
    store.close()
    return {"messages": done, "seconds": elapsed, "scored": scored}


def peer_arguments(description: str) -> argparse.Namespace:
    """The command line of a peer: where to read, in which group, how much, where to store."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--timeout-s", type=float, default=600)
    return parser.parse_args()


def main() -> None:
    args = peer_arguments(__doc__.splitlines()[0])
    result = run(args.bootstrap, args.group, args.messages, args.data_dir, args.timeout_s)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
