"""Shift calendars: shifts, breaks, workdays, holidays and time zones as planned stops."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.states import State
from streams.core.calendar import CalendarError, ShiftCalendar, load_calendar
from streams.core.oee import DEFAULT_CATEGORIES
from streams.core.windows import MachineWindows
from tests.factories import count, state

ASSET = "plant1/line1/st1/m1"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _calendar(**line: object) -> ShiftCalendar:
    base = {
        "shifts": [
            {"name": "early", "start": "06:00", "end": "14:00"},
            {"name": "night", "start": "22:00", "end": "06:00"},
        ],
        "breaks": [{"start": "09:00", "end": "09:30"}, {"start": "02:00", "end": "02:15"}],
        **line,
    }
    return ShiftCalendar(timezone="Europe/Berlin", lines={"plant1/line1": base})


def test_shifts_follow_the_plant_time_zone_and_night_shifts_cross_midnight():
    calendar = _calendar()
    spans = calendar.shifts(
        ASSET, _ms("2026-03-10T00:00:00+01:00"), _ms("2026-03-11T00:00:00+01:00")
    )
    assert [(s.name, s.start, s.end) for s in spans] == [
        ("night", _ms("2026-03-09T22:00:00+01:00"), _ms("2026-03-10T06:00:00+01:00")),
        ("early", _ms("2026-03-10T06:00:00+01:00"), _ms("2026-03-10T14:00:00+01:00")),
        ("night", _ms("2026-03-10T22:00:00+01:00"), _ms("2026-03-11T06:00:00+01:00")),
    ]
    assert calendar.shift_at(ASSET, _ms("2026-03-10T15:00:00+01:00")) is None
    assert calendar.shift_at("plant1/line2/st1/m1", _ms("2026-03-10T07:00:00+01:00")) is None


def test_a_dst_night_shift_is_an_hour_shorter():
    calendar = _calendar()
    (night,) = [
        s
        for s in calendar.shifts(
            ASSET, _ms("2026-03-29T00:00:00+01:00"), _ms("2026-03-29T05:00:00+02:00")
        )
        if s.name == "night"
    ]
    assert (night.end - night.start) / 3_600_000 == 7  # 22:00 CET to 06:00 CEST


def test_breaks_no_shift_time_and_holidays_are_planned_stops():
    calendar = _calendar(holidays=["2026-12-24"], workdays=["mon", "tue", "wed", "thu", "fri"])
    stops = calendar.planned_stops(
        ASSET, _ms("2026-03-10T08:00:00+01:00"), _ms("2026-03-10T16:00:00+01:00")
    )
    assert [(s.reason, s.start, s.end) for s in stops] == [
        ("break", _ms("2026-03-10T09:00:00+01:00"), _ms("2026-03-10T09:30:00+01:00")),
        ("no_shift", _ms("2026-03-10T14:00:00+01:00"), _ms("2026-03-10T16:00:00+01:00")),
    ]
    holiday = calendar.planned_stops(
        ASSET, _ms("2026-12-24T07:00:00+01:00"), _ms("2026-12-24T08:00:00+01:00")
    )
    assert [(s.reason, s.end - s.start) for s in holiday] == [("no_shift", 3_600_000)]
    saturday = calendar.shifts(
        ASSET, _ms("2026-03-14T07:00:00+01:00"), _ms("2026-03-14T08:00:00+01:00")
    )
    assert saturday == []


def test_window_totals_exclude_the_calendars_planned_stops():
    calendar = ShiftCalendar(
        lines={
            "*": {
                "shifts": [{"name": "day", "start": "00:00", "end": "00:45"}],
                "breaks": [{"start": "00:10", "end": "00:20"}],
            }
        }
    )
    day = datetime(2026, 1, 1, tzinfo=UTC)
    windows = MachineWindows(ASSET, 3_600_000)
    windows.add(state(0, State.PRODUCING))
    windows.add(count(60, good=10))
    totals = windows.totals(
        int(day.timestamp() * 1000),
        int(day.timestamp() * 1000) + 3_600_000,
        DEFAULT_CATEGORIES,
        calendar=calendar,
    )
    assert totals.planned_time_s == 35 * 60  # 45 min shift minus a 10 min break
    assert totals.excluded_time_s == 25 * 60
    assert totals.losses_s["planned_stop:break"] == 600
    assert totals.losses_s["planned_stop:no_shift"] == 900


def test_a_calendar_file_with_mistakes_names_them(tmp_path: Path):
    path = tmp_path / "calendar.yaml"
    path.write_text("timezone: Mars/Olympus\nlines: {'*': {shifts: []}}\n")
    with pytest.raises(CalendarError) as error:
        load_calendar(path)
    assert "Mars/Olympus" in str(error.value)
    assert "shifts" in str(error.value)


def test_batch_oee_by_shift_takes_the_calendars_shifts(tmp_path: Path):
    import io
    import json

    from schemas.codec import encode
    from streams.commands.batch_oee import run_batch

    calendar = ShiftCalendar(
        lines={
            "*": {
                "shifts": [
                    {"name": "a", "start": "00:00", "end": "00:30"},
                    {"name": "b", "start": "00:30", "end": "01:00"},
                ],
                "breaks": [{"start": "00:40", "end": "00:50"}],
            }
        }
    )
    events = [
        state(0, State.PRODUCING),
        count(600, good=5),
        count(2400, good=7),
        state(3600, State.PRODUCING),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode(e) for e in events))
    out = io.StringIO()
    run_batch(path, "shift", "machine", None, None, out, io.StringIO(), calendar=calendar)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["window"], r["planned_time_s"], r["good"]) for r in rows] == [
        ("shift:a", 1800.0, 5),
        ("shift:b", 1200.0, 7),
    ]
