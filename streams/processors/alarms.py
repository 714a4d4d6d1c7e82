"""The alarm processor (pure): the other processors' alert steps (on an internal topic),
operators' actions and the MES topic's planned stops in, every change of every alarm out on the
alert topic, one alarm book per partition (all three inputs are keyed by asset).

A machine's planned stop arrives with its alarms, in the same partition; a plant's, line's or
station's comes from the group plans every worker reads from the whole MES topic, and is
looked at on every tick."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas import topics
from schemas.alarms import AlarmAction
from schemas.events import Alert, PlannedStopEnded, PlannedStopStarted
from schemas.exceptions import InvalidEventError
from streams.core.alarms import ActionRefused, AlarmBook, AlarmPolicy
from streams.core.event_time import TimeLimits
from streams.core.plans import GroupPlans, is_group_plan
from streams.processors.acceptance import accept
from streams.processors.protocol import Message, Outputs, Snapshot, each_new, refusals

INPUTS: tuple[str, ...] = (topics.ALERT_CONDITIONS, topics.ALARM_ACTIONS, topics.MES_EVENTS)


@dataclass
class AlarmPartition:
    """One partition's open alarms and the offsets taken."""

    book: AlarmBook
    applied: dict[str, int] = field(default_factory=dict)


class AlarmProcessor:
    """Alarms after ISA-18.2: acknowledged, shelved, assigned, escalated, suppressed."""

    inputs = INPUTS

    def __init__(
        self,
        policy: AlarmPolicy | None = None,
        limits: TimeLimits | None = None,
        plans: GroupPlans | None = None,
    ) -> None:
        self.policy = policy or AlarmPolicy()
        self.limits = limits or TimeLimits()
        self.plans = plans if plans is not None else GroupPlans()
        self._partitions: dict[int, AlarmPartition] = {}

    def holds(self, partition: int) -> bool:
        """Whether the partition has been restored (or started) here."""
        return partition in self._partitions

    def restore(self, partition: int, snapshot: Snapshot | None) -> None:
        """Take up `partition` from its snapshot, or from nothing."""
        book = AlarmBook(self.policy)
        book.restore((snapshot or {}).get("book"))
        applied = dict((snapshot or {}).get("applied", {}))
        self._partitions[partition] = AlarmPartition(book, applied)

    def snapshot(self, partition: int) -> Snapshot:
        """The partition's open alarms and offsets."""
        state = self._state(partition)
        return {"book": state.book.to_dict(), "applied": dict(state.applied)}

    def forget(self, partition: int) -> None:
        """Drop a partition revoked from this worker."""
        self._partitions.pop(partition, None)

    def applied(self, partition: int) -> Mapping[str, int]:
        """The last offset taken per input topic."""
        return self._state(partition).applied

    def _state(self, partition: int) -> AlarmPartition:
        if partition not in self._partitions:
            self.restore(partition, None)
        return self._partitions[partition]

    def process(self, messages: Sequence[Message], now_ms: int) -> Outputs:
        """Alert steps move their alarms; actions change them, or are dead-lettered with the
        reason they do not apply."""
        out = Outputs()
        for message in each_new(messages, lambda p: self._state(p).applied):
            book = self._state(message.partition).book
            if message.topic == topics.MES_EVENTS:
                _follow_stops(book, message, self.limits, now_ms, out)
                continue
            with refusals(out, message, now_ms):
                event = accept(message, self.limits, now_ms)
                if isinstance(event, AlarmAction):
                    out.emit(topics.ALERTS, _acted(book, event))
                elif isinstance(event, Alert):
                    for step in book.condition(event):
                        out.emit(topics.ALERTS, step)
                else:
                    reason = f"expected an alert step or an alarm action: {type(event).__name__}"
                    raise InvalidEventError(reason, "schema")
        return out

    def tick(self, partition: int, tick_ms: int, lagging: frozenset[str]) -> Outputs:
        """Shelves that ran out and escalations; none while an input is still being caught up
        (an acknowledgement may be waiting in it)."""
        out = Outputs()
        book = self._state(partition).book
        for group, stopped in self.plans.stopped(tick_ms).items():
            for step in book.planned_stop(group, stopped, tick_ms):
                out.emit(topics.ALERTS, step)
        if not lagging:
            for step in book.tick(tick_ms):
                out.emit(topics.ALERTS, step)
        return out


def _follow_stops(
    book: AlarmBook, message: Message, limits: TimeLimits, now_ms: int, out: Outputs
) -> None:
    """A machine's planned stop starts or ends (invalid MES events are the OEE processor's to
    dead-letter; group stops come from the plans)."""
    try:
        event = accept(message, limits, now_ms)
    except InvalidEventError:
        return
    if isinstance(event, PlannedStopStarted | PlannedStopEnded) and not is_group_plan(event):
        started = isinstance(event, PlannedStopStarted)
        for step in book.planned_stop(event.asset, started, event.time):
            out.emit(topics.ALERTS, step)


def _acted(book: AlarmBook, action: AlarmAction) -> Alert:
    try:
        return book.act(action)
    except ActionRefused as refused:
        raise InvalidEventError(str(refused), "action_refused") from refused
