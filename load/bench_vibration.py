"""What condition monitoring costs per second of a fast sensor, against the per-second features
every batch already gets, measured in one run on one core.

    python load/bench_vibration.py [--rate 10000] [--seconds 200] [--json load/bench-vibration.json]

Figures: seconds of samples analysed per core-second by the per-second features alone (the
baseline), by the condition monitor with its band kept (what 59 of every 60 seconds cost), and
by the band search (once a minute); the monitor's cost as a share of the baseline's; and how
many 10 kHz sensors one core could monitor on top of the features.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from connectors.simulator.vibration import MachineVibration, vibration
from schemas.vibration import BearingGeometry, VibrationSpec
from streams.core.bearings import diagnose_in_best_band
from streams.core.condition import ConditionMonitor
from streams.core.features import per_second_features
from streams.core.vibration import Spectrum

BEARING = BearingGeometry(rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)


def _per_second(run: Callable[[int], object], seconds: int) -> float:
    """Seconds of samples handled per second of CPU time."""
    started = time.process_time()
    for second in range(seconds):
        run(second)
    return seconds / (time.process_time() - started)


def main() -> None:
    """Run the three measurements and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=10_000, help="sample rate, Hz")
    parser.add_argument("--seconds", type=int, default=200, help="seconds of samples per figure")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    machine = MachineVibration(resonance_hz=0.3 * args.rate)
    rng = np.random.default_rng(1)
    multipliers = BEARING.multipliers()
    windows = [
        vibration(machine, args.rate, s, args.rate, rng, "outer_race", multipliers, 0.2).astype(
            np.float32
        )
        for s in range(20)
    ]
    spec = VibrationSpec(unit="g", shaft_rpm=machine.shaft_hz * 60, bearing=BEARING)
    monitor = ConditionMonitor(spec)
    monitor.observe(0, windows[0], args.rate)  # picks the band, kept for the next minute
    features = _per_second(
        lambda s: per_second_features(s * 1000, args.rate, windows[s % 20]), args.seconds
    )
    kept = _per_second(
        lambda s: monitor.observe(1000 + s * 250, windows[s % 20], args.rate), args.seconds
    )
    search = _per_second(
        lambda s: diagnose_in_best_band(
            Spectrum.of(windows[s % 20], args.rate), machine.shaft_hz, multipliers
        ),
        max(args.seconds // 10, 5),
    )
    per_second_s = 1 / kept + 1 / (60 * search)  # a minute: 59 kept seconds and one search
    figures = {
        "sample_rate_hz": args.rate,
        "features_seconds_per_core_s": round(features, 1),
        "condition_seconds_per_core_s": round(kept, 1),
        "band_search_seconds_per_core_s": round(search, 2),
        "condition_ms_per_second": round(per_second_s * 1000, 3),
        "ratio_condition_to_features_cost": round(per_second_s * features, 2),
        "sensors_per_core_with_condition": int(1 / (per_second_s + 1 / features)),
        "sensors_per_core_features_only": int(features),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
