"""The OEE agent: machine events, MES events and window ticks (all co-partitioned by asset)
into the OEE processor. Ticks come from a leader timer to every partition, so that windows
close even when a machine sends nothing."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from schemas import topics
from schemas.events import now_ms
from streams.settings import KafkaSettings, WorkerSettings
from streams.worker.app import raw_topic
from streams.worker.outbox import Outbox
from streams.worker.runner import ProcessorAgent


def register(
    app: faust.App,
    shell: ProcessorAgent,
    outbox: Outbox,
    kafka: KafkaSettings,
    worker: WorkerSettings,
) -> None:
    """Add the OEE agent and the window tick timer to `app`."""
    source = raw_topic(app, kafka, topics.MACHINE_EVENTS, topics.MES_EVENTS, topics.WINDOW_TICKS)

    @app.agent(source, name="compute_machine_oee")
    async def compute_machine_oee(stream: Any) -> None:
        """Per-machine OEE over tumbling event-time windows."""
        await shell.run(stream, worker.batch_events, worker.batch_s)

    @app.timer(worker.oee.tick_interval_s, on_leader=True)
    async def send_window_ticks() -> None:
        """Send the clock to every partition of the OEE and sensor agents."""
        tick = orjson.dumps({"time": now_ms()})
        for partition in range(kafka.partitions):
            await outbox.send(topics.WINDOW_TICKS, "tick", tick, partition=partition)
