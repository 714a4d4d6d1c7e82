"""Shift calendars: when each line works (pure).

A YAML file gives, per plant, line or station (the longest matching asset prefix wins, `"*"` for
all), the shifts of a working day, its breaks, the working weekdays and the holidays, in the
plant's time zone:

    timezone: Europe/Berlin
    lines:
      "*":
        shifts:
          - {name: early, start: "06:00", end: "14:00"}
          - {name: late, start: "14:00", end: "22:00"}
        breaks:
          - {start: "09:00", end: "09:15"}
          - {start: "18:00", end: "18:30"}
        workdays: [mon, tue, wed, thu, fri]
        holidays: ["2026-12-24", "2026-12-25"]

Time outside every shift ("no_shift"), breaks ("break") and the shifts of holidays and
non-working days ("holiday") are planned stops: excluded from planned production time. A shift
that ends at or before it starts runs past midnight and belongs to the day it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.codec import load_yaml_model
from schemas.exceptions import LinePulseError
from streams.core.oee import PlannedStop

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MS = 86_400_000


def known_timezone(value: str) -> str:
    """`value` if it names a time zone, else a ValueError that says what to write."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
        raise ValueError(msg) from exc
    return value


class CalendarError(LinePulseError):
    """The shift calendar file cannot be used."""


class Period(BaseModel):
    """A span of the working day, in the plant's local time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time


class Shift(Period):
    """A named shift of the working day."""

    name: str = Field(min_length=1)


class Break(Period):
    """A break within the shifts, a planned stop."""

    name: str = "break"


class LineCalendar(BaseModel):
    """The shifts, breaks, working weekdays and holidays of a plant, line or station."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shifts: list[Shift] = Field(min_length=1)
    breaks: list[Break] = Field(default_factory=list)
    workdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    holidays: list[date] = Field(default_factory=list)


@dataclass(frozen=True)
class ShiftSpan:
    """One worked shift on the timeline, [start, end) in epoch ms."""

    name: str
    start: int
    end: int


class ShiftCalendar(BaseModel):
    """The shift calendar file: a time zone and a calendar per asset prefix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"
    lines: dict[str, LineCalendar] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_timezone(value)

    def line_of(self, asset: str) -> LineCalendar | None:
        """The calendar of the longest asset prefix that has one, else the `"*"` one."""
        parts = asset.split("/")
        for n in range(len(parts), 0, -1):
            found = self.lines.get("/".join(parts[:n]))
            if found is not None:
                return found
        return self.lines.get("*")

    def _at(self, day: date, moment: time) -> int:
        local = datetime.combine(day, moment, tzinfo=ZoneInfo(self.timezone))
        return int(local.timestamp() * 1000)

    def _days(self, start_ms: int, end_ms: int) -> list[date]:
        zone = ZoneInfo(self.timezone)
        first = datetime.fromtimestamp(start_ms / 1000, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def _span(self, day: date, period: Period) -> tuple[int, int]:
        start = self._at(day, period.start)
        end_day = day + timedelta(days=1) if period.end <= period.start else day
        return start, self._at(end_day, period.end)

    def _works(self, line: LineCalendar, day: date) -> bool:
        return day not in line.holidays and WEEKDAYS[day.weekday()] in line.workdays

    def shifts(self, asset: str, start_ms: int, end_ms: int) -> list[ShiftSpan]:
        """The worked shifts of the asset's line overlapping [start, end), in time order."""
        line = self.line_of(asset)
        if line is None:
            return []
        spans = []
        for day in self._days(start_ms, end_ms):
            if not self._works(line, day):
                continue
            for shift in line.shifts:
                s, e = self._span(day, shift)
                if s < end_ms and e > start_ms:
                    spans.append(ShiftSpan(shift.name, s, e))
        return sorted(spans, key=lambda span: span.start)

    def shift_at(self, asset: str, time_ms: int) -> ShiftSpan | None:
        """The worked shift of the asset's line at `time_ms`, if any."""
        return next(iter(self.shifts(asset, time_ms, time_ms + 1)), None)

    def planned_stops(self, asset: str, start_ms: int, end_ms: int) -> list[PlannedStop]:
        """Planned stops inside [start, end): outside shifts, and breaks within shifts."""
        line = self.line_of(asset)
        if line is None:
            return []
        spans = self.shifts(asset, start_ms, end_ms)
        stops = []
        cursor = start_ms
        for span in spans:
            if span.start > cursor:
                stops.append(PlannedStop(cursor, min(span.start, end_ms), "no_shift"))
            cursor = max(cursor, span.end)
        if cursor < end_ms:
            stops.append(PlannedStop(cursor, end_ms, "no_shift"))
        for span in spans:
            for day in self._days(span.start, span.end):
                for pause in line.breaks:
                    s, e = self._span(day, pause)
                    s, e = max(s, span.start, start_ms), min(e, span.end, end_ms)
                    if s < e:
                        stops.append(PlannedStop(s, e, pause.name))
        return sorted(stops, key=lambda stop: stop.start)


def load_calendar(path: Path) -> ShiftCalendar:
    """The shift calendar at `path`, validated."""
    return load_yaml_model(path, ShiftCalendar, CalendarError, "the shift calendar")
