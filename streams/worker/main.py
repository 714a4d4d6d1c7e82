"""Builds the whole Faust worker: agents, the ClickHouse store and its lifecycle."""

from __future__ import annotations

import asyncio
import logging

import faust
from mode import Service

from streams.commands.query_client import remove_owner, write_owner
from streams.logs import keep_only_json_handlers
from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.worker import oee_agent, sensor_agent, sink_agent
from streams.worker.app import Pipeline, create_app, open_pipeline_store
from streams.worker.feeds import context_feed, spec_feed

log = logging.getLogger(__name__)


def build_pipeline(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> Pipeline:
    pipeline = create_app(kafka, worker, store)
    oee_agent.register(pipeline)
    sensor_agent.register(pipeline)
    sink_agent.register(pipeline)

    @pipeline.app.service
    class StoreService(Service):
        async def on_start(self) -> None:
            await asyncio.to_thread(open_pipeline_store, pipeline)
            if store.clickhouse_url is None:
                write_owner(store.data_dir, worker.web_host, worker.web_port)
            log.info("ClickHouse store open (%s)", store.clickhouse_url or store.chdb_path)

        async def on_stop(self) -> None:
            remove_owner(store.data_dir)
            if pipeline.store is not None:
                pipeline.store.close()

    @pipeline.app.service
    class FeedService(Service):
        """Keeps every asset's production context and every sensor's spec from their topics."""

        async def on_start(self) -> None:
            config = kafka.confluent_config()
            pipeline.feeds = [
                context_feed(pipeline.context, config, worker.max_event_age_s),
                spec_feed(pipeline.specs, config),
            ]
            for feed in pipeline.feeds:
                feed.start()

        async def on_stop(self) -> None:
            for feed in pipeline.feeds:
                await asyncio.to_thread(feed.stop)

    return pipeline


def run_worker(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> None:
    pipeline = build_pipeline(kafka, worker, store)
    worker_class = JsonLoggingWorker if worker.log_format == "json" else faust.Worker
    worker_class(pipeline.app, loglevel=worker.log_level).execute_from_commandline()


class JsonLoggingWorker(faust.Worker):
    """A Faust worker whose log lines are all JSON objects."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        keep_only_json_handlers()
