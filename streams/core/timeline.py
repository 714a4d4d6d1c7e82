"""Rows of events kept in time order, as the windows and the group plans hold them (pure).

A row is a list whose first item is the event time and last the event id; ties in time are
ordered by id, so that the order events arrive in never changes a result.
"""

from __future__ import annotations

import bisect
from typing import Any

from streams.core.oee import PlannedStop


def _row_key(row: list[Any]) -> tuple[int, str]:
    return row[0], str(row[-1])


def insert_sorted(rows: list[list[Any]], row: list[Any]) -> None:
    """Keep rows ordered by time, ties by their last column (the event id), so that the
    order events arrive in never changes the result."""
    bisect.insort_right(rows, row, key=_row_key)


def latest_at(rows: list[list[Any]], time_ms: int) -> list[Any] | None:
    """The last row at or before `time_ms` (rows sorted as insert_sorted keeps them)."""
    index = bisect.bisect_right(rows, (time_ms, "\uffff"), key=_row_key) - 1
    return rows[index] if index >= 0 else None


def stop_intervals(rows: list[list[Any]], until: int) -> list[PlannedStop]:
    """Planned stops from [time, reason, started 1|0, id] rows; one still open runs to `until`."""
    open_since: dict[str, int] = {}
    intervals = []
    for t, reason, started, _ in rows:
        if started:
            open_since.setdefault(reason, t)
        elif reason in open_since:
            intervals.append(PlannedStop(open_since.pop(reason), t, reason))
    intervals.extend(PlannedStop(t, max(until, t), r) for r, t in open_since.items())
    return intervals


def keep_from(rows: list[list[Any]], cut: int, keep_last_before: bool) -> list[list[Any]]:
    """The rows from `cut` on, and the last one before it where that still holds."""
    later = [r for r in rows if r[0] >= cut]
    if keep_last_before:
        earlier = [r for r in rows if r[0] < cut]
        if earlier:
            return [earlier[-1], *later]
    return later
