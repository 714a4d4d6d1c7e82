"""The sensor agent: readings, sample batches, machine events (for operating modes) and window
ticks into the sensor processor."""

from __future__ import annotations

from typing import Any

import faust

from schemas import topics
from streams.settings import KafkaSettings, WorkerSettings
from streams.worker.app import raw_topic
from streams.worker.runner import ProcessorAgent


def register(
    app: faust.App, shell: ProcessorAgent, kafka: KafkaSettings, worker: WorkerSettings
) -> None:
    """Add the sensor agent to `app`."""
    source = raw_topic(
        app,
        kafka,
        topics.SENSOR_READINGS,
        topics.SENSOR_BATCHES,
        topics.MACHINE_EVENTS,
        topics.WINDOW_TICKS,
    )

    @app.agent(source, name="score_sensor_data")
    async def score_sensor_data(stream: Any) -> None:
        """Online anomaly score per sensor; sustained anomalies raise alerts."""
        await shell.run(stream, worker.batch_events, worker.batch_s)
