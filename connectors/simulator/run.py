"""Runs the plant simulator in real time and publishes what it produces."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

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
    for spec in simulator.specs():
        publisher.publish_spec(spec)
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


async def run_through_devices(
    simulator: PlantSimulator,
    publisher: Publisher,
    duration_s: float | None,
    stop: threading.Event,
    on_step: Callable[[int], None] | None = None,
    step_s: float = 0.1,
) -> int:
    """Like `run_realtime`, but the machines' current and temperature go to simulated OPC UA
    and Modbus TCP servers, and LinePulse's connectors read them from there. Returns the
    number of events sent (directly or put on a device)."""
    from connectors.loopback import free_port
    from connectors.run import run_connectors
    from connectors.simulator.devices import PlantDevices

    for spec in simulator.specs():
        publisher.publish_spec(spec)
    devices = PlantDevices(simulator.machines, free_port(), free_port(), poll_s=step_s)
    await devices.start()
    connectors_stop = asyncio.Event()
    connectors = asyncio.create_task(
        run_connectors(devices.plant_config(), publisher, connectors_stop)
    )
    started = time.monotonic()
    sent = 0
    try:
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            for event in simulator.advance(int(time.time() * 1000)):
                if not await devices.take(event):
                    publisher.publish(event)
                sent += 1
            if on_step is not None:
                on_step(sent)
            await asyncio.sleep(step_s)
    finally:
        connectors_stop.set()
        await connectors
        await devices.stop()
    publisher.flush()
    return sent
