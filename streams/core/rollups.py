"""Hour, day and shift OEE of a machine, summed from its closed base windows (pure).

Each closed base window (1 min by default) is added to the rollups it starts in; a rollup is
final when a base window reaching its end has been added (or, for a shift known only from MES
events, when the next shift begins), and provisional with the sum so far after every other
addition. Times and counts are summed and ratios recomputed, never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from streams.core.oee import OeeTotals
from streams.core.windows import ClosedWindow

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Span:
    """The rollup a base window belongs to; `end` None when only the next span ends it."""

    label: str
    start: int
    end: int | None


def local_hour(time_ms: int, zone: ZoneInfo) -> Span:
    """The local hour holding `time_ms`."""
    moment = datetime.fromtimestamp(time_ms / 1000, zone).replace(minute=0, second=0, microsecond=0)
    start = int(moment.timestamp() * 1000)
    return Span("1h", start, start + HOUR_MS)


def local_day(time_ms: int, zone: ZoneInfo) -> Span:
    """The local day holding `time_ms`."""
    day = datetime.fromtimestamp(time_ms / 1000, zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=1)  # 23 or 25 hours on a DST change
    return Span("1d", int(start.timestamp() * 1000), int(end.timestamp() * 1000))


@dataclass
class OpenRollup:
    """A rollup still being summed: its span, its totals and how far its windows reach."""

    label: str
    start: int
    end: int | None
    totals: OeeTotals = field(default_factory=OeeTotals)
    covered_until: int = 0

    def window(self, asset: str, provisional: bool) -> tuple[str, ClosedWindow]:
        """The rollup as a (label, window) row, up to its windows' reach while it has no end."""
        end = self.end if self.end is not None else self.covered_until
        return self.label, ClosedWindow(asset, self.start, end, self.totals, provisional)


@dataclass
class MachineRollups:
    """A machine's open hour, day and shift rollups."""

    asset: str
    open: dict[str, OpenRollup] = field(default_factory=dict)  # by kind: hour, day, shift

    def add(
        self, window: ClosedWindow, spans: dict[str, Span | None]
    ) -> list[tuple[str, ClosedWindow]]:
        """Add a closed base window to its span of each kind; returns (label, rollup row)."""
        rows = []
        for kind, span in spans.items():
            current = self.open.get(kind)
            if current is not None and (
                span is None or (current.label, current.start) != (span.label, span.start)
            ):
                rows.append(current.window(self.asset, provisional=False))
                del self.open[kind]
                current = None
            if span is None:
                continue
            if current is None:
                current = self.open[kind] = OpenRollup(span.label, span.start, span.end)
            current.totals = current.totals + window.totals
            current.covered_until = window.end
            complete = span.end is not None and window.end >= span.end
            rows.append(current.window(self.asset, provisional=not complete))
            if complete:
                del self.open[kind]
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The open rollups as plain data (asdict's deep copy is too slow for every batch)."""
        return {
            kind: {
                "label": rollup.label,
                "start": rollup.start,
                "end": rollup.end,
                "totals": {**vars(rollup.totals), "losses_s": dict(rollup.totals.losses_s)},
                "covered_until": rollup.covered_until,
            }
            for kind, rollup in self.open.items()
        }

    @classmethod
    def from_dict(cls, asset: str, data: dict[str, Any]) -> MachineRollups:
        """The rollups of `to_dict` for `asset`."""
        open_rollups = {}
        for kind, item in data.items():
            totals = OeeTotals(**item["totals"])
            open_rollups[kind] = OpenRollup(
                item["label"], item["start"], item["end"], totals, item["covered_until"]
            )
        return cls(asset, open_rollups)
