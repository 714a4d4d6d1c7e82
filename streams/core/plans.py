"""Work orders and planned stops sent on plants, lines and stations, which hold for every
machine below them (pure).

A work order or planned stop may be sent on a group asset (a path of one to three levels)
rather than on a machine. For OEE it then applies to every machine below: the ideal cycle time
of a machine's count is that of its own work order when the machine has a work-order event at
or before the count, else that of the most specific ancestor with one (station, then line, then
plant), the rule ContextBook uses for the production context; planned stops are the union of
the machine's own, its ancestors' and the calendar's. MachineWindows reads the rows kept here,
in its own row formats, through `above()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from schemas.events import (
    PlannedStopEnded,
    PlannedStopStarted,
    WorkOrderEnded,
    WorkOrderStarted,
)
from streams.core.timeline import insert_sorted

GROUP_PLAN_KINDS = frozenset(
    {
        "mes.work_order.started",
        "mes.work_order.ended",
        "mes.planned_stop.started",
        "mes.planned_stop.ended",
    }
)
MACHINE_LEVELS = 4


def is_machine(asset: str) -> bool:
    """A machine's path has all four levels: plant/line/station/machine."""
    return asset.count("/") == MACHINE_LEVELS - 1


def is_group_plan(event: Any) -> bool:
    """A work order or planned stop sent on a plant, line or station."""
    return getattr(event, "kind", None) in GROUP_PLAN_KINDS and not is_machine(event.asset)


def ancestors(asset: str) -> list[str]:
    """The groups above `asset`, most specific first (p/l/s/m -> p/l/s, p/l, p)."""
    parts = asset.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


@dataclass(frozen=True)
class GroupRows:
    """One group's plans, copied: rows as in MachineWindows.orders and .stops."""

    asset: str
    orders: list[list[Any]]  # [time, ideal_cycle_time_s | None, event id]
    stops: list[list[Any]]  # [time, reason, started 1|0, event id]


class GroupPlans:
    """Work orders and planned stops sent on plants, lines and stations, which hold for every
    machine below them.

    Rows are kept per group asset, sorted by time (ties by event id), each event once (by id),
    at most `changes_kept` work-order and as many planned-stop rows per asset (the oldest go
    first; None keeps all, for a batch over a file). A feed thread applies, agents read: every
    access holds a lock.
    """

    def __init__(self, changes_kept: int | None = 1000) -> None:
        self.changes_kept = changes_kept
        self._orders: dict[str, list[list[Any]]] = {}
        self._stops: dict[str, list[list[Any]]] = {}
        self._ids: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def apply(self, event: Any) -> bool:
        """Record a work order or planned stop of a group asset; False for anything else
        (machine-level events included) and for an event already recorded."""
        if not is_group_plan(event):
            return False
        if isinstance(event, WorkOrderStarted):
            table, row = self._orders, [event.time, event.ideal_cycle_time_s, event.id]
        elif isinstance(event, WorkOrderEnded):
            table, row = self._orders, [event.time, None, event.id]
        elif isinstance(event, PlannedStopStarted | PlannedStopEnded):
            started = 1 if isinstance(event, PlannedStopStarted) else 0
            table, row = self._stops, [event.time, event.reason, started, event.id]
        else:
            return False
        with self._lock:
            ids = self._ids.setdefault(event.asset, set())
            if event.id in ids:
                return False
            ids.add(event.id)
            rows = table.setdefault(event.asset, [])
            insert_sorted(rows, row)
            if self.changes_kept is not None and len(rows) > self.changes_kept:
                ids.discard(rows.pop(0)[-1])
        return True

    def above(self, asset: str) -> list[GroupRows]:
        """The plans of the groups above `asset` that have any, most specific first."""
        with self._lock:
            return [
                GroupRows(
                    owner, list(self._orders.get(owner, ())), list(self._stops.get(owner, ()))
                )
                for owner in ancestors(asset)
                if owner in self._orders or owner in self._stops
            ]

    def stopped(self, at_ms: int) -> dict[str, bool]:
        """Per group asset with planned stops, whether one holds at `at_ms` (its last start or
        end at or before then was a start)."""
        with self._lock:
            return {
                asset: bool(last[2])
                for asset, rows in self._stops.items()
                if (last := next((r for r in reversed(rows) if r[0] <= at_ms), None)) is not None
            }

    def assets(self) -> list[str]:
        """The group assets with plans, sorted."""
        with self._lock:
            return sorted(self._orders.keys() | self._stops.keys())

    def to_dict(self) -> dict[str, Any]:
        """The plans as plain data, for snapshots."""
        with self._lock:
            return {
                "changes_kept": self.changes_kept,
                "orders": {a: [list(r) for r in rows] for a, rows in self._orders.items()},
                "stops": {a: [list(r) for r in rows] for a, rows in self._stops.items()},
            }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupPlans:
        """The plans of `to_dict`."""
        plans = cls(data["changes_kept"])
        for name, table in (("orders", plans._orders), ("stops", plans._stops)):
            for asset, rows in data[name].items():
                table[asset] = [list(r) for r in rows]
                plans._ids.setdefault(asset, set()).update(str(r[-1]) for r in rows)
        return plans
