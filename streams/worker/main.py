"""Builds the whole worker: the processors behind their shells on one librdkafka input, the
sink on another (a group of its own), the feeds, the ClickHouse store and its lifecycle, in a
Faust application that runs them as services and serves the HTTP endpoints."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import faust
from mode import Service

from connectors.topics import ensure_topics
from schemas import topics
from streams.core.context import ContextBook
from streams.core.plans import GroupPlans
from streams.core.sensor_health import SpecBook
from streams.logs import keep_only_json_handlers
from streams.processors.alarms import AlarmProcessor
from streams.processors.oee import OeeConfig, OeeProcessor
from streams.processors.sensors import SensorConfig, SensorProcessor
from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.store.owner import remove_owner, write_owner
from streams.store.sink import SINK_TOPICS
from streams.worker.app import create_app, open_worker_store
from streams.worker.changelog import ChangelogTable
from streams.worker.feeds import context_feed, spec_feed
from streams.worker.input_loop import serve_input
from streams.worker.kafka_input import KafkaInput
from streams.worker.model_checkpoints import ModelCheckpoints
from streams.worker.offsets import EndOffsets, InputProgress
from streams.worker.outbox import Counters, Outbox
from streams.worker.producer import OutputProducer
from streams.worker.query_view import query_token
from streams.worker.readiness import Readiness
from streams.worker.runner import ProcessorAgent
from streams.worker.sink_handler import SinkHandler
from streams.worker.snapshots import PartitionSnapshots
from streams.worker.web import add_views

log = logging.getLogger(__name__)
ALARM_TOPICS = frozenset({topics.ALERT_CONDITIONS, topics.ALARM_ACTIONS})


@dataclass
class Books:
    """What the whole-topic feeds keep for every asset: production context, group plans,
    sensor specs."""

    context: ContextBook = field(default_factory=ContextBook)
    plans: GroupPlans = field(default_factory=GroupPlans)
    specs: SpecBook = field(default_factory=SpecBook)


def build_app(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> faust.App:
    """The worker's Faust application with its input loop, agents, services and endpoints."""
    query_token(worker)  # refused before any Kafka client opens: beyond loopback it needs one
    app = create_app(kafka, worker, store)
    books, counters, readiness = Books(), Counters(), Readiness()
    producer = OutputProducer(kafka.confluent_config())
    outbox = Outbox(producer, worker.alerts.severities(), counters)
    if worker.computes:
        readiness.input = _add_processors(app, kafka, worker, books, (outbox, readiness))
    readiness.needs_store = worker.stores
    if worker.stores:
        readiness.sink_input = _add_sink(app, kafka, worker, books, (outbox, readiness, counters))
    add_views(app, readiness, counters, worker)
    _add_services(app, kafka, worker, store, books, readiness, producer)
    return app


def _add_processors(
    app: faust.App,
    kafka: KafkaSettings,
    worker: WorkerSettings,
    books: Books,
    shared: tuple[Outbox, Readiness],
) -> KafkaInput:
    """The OEE and sensor processors behind their shells, on one input of their topics;
    `shared`: the outbox they send through and the readiness a batch waits for."""
    outbox, readiness = shared
    producer = outbox.producer
    oee_processor = OeeProcessor(OeeConfig.from_settings(worker), books.context, books.plans)
    models = ModelCheckpoints(
        ChangelogTable.named(worker.app_id, "linepulse-sensor-models", kafka, producer)
    )
    sensor_processor = SensorProcessor(
        SensorConfig.from_settings(worker), books.context, books.specs, models
    )
    alarm_processor = AlarmProcessor(
        worker.alerts.alarm_policy(), worker.time_limits(), books.plans
    )
    source = KafkaInput(
        kafka.confluent_config(),
        worker.input_group_id,
        (
            *oee_processor.inputs,
            *sensor_processor.inputs,
            *alarm_processor.inputs,
            topics.WINDOW_TICKS,
        ),
        worker.auto_offset_reset,
        worker.commit_interval_s,
    )
    progress = InputProgress(EndOffsets(kafka.confluent_config()), source.start_of)

    def snapshots(table: str) -> PartitionSnapshots:
        """A processor's partition snapshots in changelog table `table`."""
        return PartitionSnapshots(ChangelogTable.named(worker.app_id, table, kafka, producer))

    shells = (
        ProcessorAgent(
            "compute_machine_oee",
            oee_processor,
            snapshots("linepulse-oee-partitions"),
            outbox,
            progress,
            frozenset({*oee_processor.inputs, topics.WINDOW_TICKS}),
        ),
        ProcessorAgent(
            "score_sensor_data",
            sensor_processor,
            snapshots("linepulse-sensor-partitions"),
            outbox,
            progress,
            frozenset({*sensor_processor.inputs, topics.MACHINE_EVENTS, topics.WINDOW_TICKS}),
            tables=(models.table,),
        ),
        ProcessorAgent(
            "follow_alarms",
            alarm_processor,
            snapshots("linepulse-alarm-partitions"),
            outbox,
            progress,
            frozenset({*alarm_processor.inputs, topics.WINDOW_TICKS}),
        ),
    )
    tables = [t for shell in shells for t in (shell.snapshots.table, *shell.tables)]
    ticks = (outbox, worker.oee.tick_interval_s, kafka.partitions)

    async def create_changelogs() -> None:
        """Create the processors' changelog topics, and the alarm processor's inputs (topics
        newer than many deployments), before the input joins its group."""
        for table in tables:
            await asyncio.to_thread(table.create_topic)
        config = kafka.confluent_config()
        await asyncio.to_thread(
            ensure_topics, config, kafka.partitions, kafka.replication_factor, names=ALARM_TOPICS
        )

    hooks = (create_changelogs, readiness.wait_context)
    settings = (worker.batch_events, worker.batch_s)
    serve_input(app, "ProcessorInput", source, shells, settings, hooks, ticks)
    return source


