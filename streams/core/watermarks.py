"""Event-time watermarks of a partition: per input topic, and the one that closes its windows
(pure, serialisable with to_dict/from_dict)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RECEIVING_MS = 2_000  # a topic that delivered events this recently is still receiving them


@dataclass
class PartitionClock:
    """Watermark of one partition: newest event time minus the allowed lateness, advanced by
    the wall clock while the partition is idle so that silent machines' windows still close."""

    lateness_ms: int
    idle_ms: int
    max_event_time: int | None = None
    last_arrival_ms: int | None = None
    watermark: int | None = None

    def observe(self, event_time: int, arrival_ms: int) -> None:
        """Take an event's time and arrival; the watermark follows the newest event time."""
        if self.max_event_time is None or event_time > self.max_event_time:
            self.max_event_time = event_time
        self.last_arrival_ms = arrival_ms
        self._raise_to(self.max_event_time - self.lateness_ms)

    def receiving(self, now_ms: int) -> bool:
        """Whether events are still arriving: some came within the last RECEIVING_MS (or the
        idle timeout, if shorter) before `now_ms`."""
        within = min(self.idle_ms, RECEIVING_MS)
        return self.last_arrival_ms is not None and now_ms - self.last_arrival_ms <= within

    def advance(self, now_ms: int) -> int | None:
        """The watermark, moved on by the time the partition has been idle past `idle_ms`."""
        if self.max_event_time is None or self.last_arrival_ms is None:
            return self.watermark
        idle = now_ms - self.last_arrival_ms - self.idle_ms
        if idle > 0:
            self._raise_to(self.max_event_time - self.lateness_ms + idle)
        return self.watermark

    def _raise_to(self, candidate: int) -> None:
        if self.watermark is None or candidate > self.watermark:
            self.watermark = candidate

    def to_dict(self) -> dict[str, Any]:
        """The clock's state; its settings come from the configuration of the running worker."""
        return {
            "max_event_time": self.max_event_time,
            "last_arrival_ms": self.last_arrival_ms,
            "watermark": self.watermark,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], lateness_ms: int, idle_ms: int) -> PartitionClock:
        """The clock of `to_dict`, with the running worker's lateness and idle settings."""
        return cls(lateness_ms, idle_ms, **data)


def partition_watermark(
    clocks: dict[str, PartitionClock], lagging: set[str], now_ms: int, previous: int | None
) -> int | None:
    """Watermark of a partition fed by several topics. A topic the worker has not yet read to
    its end holds the watermark back to its own (the topics of one partition are not read in
    step), and so does a topic read to its end that is still receiving events (its end moves
    on: a producer may deliver one topic's backlog before another's). When every topic is read
    to its end and none is receiving, the most advanced clock, moved on by the wall clock once
    idle, leads (a sparse topic such as the MES events' does not hold the others back). Never
    goes back."""
    held: list[int | None] = [clocks[t].watermark if t in clocks else None for t in lagging]
    held += [c.watermark for t, c in clocks.items() if t not in lagging and c.receiving(now_ms)]
    if held:
        if any(w is None for w in held):
            return previous
        candidate = min(w for w in held if w is not None)
    else:
        advanced = [
            w for w in (clock.advance(now_ms) for clock in clocks.values()) if w is not None
        ]
        if not advanced:
            return previous
        candidate = max(advanced)
    return candidate if previous is None else max(previous, candidate)
