"""An input loop (the processors', the sink's): consume a batch, hand each handler its topics'
messages, mark the batch done; partitions taken up are recovered before their messages, those
given away are forgotten. Runs as a service of the worker's Faust application, and a failure of
the loop crashes the worker (a supervisor restarts it; its inputs are read again from the last
commit)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import faust
import orjson
from mode import Service

from schemas import topics
from schemas.events import now_ms
from streams.processors.protocol import Message
from streams.worker.kafka_input import Changes, KafkaInput
from streams.worker.outbox import Outbox

log = logging.getLogger(__name__)


class Handler(Protocol):
    """What the loop drives: a processor's shell."""

    @property
    def topics(self) -> frozenset[str]:
        """The topics it reads."""
        ...

    async def take_up(self, partitions: set[int]) -> None:
        """Recover the state of newly assigned partitions."""
        ...

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the state of revoked partitions."""
        ...

    async def step(self, messages: Sequence[Message]) -> None:
        """Process a batch of its topics' messages (in partition order)."""
        ...


async def follow(changes: Changes, handlers: Sequence[Handler]) -> None:
    """Give the handlers the partitions revoked and assigned, revocations first."""
    for handler in handlers:
        revoked = {p for topic, p in changes.revoked if topic in handler.topics}
        assigned = {p for topic, p in changes.assigned if topic in handler.topics}
        if revoked:
            handler.forget(revoked)
        if assigned:
            await handler.take_up(assigned)


async def run_input(
    source: KafkaInput,
    handlers: Sequence[Handler],
    batch_events: int,
    batch_s: float,
    ready: Callable[[], Awaitable[None]],
) -> None:
    """Read `source` for ever: `ready` holds each batch until the worker can process it."""
    await source.start()
    while True:
        messages = await source.consume(batch_events, batch_s)
        changes = source.changes()
        if changes:
            await follow(changes, handlers)
        if not messages:
            continue
        await ready()
        for handler in handlers:
            mine = [m for m in messages if m.topic in handler.topics]
            if mine:
                await handler.step(mine)
        await source.done(messages)


def serve_input(
    app: faust.App,
    name: str,
    source: KafkaInput,
    handlers: Sequence[Handler],
    settings: tuple[int, float],
    hooks: tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]],
    ticks: tuple[Outbox, float, int] | None,
) -> None:
    """Run the loop as service `name` of `app`, with `settings` (batch events, batch seconds) and
    `hooks` (run once before the input joins its group; holds each batch until the worker is
    ready); `ticks`, when given (outbox, interval, partitions), sends the window clock to every
    partition from whichever process holds partition 0."""
    batch_events, batch_s = settings
    prepare, ready = hooks

    class InputService(Service):
        """An input loop."""

        @Service.task
        async def _read(self) -> None:
            try:
                await prepare()
                await run_input(source, handlers, batch_events, batch_s, ready)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed: the worker stops", name)
                raise

        @Service.task
        async def _tick(self) -> None:
            if ticks is None:
                return
            outbox, interval_s, partitions = ticks
            while not self.should_stop:
                await self.sleep(interval_s)
                if source.holds(topics.WINDOW_TICKS, 0):
                    await send_ticks(outbox, partitions)

        async def on_stop(self) -> None:
            """Commit what is done and leave the group."""
            await source.close()

    app.service(type(name, (InputService,), {"__doc__": f"The input loop {name}."}))


async def send_ticks(outbox: Outbox, partitions: int) -> None:
    """The clock, to every partition of the window tick topic."""
    tick = orjson.dumps({"time": now_ms()})
    for partition in range(partitions):
        await outbox.send(topics.WINDOW_TICKS, "tick", tick, partition=partition)
