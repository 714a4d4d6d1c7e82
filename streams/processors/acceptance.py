"""Which input messages the pipeline accepts, decided once for the agents and the sink alike.

A message is accepted when it decodes as the contract its topic carries and its event time is
plausible against the time Kafka received it (the message timestamp; the receiving clock when
the broker gives none). Both are the same for every reader of the message, so an event the
agents dead-letter is never stored, and one they take is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import topics
from schemas.binary import SampleBatch, decode_batch, is_binary_batch
from schemas.codec import (
    decode_alarm_action,
    decode_any,
    decode_machine,
    decode_mes,
    decode_sensor,
)
from schemas.events import Event
from streams.core.event_time import TimeLimits, check_event_time
from streams.processors.protocol import Message

Decoder = Callable[[bytes], Any]


def decode_sensor_batch(raw: bytes) -> Event | SampleBatch:
    """A binary sample batch, or a JSON sensor event (both are taken on the batch topic)."""
    return decode_batch(raw) if is_binary_batch(raw) else decode_sensor(raw)


INPUT_DECODERS: dict[str, Decoder] = {
    topics.MACHINE_EVENTS: decode_machine,
    topics.MES_EVENTS: decode_mes,
    topics.SENSOR_READINGS: decode_sensor,
    topics.SENSOR_BATCHES: decode_sensor_batch,
    topics.ALARM_ACTIONS: decode_alarm_action,
}


def is_input(topic: str) -> bool:
    """Whether `topic` carries events from the plant (decided by acceptance) rather than the
    pipeline's own results."""
    return topic in INPUT_DECODERS


def received_ms(message: Message, now_ms: int) -> int:
    """When Kafka received the message, else now."""
    stamp = message.timestamp_ms
    return stamp if stamp is not None and stamp > 0 else now_ms


def accept(message: Message, limits: TimeLimits, now_ms: int) -> Event | SampleBatch:
    """The message's event (a binary batch decoded as samples), or InvalidEventError with the
    reason it is refused."""
    decoder = INPUT_DECODERS.get(message.topic, decode_any)
    event: Event | SampleBatch = decoder(message.value)
    if is_input(message.topic):
        timed = event.header if isinstance(event, SampleBatch) else event
        check_event_time(timed, received_ms(message, now_ms), limits)
    return event
