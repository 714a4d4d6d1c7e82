"""The processor protocol: what a processor takes, what it returns, what it remembers."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.events import Alert, DeadLetter, Event, asset_or_unknown
from schemas.exceptions import InvalidEventError

Snapshot = dict[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One input message as Kafka delivered it; `timestamp_ms` is when Kafka received it."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    timestamp_ms: int | None = None

    @property
    def where(self) -> tuple[str, int, int]:
        """Topic, partition and offset, for logs."""
        return self.topic, self.partition, self.offset


@dataclass(frozen=True)
class Emit:
    """An event to publish on `topic`, keyed by its asset."""

    topic: str
    event: Event


@dataclass
class Outputs:
    """What a processor step returns: events to publish, alert steps, dead letters."""

    emits: list[Emit] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[tuple[DeadLetter, InvalidEventError]] = field(default_factory=list)

    def emit(self, topic: str, event: Event) -> None:
        """Publish `event` on `topic`."""
        self.emits.append(Emit(topic, event))

    def alert(self, alert: Alert | None) -> None:
        """Publish an alert lifecycle step, if there is one."""
        if alert is not None:
            self.alerts.append(alert)

    def dead_letter(self, message: Message, error: InvalidEventError, now_ms: int) -> None:
        """Send `message` to the dead-letter topic with the reason it was refused."""
        self.dead_letters.append((dead_letter_of(message, error, now_ms), error))

    def extend(self, other: Outputs) -> None:
        """Append everything `other` holds."""
        self.emits.extend(other.emits)
        self.alerts.extend(other.alerts)
        self.dead_letters.extend(other.dead_letters)

    def __bool__(self) -> bool:
        return bool(self.emits or self.alerts or self.dead_letters)


def each_new(
    messages: Iterable[Message], taken: Callable[[int], dict[str, int]]
) -> Iterator[Message]:
    """The messages not taken before, each marked as taken in its partition's offsets
    (`taken`): after a crash Kafka hands over again what the snapshot already holds."""
    for message in messages:
        offsets = taken(message.partition)
        if message.offset <= offsets.get(message.topic, -1):
            continue
        offsets[message.topic] = message.offset
        yield message


@contextlib.contextmanager
def refusals(out: Outputs, message: Message, now_ms: int) -> Iterator[None]:
    """Whatever processing `message` raises becomes its dead letter: the reason of a refused
    event, or a processing error for a bug (logged), so that the stream goes on."""
    try:
        yield
    except InvalidEventError as error:
        out.dead_letter(message, error, now_ms)
    except Exception as exc:  # noqa: BLE001 - a bug must not stop the stream
        log.exception("processing %s[%s]@%s failed", *message.where)
        out.dead_letter(message, processing_error(exc), now_ms)


def processing_error(exc: Exception) -> InvalidEventError:
    """The dead-letter reason of a message whose processing raised (a bug, not bad input)."""
    return InvalidEventError(f"processing failed: {type(exc).__name__}: {exc}", "processing_error")


def dead_letter_of(message: Message, error: InvalidEventError, now_ms: int) -> DeadLetter:
    """The dead letter of a refused message: where it came from, why, and its payload."""
    key = message.key.decode(errors="replace") if message.key is not None else None
    return DeadLetter(
        time=now_ms,
        asset=asset_or_unknown(key),
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=error.reason,
        error_type=error.error_type,
        payload=payload_text(message.value),
        key=key,
    )


def payload_text(value: bytes) -> str:
    """A refused payload as text: UTF-8 as it is (its first 100,000 characters), anything else
    (a binary batch) whole, as `base64:` and its base64, so that nothing refused is lost."""
    try:
        return value.decode()[:100_000]
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()


class Processor(Protocol):
    """A stateful stream step per input partition, with no Kafka, Faust or ClickHouse inside;
    `inputs` names the topics whose progress its ticks are told (`lagging`)."""

    inputs: tuple[str, ...]

    def process(self, messages: Sequence[Message], now_ms: int) -> Outputs:
        """Take a batch of input messages (of any partitions), in their order per partition."""
        ...

    def tick(self, partition: int, tick_ms: int, lagging: frozenset[str]) -> Outputs:
        """Wake on the clock; `lagging` names the inputs not yet read to their end."""
        ...

    def applied(self, partition: int) -> Mapping[str, int]:
        """The last offset taken per input topic of the partition."""
        ...

    def holds(self, partition: int) -> bool:
        """Whether the partition has been restored (or started) here."""
        ...

    def snapshot(self, partition: int) -> Snapshot:
        """Everything the processor remembers of `partition`, as plain JSON data."""
        ...

    def restore(self, partition: int, snapshot: Snapshot | None) -> None:
        """Take up `partition` from a snapshot (None: from nothing)."""
        ...

    def forget(self, partition: int) -> None:
        """Drop `partition` (it was revoked from this worker)."""
        ...
