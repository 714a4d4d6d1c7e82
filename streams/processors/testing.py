"""Run a processor over events and clock ticks with no broker, as the worker would.

run = ProcessorRun(OeeProcessor(OeeConfig(window_ms=10_000)))
run.send(topics.MACHINE_EVENTS, MachineState(...), now_ms=...)
outputs = run.tick(tick_ms=...)
run.restart()   # snapshot, a new processor, restore: what a restarted worker does
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from schemas.codec import encode
from schemas.events import Event
from streams.processors.protocol import Message, Outputs, Processor, Snapshot


@dataclass
class ProcessorRun:
    """A processor fed by hand: messages get offsets per topic and partition as Kafka gives
    them; `restart` carries its snapshots into a fresh processor from `factory`."""

    processor: Processor
    factory: Callable[[], Processor] | None = None
    lagging: frozenset[str] = frozenset()
    _offsets: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    sent: list[Message] = field(default_factory=list)

    def message(
        self,
        topic: str,
        value: bytes | Event,
        partition: int = 0,
        timestamp_ms: int | None = None,
    ) -> Message:
        """The next message of `topic`/`partition` holding `value` (an event is encoded)."""
        raw = encode(value) if isinstance(value, Event) else value
        key = value.asset.encode() if isinstance(value, Event) else None
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] = offset + 1
        message = Message(topic, partition, offset, raw, key, timestamp_ms)
        self.sent.append(message)
        return message

    def send(
        self,
        topic: str,
        values: Iterable[bytes | Event],
        now_ms: int,
        partition: int = 0,
    ) -> Outputs:
        """Process a batch of `values` on one topic and partition."""
        batch = [self.message(topic, v, partition, now_ms) for v in values]
        return self.processor.process(batch, now_ms)

    def redeliver(self, messages: list[Message], now_ms: int) -> Outputs:
        """Hand the processor messages again, as Kafka does after a crash."""
        return self.processor.process(messages, now_ms)

    def tick(self, tick_ms: int, partition: int = 0) -> Outputs:
        """Wake the processor's clock for one partition."""
        return self.processor.tick(partition, tick_ms, self.lagging)

    def snapshots(self, partitions: Iterable[int] = (0,)) -> dict[int, Snapshot]:
        """The processor's snapshot of each partition."""
        return {p: self.processor.snapshot(p) for p in partitions}

    def restart(self, partitions: Iterable[int] = (0,)) -> None:
        """Snapshot, then continue with a new processor restored from the snapshots."""
        if self.factory is None:
            msg = "ProcessorRun.restart needs a factory that makes a fresh processor"
            raise ValueError(msg)
        saved = orjson.dumps({str(p): s for p, s in self.snapshots(partitions).items()})
        self.processor = self.factory()
        for partition, snapshot in orjson.loads(saved).items():
            self.processor.restore(int(partition), snapshot)


@dataclass
class MemoryModels:
    """A `ModelStore` in memory: checkpoints outlive the processor that wrote them."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def load(self, key: str) -> bytes | None:
        """The model's last checkpoint, if any."""
        return self.blobs.get(key)

    def save(self, partition: int, key: str, blob: bytes) -> None:
        """Checkpoint a model."""
        self.blobs[key] = blob
