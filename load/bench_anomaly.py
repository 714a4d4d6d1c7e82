"""Anomaly scoring throughput against River's own learn+score loop for the same model.

    python load/bench_anomaly.py --observations 200000 --json OUT.json

Three loops over the same observations, in the same run: River's own `score_one` + `learn_one`
loop over LinePulse's feature model (a River anomaly detector: the bare model), LinePulse's
SensorDetector as the worker calls it (features, rest after an onset, warm-up flag), and the
agent's whole per-reading path (decode and validate the JSON reading, score, build and encode
the AnomalyScore).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import report  # noqa: E402

from schemas.codec import decode_sensor, encode  # noqa: E402
from schemas.events import AnomalyScore, SensorReading  # noqa: E402
from streams.core.anomaly import DetectorSettings, LikelihoodDetector, SensorDetector  # noqa: E402


def bare_river(values: list[float], settings: DetectorSettings) -> float:
    model = LikelihoodDetector(settings)
    observations = [{"value": value} for value in values]
    started = time.perf_counter()
    for x in observations:
        model.score_one(x)
        model.learn_one(x)
    return time.perf_counter() - started


def detector(values: list[float], settings: DetectorSettings) -> float:
    model = SensorDetector(settings)
    started = time.perf_counter()
    for value in values:
        model.observe({"value": value})
    return time.perf_counter() - started


def agent_path(values: list[float], settings: DetectorSettings) -> float:
    model = SensorDetector(settings)
    start_ms = int(time.time() * 1000) - len(values)
    raw = [
        encode(SensorReading(time=start_ms + i, asset="p/l/s/m", sensor="t", value=v))
        for i, v in enumerate(values)
    ]
    started = time.perf_counter()
    for message in raw:
        reading = decode_sensor(message)
        scored = model.observe({"value": reading.value})
        encode(
            AnomalyScore(
                time=reading.time,
                asset=reading.asset,
                sensor=reading.sensor,
                score=scored.score,
                threshold=settings.threshold,
                is_anomaly=scored.is_anomaly,
                warming_up=scored.warming_up,
                features={"value": reading.value},
            )
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=200_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(1)
    values = [20 + rng.gauss(0, 1) + (15 if i % 5000 == 0 else 0) for i in range(args.observations)]
    settings = DetectorSettings()
    n = len(values)
    bare_s = bare_river(values, settings)
    detector_s = detector(values, settings)
    agent_s = agent_path(values, settings)
    result = {
        "observations": n,
        "river_bare_per_s": round(n / bare_s),
        "linepulse_detector_per_s": round(n / detector_s),
        "agent_path_per_s": round(n / agent_s),
        "ratio_detector_to_bare": round(bare_s / detector_s, 3),
        "ratio_agent_path_to_bare": round(bare_s / agent_s, 3),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