def _add_sink(
    app: faust.App,
    kafka: KafkaSettings,
    worker: WorkerSettings,
    books: Books,
    shared: tuple[Outbox, Readiness, Counters],
) -> KafkaInput:
    """The sink on an input of the stored topics, in a group of its own."""
    outbox, readiness, counters = shared
    source = KafkaInput(
        kafka.confluent_config(),
        worker.sink_group_id,
        SINK_TOPICS,
        worker.auto_offset_reset,
        worker.commit_interval_s,
    )
    handler = SinkHandler(source, books.context, worker, readiness, (outbox, counters))

    async def nothing_to_prepare() -> None:
        """The stored topics exist before any worker starts."""

    settings = (worker.sink.batch_rows, worker.sink.batch_s)
    hooks = (nothing_to_prepare, handler.ready)
    serve_input(app, "SinkInput", source, [handler], settings, hooks, None)
    return source


def _add_services(
    app: faust.App,
    kafka: KafkaSettings,
    worker: WorkerSettings,
    store: StoreSettings,
    books: Books,
    readiness: Readiness,
    producer: OutputProducer,
) -> None:
    if worker.stores:
        _add_store_service(app, worker, store, readiness)

    @app.service
    class FeedService(Service):
        """Keeps every asset's production context, group plans and sensor specs from their
        topics."""

        async def on_start(self) -> None:
            """Start the service."""
            config = kafka.confluent_config()
            readiness.feeds = [
                context_feed(books.context, books.plans, config, worker.max_event_age_s),
                spec_feed(books.specs, config),
            ]
            for feed in readiness.feeds:
                feed.start()

        async def on_stop(self) -> None:
            """Stop the service."""
            for feed in readiness.feeds:
                await asyncio.to_thread(feed.stop)

    @app.service
    class OutputService(Service):
        """Sends what is left of the outputs when the worker stops."""

        async def on_stop(self) -> None:
            """Stop the service."""
            await asyncio.to_thread(producer.close)


def _add_store_service(
    app: faust.App, worker: WorkerSettings, store: StoreSettings, readiness: Readiness
) -> None:
    @app.service
    class StoreService(Service):
        """Opens the ClickHouse store (waiting while it cannot be reached) and closes it."""

        async def on_start(self) -> None:
            """Start the service."""
            readiness.store = await asyncio.to_thread(open_worker_store, store)
            if store.clickhouse_url is None:
                write_owner(store.data_dir, worker.web_host, worker.web_port)
            log.info("ClickHouse store open (%s)", store.clickhouse_url or store.chdb_path)

        async def on_stop(self) -> None:
            """Stop the service."""
            remove_owner(store.data_dir)
            if readiness.store is not None:
                readiness.store.close()


def run_worker(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> None:
    """Run the worker in the foreground until it is stopped."""
    app = build_app(kafka, worker, store)
    worker_class = JsonLoggingWorker if worker.log_format == "json" else QuietWorker
    worker_class(app, loglevel=worker.log_level).execute_from_commandline()


class QuietWorker(faust.Worker):
    """A Faust worker without its start-up spinner. At a log level of warning or above Faust
    spins it on every log record, so it sets the root logger to DEBUG: every debug call of
    Faust and aiokafka (several per message sent) then builds a record that is thrown away."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Set up logging at `level`, with no spinner."""
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class JsonLoggingWorker(QuietWorker):
    """A Faust worker whose log lines are all JSON objects."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Set up logging with JSON handlers only."""
        super().on_setup_root_logger(logger, level)
        keep_only_json_handlers()
