"""The OEE result events and alert texts of closed windows (pure)."""

from __future__ import annotations

from schemas.events import OeeResult
from streams.core.oee import ratios
from streams.core.windows import ClosedWindow


def window_label(window_ms: int) -> str:
    """The window's length as a label: 1h, 15m, 30s."""
    seconds = window_ms // 1000
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def oee_result(window: ClosedWindow, version: int, label: str, rollup: bool = False) -> OeeResult:
    """The result event of a window; its id is the same for the same window and version."""
    totals = window.totals
    figures = ratios(totals)
    return OeeResult(
        id=f"{window.asset}|{label}|{window.start}|{version}",
        time=window.start,
        asset=window.asset,
        window_start=window.start,
        window_end=window.end,
        window=label,
        version=version,
        provisional=window.provisional,
        availability=figures.availability,
        performance=figures.performance,
        quality=figures.quality,
        oee=figures.oee,
        planned_time_s=totals.planned_time_s,
        run_time_s=totals.run_time_s,
        unknown_time_s=totals.unknown_time_s,
        excluded_time_s=totals.excluded_time_s,
        ideal_time_s=totals.ideal_time_s,
        good=totals.good,
        scrap=totals.scrap,
        total=totals.total,
        performance_over_one=figures.performance_over_one,
        losses_s=totals.losses_s,
        rollup=rollup,
    )


def low_oee_message(result: OeeResult, label: str, target: float, low: bool) -> str:
    """What an OEE-below-target step says."""
    if not low or result.oee is None:
        return f"OEE of {result.asset} is back at or above {target:.0%}"
    return (
        f"OEE of {result.asset} was {result.oee:.1%} in the {label} window from "
        f"{result.window_start}, below the {target:.0%} target"
    )
