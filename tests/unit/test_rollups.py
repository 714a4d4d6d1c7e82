"""Hour, day and shift rollups summed from closed base windows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from streams.core.oee import OeeTotals, ratios
from streams.core.rollups import HOUR_MS, MachineRollups, Span, local_day, local_hour
from streams.core.windows import ClosedWindow
from tests.factories import T0

ASSET = "p/l/s/m"
UTC = ZoneInfo("UTC")


def _minute(start: int, run_s: float, good: int) -> ClosedWindow:
    totals = OeeTotals(
        window_s=60, planned_time_s=60, run_time_s=run_s, ideal_time_s=run_s / 2, good=good
    )
    return ClosedWindow(ASSET, start, start + 60_000, totals, provisional=False)


def test_an_hour_is_provisional_until_its_last_minute_closes_and_sums_its_minutes():
    rollups = MachineRollups(ASSET)
    rows = []
    for minute in range(61):
        window = _minute(T0 + minute * 60_000, run_s=30 if minute < 30 else 60, good=1)
        rows += rollups.add(window, {"hour": local_hour(window.start, UTC)})
    finals = [(label, w) for label, w in rows if not w.provisional]
    assert len(finals) == 1
    label, hour = finals[0]
    assert (label, hour.start, hour.end) == ("1h", T0, T0 + HOUR_MS)
    assert hour.totals.planned_time_s == 3600
    assert hour.totals.run_time_s == 30 * 30 + 30 * 60
    assert hour.totals.good == 60
    assert ratios(hour.totals).availability == (30 * 30 + 30 * 60) / 3600  # from sums
    assert rows[-1][1].provisional  # the next hour has begun
    restored = MachineRollups.from_dict(ASSET, rollups.to_dict())
    assert restored.open["hour"].totals.good == 1


def test_a_shift_known_only_from_mes_closes_when_the_next_one_starts():
    rollups = MachineRollups(ASSET)
    early = Span("shift:early", T0, None)
    late = Span("shift:late", T0 + 120_000, None)
    rows = rollups.add(_minute(T0, 60, 5), {"shift": early})
    rows += rollups.add(_minute(T0 + 60_000, 60, 5), {"shift": early})
    rows += rollups.add(_minute(T0 + 120_000, 60, 7), {"shift": late})
    final = [w for label, w in rows if label == "shift:early" and not w.provisional]
    assert [(w.start, w.end, w.totals.good) for w in final] == [(T0, T0 + 120_000, 10)]
    rows = rollups.add(_minute(T0 + 180_000, 60, 1), {"shift": None})  # no shift now
    assert [(label, w.provisional, w.totals.good) for label, w in rows] == [
        ("shift:late", False, 7)
    ]


def test_days_and_hours_follow_the_plant_time_zone_across_dst():
    berlin = ZoneInfo("Europe/Berlin")
    noon = datetime.fromisoformat("2026-03-29T12:00:00+02:00")  # the spring change
    day = local_day(int(noon.timestamp() * 1000), berlin)
    assert (day.end - day.start) / HOUR_MS == 23
    india = ZoneInfo("Asia/Kolkata")
    hour = local_hour(T0, india)  # 05:30 local at 00:00 UTC
    assert (hour.start, hour.end - hour.start) == (T0 - 30 * 60_000, HOUR_MS)
