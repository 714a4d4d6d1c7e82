"""Event-time tumbling windows of one machine's states and counts (the partitions' watermarks
that close them are in streams.core.watermarks).

Pure and serialisable (to_dict/from_dict), so that the worker can keep it in a changelog table
and a restarted worker resumes where the last one stopped. Work orders and planned stops
sent on a machine's station, line or plant are not buffered here: they live in a GroupPlans
(streams.core.plans), passed to `totals`, `close` and `provisional`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas.events import (
    MachineState,
    PlannedStopEnded,
    PlannedStopStarted,
    PlcCounter,
    ProductionCount,
    WorkOrderEnded,
    WorkOrderStarted,
)
from schemas.exceptions import LinePulseError
from schemas.states import State, state_family
from streams.core.calendar import ShiftCalendar
from streams.core.oee import (
    DEFAULT_CATEGORIES,
    Count,
    OeeTotals,
    PlannedStop,
    StateCategories,
    StateChange,
    counter_deltas,
    window_totals,
)
from streams.core.timeline import insert_sorted, keep_from, latest_at, stop_intervals

if TYPE_CHECKING:
    from streams.core.plans import GroupPlans, GroupRows

WindowInput = (
    MachineState
    | ProductionCount
    | PlcCounter
    | WorkOrderStarted
    | WorkOrderEnded
    | PlannedStopStarted
    | PlannedStopEnded
)


WINDOW_KINDS = frozenset(
    {
        "machine.state",
        "machine.count",
        "machine.counter",
        "mes.work_order.started",
        "mes.work_order.ended",
        "mes.planned_stop.started",
        "mes.planned_stop.ended",
    }
)


class TooLateError(LinePulseError):
    """An event belongs to a window that has already been closed and emitted."""


def window_start(time_ms: int, window_ms: int) -> int:
    """The start of the window of `window_ms` holding `time_ms`."""
    return time_ms - time_ms % window_ms


@dataclass(frozen=True)
class ClosedWindow:
    """The OEE totals of one asset over [start, end), final or provisional."""

    asset: str
    start: int
    end: int
    totals: OeeTotals
    provisional: bool


@dataclass
class MachineWindows:
    """Buffered events of one machine for its open windows."""

    asset: str
    window_ms: int
    closed_until: int | None = None
    states: list[list[Any]] = field(default_factory=list)  # [time, state, event id]
    counts: list[list[Any]] = field(default_factory=list)  # [time, good, scrap]
    # name -> [time, value, modulus | None, event id] (snapshots of older versions: no modulus)
    counters: dict[str, list[list[Any]]] = field(default_factory=dict)
    orders: list[list[Any]] = field(default_factory=list)  # [time, ideal_cycle_time_s | None]
    stops: list[list[Any]] = field(default_factory=list)  # [time, reason, started 1|0]
    first_time: int | None = None
    # the event ids of each kind of row, built from the rows when first needed (not saved)
    _ids: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)

    def _rows_for(self, event: WindowInput) -> tuple[str, list[list[Any]]]:
        if isinstance(event, MachineState):
            return "states", self.states
        if isinstance(event, ProductionCount):
            return "counts", self.counts
        if isinstance(event, PlcCounter):
            return f"counter:{event.counter}", self.counters.setdefault(event.counter, [])
        if isinstance(event, WorkOrderStarted | WorkOrderEnded):
            return "orders", self.orders
        return "stops", self.stops

    def _known_ids(self) -> dict[str, set[str]]:
        if self._ids is None:
            kinds = {
                "states": self.states,
                "counts": self.counts,
                "orders": self.orders,
                "stops": self.stops,
                **{f"counter:{name}": rows for name, rows in self.counters.items()},
            }
            self._ids = {kind: {row[-1] for row in rows} for kind, rows in kinds.items()}
        return self._ids

    def add(self, event: WindowInput) -> bool:
        """Buffer an event; False when the same event (by id) is already buffered, as after a
        replay, so that redelivery never counts twice."""
        kind, rows = self._rows_for(event)
        ids = self._known_ids().setdefault(kind, set())
        if event.id in ids:
            return False
        if self.closed_until is not None and event.time < self.closed_until:
            msg = (
                f"event at {event.time} for {self.asset} is older than its closed window end "
                f"{self.closed_until}; raise the allowed lateness if such delays are normal"
            )
            raise TooLateError(msg)
        if self.first_time is None or event.time < self.first_time:
            self.first_time = event.time
        ids.add(event.id)
        if isinstance(event, MachineState):
            insert_sorted(rows, [event.time, event.state, event.id])
        elif isinstance(event, ProductionCount):
            not_good = event.scrap + event.rework
            insert_sorted(rows, [event.time, event.good, not_good, event.id])
        elif isinstance(event, PlcCounter):
            insert_sorted(rows, [event.time, event.value, event.modulus, event.id])
        elif isinstance(event, WorkOrderStarted):
            insert_sorted(rows, [event.time, event.ideal_cycle_time_s, event.id])
        elif isinstance(event, WorkOrderEnded):
            insert_sorted(rows, [event.time, None, event.id])
        else:
            started = 1 if isinstance(event, PlannedStopStarted) else 0
            insert_sorted(rows, [event.time, event.reason, started, event.id])
        return True

    def _cycle_time_at(self, time_ms: int, above: Sequence[GroupRows] = ()) -> float | None:
        """The machine's own work order if it has a work-order event at or before the time,
        else the most specific group's above it that has one (station, line, plant)."""
        row = latest_at(self.orders, time_ms)
        if row is None:
            for group in above:
                row = latest_at(group.orders, time_ms)
                if row is not None:
                    break
        return row[1] if row is not None else None

    def _count_runs(self, above: Sequence[GroupRows]) -> list[list[Count]]:
        """The counts, each in time order: the machine's own, then each counter's increments."""
        runs = [
            [
                Count(t, good, scrap, self._cycle_time_at(t, above))
                for t, good, scrap, _ in self.counts
            ]
        ]
        for name, readings in self.counters.items():
            values = [(r[0], r[1], r[2] if len(r) > 3 else None) for r in readings]
            run = []
            for t, delta in counter_deltas(values, None):
                good, scrap = (delta, 0) if name == "good" else (0, delta)
                run.append(Count(t, good, scrap, self._cycle_time_at(t, above)))
            runs.append(run)
        return runs

    def _planned_stops(self, until: int) -> list[PlannedStop]:
        return stop_intervals(self.stops, until)

    def _above(self, plans: GroupPlans | None) -> list[GroupRows]:
        return plans.above(self.asset) if plans is not None else []

    def totals(
        self,
        start: int,
        end: int,
        categories: StateCategories,
        horizon: int | None = None,
        calendar: ShiftCalendar | None = None,
        plans: GroupPlans | None = None,
    ) -> OeeTotals:
        """Figures of [start, end); the calendar's breaks and no-shift time are planned stops
        like those MES reports. With `plans`, work orders and planned stops sent on the
        machine's station, line or plant hold for it too (its own work order wins)."""
        timeline = self._timeline(end, self._above(plans))
        return timeline.totals(start, end, categories, horizon, calendar)

    def _timeline(self, until: int, above: Sequence[GroupRows]) -> _Timeline:
        """What the machine holds, made ready once for every window ending by `until`."""
        states = [StateChange(t, s) for t, s, _ in self.states]
        group_stops = [s for group in above for s in stop_intervals(group.stops, until)]
        return _Timeline(
            self.asset,
            states,
            [s.time for s in states],
            [([c.time for c in run], run) for run in self._count_runs(above)],
            self._planned_stops(until),
            group_stops,
        )

    def _stop_undecided(self, end: int, horizon: int, categories: StateCategories) -> bool:
        """An unspecified stop still running at `end` whose length decides between microstop
        and availability loss: its window waits until it ends or outlasts the microstop limit."""
        if not self.states or self.states[-1][0] >= end:
            return False
        since, code = self.states[-1][0], self.states[-1][1]
        return (
            state_family(code) == State.UNSPECIFIED_STOP
            and horizon - since <= categories.microstop_max_s * 1000
        )

    def next_window_start(self) -> int | None:
        """The start of the first window not closed yet; None before any event."""
        if self.closed_until is not None:
            return self.closed_until
        if self.first_time is None:
            return None
        return window_start(self.first_time, self.window_ms)

    def close(
        self,
        watermark: int,
        categories: StateCategories = DEFAULT_CATEGORIES,
        limit: int = 1440,
        calendar: ShiftCalendar | None = None,
        plans: GroupPlans | None = None,
    ) -> list[ClosedWindow]:
        """Emit every window that ends at or before `watermark`, then forget what it held
        (the group plans stay in `plans`)."""
        start = self.next_window_start()
        timeline = self._timeline(watermark, self._above(plans))
        closed: list[ClosedWindow] = []
        while start is not None and start + self.window_ms <= watermark and len(closed) < limit:
            end = start + self.window_ms
            if self._stop_undecided(end, watermark, categories):
                break
            totals = timeline.totals(start, end, categories, watermark, calendar)
            closed.append(ClosedWindow(self.asset, start, end, totals, provisional=False))
            start = end
        if closed:
            self._forget_before(closed[-1].end)
        return closed

    def provisional(
        self,
        newest_event: int,
        categories: StateCategories = DEFAULT_CATEGORIES,
        calendar: ShiftCalendar | None = None,
        plans: GroupPlans | None = None,
    ) -> ClosedWindow | None:
        """The open window holding the newest event, over its part up to that event."""
        start = self.next_window_start()
        if start is None or newest_event < start:
            return None
        start = max(start, window_start(newest_event, self.window_ms))
        end = start + self.window_ms
        known_until = newest_event + 1
        totals = self.totals(start, min(end, known_until), categories, known_until, calendar, plans)
        return ClosedWindow(self.asset, start, end, totals, provisional=True)

    def _forget_before(self, cut: int) -> None:
        self.closed_until = cut
        self._ids = None
        self.states = keep_from(self.states, cut, keep_last_before=True)
        self.counts = keep_from(self.counts, cut, keep_last_before=False)
        self.orders = keep_from(self.orders, cut, keep_last_before=True)
        self.counters = {
            name: keep_from(rows, cut, keep_last_before=True)
            for name, rows in self.counters.items()
        }
        still_open = self._planned_stops(cut)
        self.stops = [
            *([s.start, s.reason, 1, ""] for s in still_open if s.end >= cut and s.start < cut),
            *(r for r in self.stops if r[0] >= cut),
        ]

    def to_dict(self) -> dict[str, Any]:
        """What the machine holds, as plain data for snapshots."""
        return {
            "asset": self.asset,
            "window_ms": self.window_ms,
            "closed_until": self.closed_until,
            "first_time": self.first_time,
            "states": self.states,
            "counts": self.counts,
            "counters": self.counters,
            "orders": self.orders,
            "stops": self.stops,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MachineWindows:
        """The machine windows of `to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class _Timeline:
    """A machine's buffered events as the inputs of `window_totals`, built once for all the
    windows one close emits: after a backlog that is a day of minutes, and each window reads
    only its own slice instead of the whole buffer."""

    asset: str
    states: list[StateChange]
    state_times: list[int]
    count_runs: list[tuple[list[int], list[Count]]]  # (times, counts), each run in time order
    stops: list[PlannedStop]  # the machine's own
    group_stops: list[PlannedStop]  # sent on its station, line or plant

    def totals(
        self,
        start: int,
        end: int,
        categories: StateCategories,
        horizon: int | None,
        calendar: ShiftCalendar | None,
    ) -> OeeTotals:
        """Figures of [start, end), as `window_totals` over the whole buffer gives them."""
        # the last state at or before the start, those inside, and the first one after (which
        # ends the last episode)
        low = max(bisect_right(self.state_times, start) - 1, 0)
        high = bisect_left(self.state_times, end) + 1
        counts = [
            count
            for times, run in self.count_runs
            for count in run[bisect_left(times, start) : bisect_left(times, end)]
        ]
        stops = [*self.stops, *(s for s in self.group_stops if s.start < end and s.end > start)]
        if calendar is not None:
            stops += calendar.planned_stops(self.asset, start, end)
        states = self.states[low:high]
        return window_totals(start, end, states, counts, stops, categories, horizon)
