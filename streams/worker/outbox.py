"""The outbox: sends what processors return — events, alert steps, dead letters — to Kafka."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust

from schemas import topics
from schemas.codec import encode
from schemas.events import Alert, DeadLetter
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.alerts import SeverityRules
from streams.processors.protocol import Outputs

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
    """Publishes on LinePulse's topics, keyed by asset; alert severities follow the rules."""

    def __init__(self, app: faust.App, severities: SeverityRules, counters: Counters) -> None:
        self.app = app
        self.severities = severities
        self.counters = counters
        self._topics: dict[str, faust.TopicT] = {}

    async def send(self, topic: str, key: str, value: bytes, partition: int | None = None) -> None:
        """Publish one message."""
        if topic not in self._topics:
            self._topics[topic] = self.app.topic(
                topic, key_serializer="raw", value_serializer="raw"
            )
        await self._topics[topic].send(key=key.encode(), value=value, partition=partition)
        metrics.EVENTS_OUT.labels(topic).inc()

    async def deliver(self, outputs: Outputs) -> None:
        """Send everything a processor step returned, dead letters first."""
        for letter, error in outputs.dead_letters:
            await self.dead_letter(letter, error)
        for emit in outputs.emits:
            asset: str = getattr(emit.event, "asset", "unknown")
            if emit.topic == topics.OEE_RESULTS:
                self.counters.add("oee_rows")
            await self.send(emit.topic, asset, encode(emit.event))
        for alert in outputs.alerts:
            await self.alert(alert)

    async def alert(self, alert: Alert) -> None:
        """Publish an alert lifecycle step, counted by kind and status."""
        severity = self.severities.severity(alert.alert_kind, alert.asset, alert.severity)
        if severity != alert.severity:
            alert = alert.model_copy(update={"severity": severity})
        metrics.ALERTS.labels(alert.alert_kind, alert.status).inc()
        self.counters.add("alerts")
        await self.send(topics.ALERTS, alert.asset, encode(alert))

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
