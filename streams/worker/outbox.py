"""The outbox: sends what processors return — events, alert steps, dead letters — to Kafka."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import topics
from schemas.codec import encode
from schemas.events import Alert, DeadLetter
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.alerts import SeverityRules
from streams.processors.protocol import Outputs
from streams.worker.producer import OutputProducer

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """What this worker process has done since it started (reported on /health; each process
    counts from zero, the store holds the totals)."""

    counts: dict[str, int] = field(default_factory=dict)
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def add(self, name: str, amount: int = 1) -> None:
        """Count `amount` more of `name`."""
        self.counts[name] = self.counts.get(name, 0) + amount


class Outbox:
    """Publishes on LinePulse's topics, keyed by asset; alert severities follow the rules.
    What is sent is acknowledged by Kafka once `settle` returns."""

    def __init__(
        self, producer: OutputProducer, severities: SeverityRules, counters: Counters
    ) -> None:
        self.producer = producer
        self.severities = severities
        self.counters = counters

    async def send(self, topic: str, key: str, value: bytes, partition: int | None = None) -> None:
        """Publish one message."""
        await self.producer.send(topic, key.encode(), value, partition)
        metrics.EVENTS_OUT.labels(topic).inc()

    async def settle(self) -> None:
        """Wait until Kafka has acknowledged everything sent so far."""
        await self.producer.settle()

    async def deliver(self, outputs: Outputs) -> None:
        """Send everything a processor step returned, dead letters first."""
        for letter, error in outputs.dead_letters:
            await self.dead_letter(letter, error)
        for emit in outputs.emits:
            asset: str = getattr(emit.event, "asset", "unknown")
            if emit.topic == topics.OEE_RESULTS:
                self.counters.add("oee_rows")
            if isinstance(emit.event, Alert) and emit.topic == topics.ALERTS:
                metrics.ALERTS.labels(emit.event.alert_kind, emit.event.status).inc()
                self.counters.add("alerts")
            await self.send(emit.topic, asset, encode(emit.event))
        for alert in outputs.alerts:
            await self.alert(alert)

    async def alert(self, alert: Alert) -> None:
        """Publish a processor's alert step, with the severity the rules give it, to the alarm
        processor (which publishes the alarm's steps on the alert topic)."""
        severity = self.severities.severity(alert.alert_kind, alert.asset, alert.severity)
        if severity != alert.severity:
            alert = alert.model_copy(update={"severity": severity})
        await self.send(topics.ALERT_CONDITIONS, alert.asset, encode(alert))

    async def dead_letter(self, letter: DeadLetter, error: InvalidEventError) -> None:
        """Publish a dead letter and log it with where the message came from."""
        metrics.DEAD_LETTERS.labels(letter.source_topic, error.error_type).inc()
        self.counters.add("dead_letters")
        log.warning(
            "dead letter from %s[%s]@%s: %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            error.reason,
            extra=_where(letter, error),
        )
        await self.send(topics.DEAD_LETTERS, letter.asset, encode(letter))


def _where(letter: DeadLetter, error: InvalidEventError) -> dict[str, Any]:
    return {
        "asset": letter.asset,
        "event_id": letter.id,
        "topic": letter.source_topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "error_type": error.error_type,
    }
