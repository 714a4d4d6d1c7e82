"""Checks applied to every event before it is used: schema, then time plausibility."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import Event
from schemas.exceptions import InvalidEventError


@dataclass(frozen=True)
class TimeLimits:
    """How far in the future and in the past an event time may lie."""

    max_future_ms: int = 300_000
    max_past_ms: int = 7 * 86_400_000


def check_event_time(event: Event, now_ms: int, limits: TimeLimits) -> None:
    """Refuse events whose time is implausible against the receiving clock."""
    if event.time > now_ms + limits.max_future_ms:
        reason = (
            f"event time {event.time} is {(event.time - now_ms) / 1000:.0f} s in the future; "
            "check the clock of the sending device (NTP) or its time zone"
        )
        raise InvalidEventError(reason, "time_in_future")
    if event.time < now_ms - limits.max_past_ms:
        reason = (
            f"event time {event.time} is {(now_ms - event.time) / 86_400_000:.1f} days old, older "
            "than LINEPULSE_MAX_EVENT_AGE allows; replay old data with `linepulse oee` instead"
        )
        raise InvalidEventError(reason, "time_too_old")
