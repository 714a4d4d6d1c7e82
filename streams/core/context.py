"""Production context over time, from MES events (pure).

Per asset and per field (work order, product, shift, vehicle, operator) the book keeps the
values in force from each MES event's time on. The context of an event is looked up as of its
own time, so events read late or replayed still get the context they happened in. An asset
inherits what its ancestors carry (a shift started for a line holds on its machines); the more
specific asset wins. The station is the first three levels of the asset path.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import Any

from schemas.events import (
    OperatorLogin,
    OperatorLogout,
    ProductionContext,
    ShiftEnded,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderEnded,
    WorkOrderStarted,
)

FIELDS = ("vin", "operator", "work_order", "product", "shift")
Timeline = tuple[list[int], list[str | None]]  # times ascending, the value from each time on
Span = tuple[float, float]  # from (inclusive) to (exclusive), in ms
INFINITY = float("inf")
ANSWERS_KEPT = 100_000  # assets whose last answer is kept
Answer = tuple[float, float, dict[str, str], ProductionContext]  # over a span of time


def changes_of(event: Any) -> dict[str, str | None]:
    """The context fields an MES event sets (a value) or ends (None)."""
    if isinstance(event, WorkOrderStarted):
        return {"work_order": event.work_order, "product": event.product}
    if isinstance(event, WorkOrderEnded):
        return {"work_order": None, "product": None}
    if isinstance(event, ShiftStarted):
        return {"shift": event.shift}
    if isinstance(event, ShiftEnded):
        return {"shift": None}
    if isinstance(event, VehicleAtStation):
        return {"vin": event.vin if event.action == "arrived" else None}
    if isinstance(event, OperatorLogin):
        return {"operator": event.operator}
    if isinstance(event, OperatorLogout):
        return {"operator": None}
    return {}


def ancestors(asset: str) -> list[str]:
    """The asset and its ancestors, most specific first."""
    parts = asset.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


class ContextBook:
    """The production context of every asset over time, bounded per asset and field."""

    def __init__(self, changes_kept: int = 1000) -> None:
        self.changes_kept = changes_kept
        self._timelines: dict[tuple[str, str], Timeline] = defaultdict(lambda: ([], []))
        self._lock = threading.Lock()
        self._answers: dict[str, Answer] = {}

    def apply(self, event: Any) -> bool:
        """Record an MES event; False when it changes no context."""
        changes = changes_of(event)
        with self._lock:
            if changes:
                self._answers.clear()
            for name, value in changes.items():
                times, values = self._timelines[(event.asset, name)]
                index = bisect.bisect_right(times, event.time)
                times.insert(index, event.time)
                values.insert(index, value)
                if len(times) > self.changes_kept:
                    del times[0], values[0]
        return bool(changes)

    def _entry(self, owners: list[str], name: str, time_ms: int) -> tuple[str | None, int | None]:
        """The value of `name` at `time_ms` on the first of `owners` (an asset and its
        ancestors) that has one, and when it was set."""
        value, since, _ = self._lookup(owners, name, time_ms)
        return value, since

    def _lookup(
        self, owners: list[str], name: str, time_ms: int
    ) -> tuple[str | None, int | None, Span]:
        """`_entry`, with the span of times around `time_ms` over which its answer holds."""
        low, high = -INFINITY, INFINITY
        for owner in owners:
            timeline = self._timelines.get((owner, name))
            if timeline is None:
                continue
            times, values = timeline
            index = bisect.bisect_right(times, time_ms)
            if index < len(times):
                high = min(high, times[index])
            if index:
                low = max(low, times[index - 1])
                return values[index - 1], times[index - 1], (low, high)
        return None, None, (low, high)

    def since(self, asset: str, name: str, time_ms: int) -> tuple[str | None, int | None]:
        """A field's value at `time_ms` and the time it was set (e.g. the running shift and
        when it started)."""
        with self._lock:
            return self._entry(ancestors(asset), name, time_ms)

    def _known(self, asset: str, time_ms: int) -> dict[str, str]:
        """The fields known for the asset at that time (and its station), None left out; not
        to be changed by the caller."""
        return self._answer(asset, time_ms)[2]

    def _answer(self, asset: str, time_ms: int) -> Answer:
        """The asset's known fields and their context. An asset's answer is kept with the span
        of times it holds for (readings come in time order, MES events seldom), until the next
        MES event."""
        with self._lock:
            held = self._answers.get(asset)
            if held is not None and held[0] <= time_ms < held[1]:
                return held
            owners = ancestors(asset)
            known: dict[str, str] = {}
            low, high = -INFINITY, INFINITY
            for name in FIELDS:
                value, _, (since, until) = self._lookup(owners, name, time_ms)
                low, high = max(low, since), min(high, until)
                if value is not None:
                    known[name] = value
            parts = asset.split("/")
            if len(parts) >= 3:
                known["station"] = "/".join(parts[:3])
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers.clear()
            fields: dict[str, Any] = known
            answer = (low, high, known, ProductionContext.model_construct(**fields))
            self._answers[asset] = answer
        return answer

    def at(self, asset: str, time_ms: int) -> ProductionContext:
        """The production context of the asset at `time_ms`."""
        return ProductionContext(**self._known(asset, time_ms))

    def enrich(self, event: Any) -> Any:
        """The event with the context in force at its time; fields it carries itself win.
        (Runs for every reading the worker stores: no validation of values already valid.)"""
        if event.context is None:
            _, _, known, context = self._answer(event.asset, event.time)
            return event.model_copy(update={"context": context}) if known else event
        own = event.context.model_dump(exclude_none=True)
        merged = {**self._known(event.asset, event.time), **own}
        if merged == own:
            return event
        context = ProductionContext.model_construct(**merged)
        return event.model_copy(update={"context": context})
