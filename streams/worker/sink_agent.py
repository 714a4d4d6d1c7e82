"""The sink agent: every stored topic's events go to ClickHouse in batches; offsets are
committed only after the insert (Faust commits what the agent has finished)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import faust
from faust.types import TP, EventT

from schemas import topics
from schemas.events import now_ms
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.context import ContextBook
from streams.processors.protocol import Message, dead_letter_of
from streams.settings import KafkaSettings, WorkerSettings
from streams.store.clickhouse import StoreError
from streams.store.exactly_once import once_each
from streams.store.sink import SINK_OWNED_TOPICS, SINK_TOPICS, BatchResult, Sink
from streams.worker.app import raw_topic
from streams.worker.outbox import Counters, Outbox
from streams.worker.readiness import Readiness

log = logging.getLogger(__name__)


def register(
    app: faust.App,
    kafka: KafkaSettings,
    worker: WorkerSettings,
    context: ContextBook,
    readiness: Readiness,
    outbox: Outbox,
    counters: Counters,
) -> None:
    """Add the sink agent to `app`."""
    source = raw_topic(app, kafka, *SINK_TOPICS)

    def unreachable(error: StoreError) -> None:
        """Record that ClickHouse cannot be reached (the sink waits and retries)."""
        readiness.reachable(False)
        metrics.SINK_RETRIES.inc()

    @app.agent(source, name="store_events")
    async def store_events(stream: Any) -> None:
        """Batch every event into ClickHouse; offsets advance only after the rows are stored."""
        # Faust hands a topic's messages to an agent only once the agent iterates its stream, so
        # the loop starts before the store is open: waiting first lost what the others read then
        sink: Sink | None = None
        async for batch in stream.take_events(worker.sink.batch_rows, within=worker.sink.batch_s):
            if sink is None:
                store = await readiness.opened_store()
                sink = Sink(store, context, worker.time_limits(), on_retry=unreachable)
            await readiness.wait_context()
            messages = once_each([message_of(event) for event in batch])
            for topic, count in Counter(m.topic for m in messages).items():
                metrics.EVENTS_IN.labels("sink", topic).inc(count)
            ends = _end_offsets(app, messages)
            result = await asyncio.to_thread(sink.write, messages, ends)
            readiness.reachable(True)
            counters.add("sink_rows", result.rows)
            await _dead_letter_refused(outbox, messages, result)
            await outbox.settle()


async def _dead_letter_refused(
    outbox: Outbox, messages: list[Message], result: BatchResult
) -> None:
    """Dead-letter what the sink refused on the topics it owns, and what ClickHouse refused."""
    now = now_ms()
    for index, error in result.undecodable.items():
        if messages[index].topic in SINK_OWNED_TOPICS:
            await outbox.dead_letter(dead_letter_of(messages[index], error, now), error)
    for index, reason in result.refused.items():
        message = messages[index]
        if message.topic == topics.DEAD_LETTERS:
            # it stays on the dead-letter topic; sending it there again would loop
            log.error("dead letter %s[%s]@%s not stored: %s", *message.where, reason)
            continue
        refused = InvalidEventError(f"not stored: {reason}", "store_refused")
        await outbox.dead_letter(dead_letter_of(message, refused, now), refused)


def message_of(event: EventT) -> Message:
    """The sink's view of a Faust event."""
    message = event.message
    value = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
    key = message.key if isinstance(message.key, bytes) else None
    stamp = int(message.timestamp * 1000) if message.timestamp else None
    return Message(message.topic, message.partition, message.offset, value, key, stamp)


def _end_offsets(app: faust.App, messages: list[Message]) -> dict[tuple[str, int], int]:
    consumer = app.consumer
    ends = {}
    for topic, partition in {(m.topic, m.partition) for m in messages}:
        end = consumer.highwater(TP(topic, partition)) if consumer else None
        if end is not None:
            ends[(topic, partition)] = end
    return ends
