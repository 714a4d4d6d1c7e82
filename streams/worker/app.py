"""The Faust application: topics, tables, the dead-letter helper and the HTTP endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP, EventT

from schemas import topics
from schemas.codec import encode
from schemas.events import Alert, DeadLetter, asset_or_unknown, now_ms
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.alerts import SeverityRules
from streams.core.context import ContextBook
from streams.core.sensor_health import SpecBook
from streams.logs import json_handler
from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.store.clickhouse import (
    Store,
    apply_retention,
    migrate,
    open_store,
    require_schema,
    until_reachable,
)
from streams.worker.feeds import TopicFeed
from streams.worker.offsets import EndOffsets, StartPositions
from streams.worker.web import add_views

log = logging.getLogger(__name__)

# inputs whose silence the agents judge (`Pipeline.lagging`)
WATCHED_INPUTS = frozenset(
    (topics.MACHINE_EVENTS, topics.MES_EVENTS, topics.SENSOR_READINGS, topics.SENSOR_BATCHES)
)


def _credentials(kafka: KafkaSettings) -> Any:
    if kafka.sasl_mechanism is None:
        return kafka.ssl_context()
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    if kafka.sasl_mechanism == "PLAIN":
        return faust.SASLCredentials(
            username=kafka.sasl_username, password=password, ssl_context=kafka.ssl_context()
        )
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=password,
        mechanism=kafka.sasl_mechanism,
        ssl_context=kafka.ssl_context(),
    )


@dataclass
class Pipeline:
    """Everything the agents share."""

    app: faust.App
    kafka: KafkaSettings
    worker: WorkerSettings
    store_settings: StoreSettings
    store: Store | None = None
    clickhouse_reachable: bool = True
    context: ContextBook = field(default_factory=ContextBook)
    specs: SpecBook = field(default_factory=SpecBook)
    severities: SeverityRules = field(default_factory=SeverityRules)
    feeds: list[TopicFeed] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    end_offsets: EndOffsets = field(init=False)
    start_positions: StartPositions = field(init=False)
    _out_topics: dict[str, faust.TopicT] = field(default_factory=dict)
    _context_was_current: bool = False

    def __post_init__(self) -> None:
        self.end_offsets = EndOffsets(self.kafka.confluent_config())
        self.start_positions = StartPositions(self._position)

    async def _position(self, tp: TP) -> int | None:
        position: int | None = await self.app.consumer.position(tp)
        return position

    def topic(self, *names: str) -> faust.TopicT:
        return self.app.topic(
            *names, key_serializer="raw", value_serializer="raw", partitions=self.kafka.partitions
        )

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    async def send(self, topic: str, key: str, value: bytes, partition: int | None = None) -> None:
        if topic not in self._out_topics:
            self._out_topics[topic] = self.app.topic(
                topic, key_serializer="raw", value_serializer="raw"
            )
        await self._out_topics[topic].send(key=key.encode(), value=value, partition=partition)
        metrics.EVENTS_OUT.labels(topic).inc()

    async def lagging(
        self, partition: int, applied: dict[str, int], names: tuple[str, ...]
    ) -> set[str]:
        """The topics of `names` whose `partition` this worker has not read to the end the
        broker gives now (`applied`: the last offset processed per topic): silence is only
        silence once the worker has read everything. A topic with nothing processed yet is read
        when its end is where the consumer started reading it (a worker that started at the end
        of the topic, or reads nothing new there)."""
        partitions = [TP(topic, partition) for topic in names]
        ends = await self.end_offsets.latest(partitions)
        behind = set()
        for tp in partitions:
            end = ends.get(tp)
            if tp.topic in applied:
                next_offset: int | None = applied[tp.topic] + 1
            else:
                next_offset = self.start_positions.get(tp)
            if end is None or next_offset is None:  # silence cannot be told from not reading
                behind.add(tp.topic)
                continue
            lag = max(0, end - next_offset)
            metrics.CONSUMER_LAG.labels(tp.topic, str(partition)).set(lag)
            if lag:
                behind.add(tp.topic)
        return behind

    async def send_alert(self, alert: Alert | None) -> None:
        """Publish an alert lifecycle step (if any), counted by kind and status."""
        if alert is None:
            return
        severity = self.severities.severity(alert.alert_kind, alert.asset, alert.severity)
        if severity != alert.severity:
            alert = alert.model_copy(update={"severity": severity})
        metrics.ALERTS.labels(alert.alert_kind, alert.status).inc()
        self.count("alerts")
        await self.send(topics.ALERTS, alert.asset, encode(alert))

    @property
    def context_current(self) -> bool:
        """The whole-topic feeds have started and read what their topics held then (once
        current, they stay so: cheap to ask per event)."""
        if not self._context_was_current:
            self._context_was_current = bool(self.feeds) and all(
                feed.caught_up.is_set() for feed in self.feeds
            )
        return self._context_was_current

    async def wait_context(self) -> None:
        """Hold an agent until the production context and the sensor specs are current: input
        waiting in Kafka when a worker starts would otherwise be enriched with no context."""
        while not self.context_current:
            await asyncio.sleep(0.05)

    async def guarded(
        self, event: EventT, handler: Callable[[EventT], Awaitable[None]], agent: str
    ) -> None:
        """Run one step of an agent; an unexpected error dead-letters the event instead of
        crashing the agent, so the pipeline keeps going."""
        if not self.context_current:
            await self.wait_context()
        try:
            with metrics.PROCESSING_SECONDS.labels(agent).time():
                await handler(event)
        except Exception as exc:  # noqa: BLE001 - any bug must not stop the stream
            log.exception(
                "processing %s[%s]@%s failed",
                event.message.topic,
                event.message.partition,
                event.message.offset,
            )
            reason = f"processing failed: {type(exc).__name__}: {exc}"
            await self.dead_letter(event, InvalidEventError(reason, "processing_error"))

    async def dead_letter(self, event: EventT, error: InvalidEventError) -> None:
        message = event.message
        payload = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
        key = message.key.decode(errors="replace") if isinstance(message.key, bytes) else None
        letter = DeadLetter(
            time=now_ms(),
            asset=asset_or_unknown(key),
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            reason=error.reason,
            error_type=error.error_type,
            payload=payload.decode(errors="replace")[:100_000],
            key=key,
        )
        metrics.DEAD_LETTERS.labels(message.topic, error.error_type).inc()
        self.count("dead_letters")
        log.warning(
            "dead letter from %s[%s]@%s: %s",
            message.topic,
            message.partition,
            message.offset,
            error.reason,
            extra={
                "asset": letter.asset,
                "event_id": letter.id,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error_type": error.error_type,
            },
        )
        await self.send(topics.DEAD_LETTERS, letter.asset, encode(letter))


def create_app(kafka: KafkaSettings, worker: WorkerSettings, store: StoreSettings) -> Pipeline:
    app = faust.App(
        worker.app_id,
        broker=kafka.faust_broker_url(),
        broker_credentials=_credentials(kafka),
        store="memory://",
        web_host=worker.web_host,
        web_port=worker.web_port,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        broker_commit_interval=worker.commit_interval_s,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        consumer_auto_offset_reset=worker.auto_offset_reset,
        producer_acks=-1,
        producer_compression_type="lz4",
        producer_max_request_size=8 * 1024 * 1024,
        consumer_max_fetch_size=16 * 1024 * 1024,
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=True,
        datadir=str(store.data_dir / "faust"),
        loghandlers=[json_handler()] if worker.log_format == "json" else [],
    )
    pipeline = Pipeline(
        app=app,
        kafka=kafka,
        worker=worker,
        store_settings=store,
        severities=SeverityRules.parse(worker.alert_severity),
    )
    add_views(pipeline)

    @app.on_partitions_assigned.connect
    def find_start_positions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned: set[TP] = args[0]
        pipeline.start_positions.reset(tp for tp in assigned if tp.topic in WATCHED_INPUTS)

    return pipeline


def open_pipeline_store(pipeline: Pipeline) -> Store:
    """Open ClickHouse (waiting for a server that cannot be reached yet); the embedded engine is
    migrated in place, a server must be migrated."""
    settings = pipeline.store_settings
    store = until_reachable(
        lambda: open_store(settings), f"opening ClickHouse at {settings.clickhouse_url}"
    )
    if pipeline.store_settings.clickhouse_url is None:
        migrate(store)
        apply_retention(store, settings)
    until_reachable(lambda: require_schema(store), "reading the ClickHouse schema version")
    pipeline.store = store
    metrics.CLICKHOUSE_REACHABLE.set(1)
    return store
