"""Runs the plant simulator in real time and publishes what it produces."""

from __future__ import annotations

import threading
import time

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator


def run_realtime(
    simulator: PlantSimulator,
    publisher: Publisher,
    duration_s: float | None,
    stop: threading.Event | None = None,
    step_s: float = 0.1,
) -> int:
    """Publish the simulated plant as it happens until `duration_s` passes or `stop` is set.
    Returns the number of events published."""
    stop = stop or threading.Event()
    started = time.monotonic()
    published = 0
    while not stop.is_set():
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        for event in simulator.advance(int(time.time() * 1000)):
            publisher.publish(event)
            published += 1
        publisher.maintain()
        stop.wait(step_s)
    publisher.flush()
    return published
