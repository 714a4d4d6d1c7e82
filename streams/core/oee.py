"""OEE of one asset over one window, from its state timeline, counts and planned stops.

Pure: no I/O, no clocks. Availability = run time / planned time; Performance = ideal time /
run time; Quality = good / total; OEE = A x P x Q, which is 0 whenever time was planned and no
good part was made (good x ideal cycle time / planned time, whatever the cycle time). Times are
epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from schemas.states import State, state_family

Category = Literal["run", "performance_loss", "availability_loss", "excluded", "unknown"]

_PERFORMANCE_LOSS_DEFAULT = frozenset(
    {
        State.REDUCED_SPEED,
        State.MICROSTOP,
        State.INLET_JAM,
        State.OUTLET_JAM,
        State.CONGESTION_BYPASS,
        State.MATERIAL_ISSUE,
        State.CHANGEOVER,
        State.CLEANING,
        State.EMPTYING,
        State.SETTING_UP,
        State.OPERATOR_NOT_AT_MACHINE,
        State.OPERATOR_BREAK,
    }
)
_AVAILABILITY_LOSS_DEFAULT = frozenset(
    {
        State.UNSPECIFIED_STOP,
        State.EQUIPMENT_FAILURE,
        State.EXTERNAL_FAILURE,
        State.EXTERNAL_INTERFERENCE,
        State.PREVENTIVE_MAINTENANCE,
        State.TECHNICAL_OTHER,
    }
)
_EXCLUDED_DEFAULT = frozenset({State.NO_SHIFT, State.NO_ORDER})


@dataclass(frozen=True)
class StateCategories:
    """Which state families count as run time, losses or excluded time."""

    running: frozenset[State] = frozenset({State.PRODUCING})
    performance_loss: frozenset[State] = _PERFORMANCE_LOSS_DEFAULT
    availability_loss: frozenset[State] = _AVAILABILITY_LOSS_DEFAULT
    excluded: frozenset[State] = _EXCLUDED_DEFAULT
    microstop_max_s: float = 120.0

    def categorise(self, code: int, episode_s: float) -> tuple[Category, str]:
        """The OEE category and loss name of a state lasting `episode_s` seconds."""
        family = state_family(code)
        name = family.name.lower()
        if family == State.UNSPECIFIED_STOP and episode_s <= self.microstop_max_s:
            return "performance_loss", State.MICROSTOP.name.lower()
        if family in self.running:
            return "run", name
        if family in self.performance_loss:
            return "performance_loss", name
        if family in self.availability_loss:
            return "availability_loss", name
        if family in self.excluded:
            return "excluded", name
        return "unknown", name


DEFAULT_CATEGORIES = StateCategories()


@dataclass(frozen=True)
class StateChange:
    """The machine entered `state` at `time`."""

    time: int
    state: int


@dataclass(frozen=True)
class Count:
    """Parts counted at `time`; `ideal_cycle_time_s` of the product then active, if known."""

    time: int
    good: int
    scrap: int
    ideal_cycle_time_s: float | None


@dataclass(frozen=True)
class PlannedStop:
    """A planned stop over [start, end) and its reason."""

    start: int
    end: int
    reason: str


@dataclass
class OeeTotals:
    """Additive figures of a window; sums of these roll up to lines, shifts and days."""

    window_s: float = 0.0
    planned_time_s: float = 0.0
    run_time_s: float = 0.0
    unknown_time_s: float = 0.0
    excluded_time_s: float = 0.0
    ideal_time_s: float = 0.0
    good: int = 0
    scrap: int = 0
    counts_without_cycle_time: int = 0
    losses_s: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Good and scrap parts."""
        return self.good + self.scrap

    def __add__(self, other: OeeTotals) -> OeeTotals:
        losses = dict(self.losses_s)
        for key, seconds in other.losses_s.items():
            losses[key] = losses.get(key, 0.0) + seconds
        return OeeTotals(
            window_s=self.window_s + other.window_s,
            planned_time_s=self.planned_time_s + other.planned_time_s,
            run_time_s=self.run_time_s + other.run_time_s,
            unknown_time_s=self.unknown_time_s + other.unknown_time_s,
            excluded_time_s=self.excluded_time_s + other.excluded_time_s,
            ideal_time_s=self.ideal_time_s + other.ideal_time_s,
            good=self.good + other.good,
            scrap=self.scrap + other.scrap,
            counts_without_cycle_time=self.counts_without_cycle_time
            + other.counts_without_cycle_time,
            losses_s=losses,
        )


@dataclass(frozen=True)
class OeeRatios:
    """Availability, performance, quality and OEE; None where undefined."""

    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    performance_over_one: bool


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def ratios(totals: OeeTotals) -> OeeRatios:
    """A, P, Q and OEE; a zero denominator gives None, never 0 or 1 (quality of no part is
    None, the row's total of 0 says why). OEE is 0 when time was planned and no good part was
    made, even where P or Q is None; None without planned time or while P, Q is unknown."""
    availability = _ratio(totals.run_time_s, totals.planned_time_s)
    performance = (
        None if totals.counts_without_cycle_time else _ratio(totals.ideal_time_s, totals.run_time_s)
    )
    quality = _ratio(totals.good, totals.total)
    oee = None
    if availability is not None and totals.good == 0:
        oee = 0.0
    elif availability is not None and performance is not None and quality is not None:
        oee = availability * performance * quality
    over_one = performance is not None and performance > 1.0 + 1e-9
    return OeeRatios(availability, performance, quality, oee, performance_over_one=over_one)


def sum_totals(parts: Iterable[OeeTotals]) -> OeeTotals:
    """The sum of the totals (empty totals for none)."""
    result = OeeTotals()
    for part in parts:
        result = result + part
    return result


def _breakpoints(
    start: int, end: int, states: Sequence[StateChange], stops: Sequence[PlannedStop]
) -> list[int]:
    points = {start, end}
    points.update(s.time for s in states if start < s.time < end)
    for stop in stops:
        points.update(t for t in (stop.start, stop.end) if start < t < end)
    return sorted(points)


def _episode_seconds(states: Sequence[StateChange], index: int, horizon: int) -> float:
    following = states[index + 1].time if index + 1 < len(states) else horizon
    return (following - states[index].time) / 1000.0


def _add_loss(losses: dict[str, float], key: str, seconds: float) -> None:
    losses[key] = losses.get(key, 0.0) + seconds


def window_totals(
    start: int,
    end: int,
    states: Sequence[StateChange],
    counts: Sequence[Count],
    planned_stops: Sequence[PlannedStop] = (),
    categories: StateCategories = DEFAULT_CATEGORIES,
    horizon: int | None = None,
) -> OeeTotals:
    """Figures of [start, end) from the states (sorted by time, the last one before `start`
    included), the counts inside the window and the planned stops overlapping it.

    A state lasts until the next state; the last one runs to the window end. Time before the
    first known state is unknown. Planned stops take precedence over the machine's state.
    States after `end` only tell how long an episode lasted (an unspecified stop of at most
    `microstop_max_s` is a microstop); the last known state lasts until `horizon` (default
    `end`), the time up to which the timeline is known.
    """
    horizon = end if horizon is None else max(horizon, end)
    totals = OeeTotals(window_s=(end - start) / 1000.0)
    state_index = -1
    points = _breakpoints(start, end, states, planned_stops)
    for seg_start, seg_end in zip(points, points[1:], strict=False):
        seconds = (seg_end - seg_start) / 1000.0
        while state_index + 1 < len(states) and states[state_index + 1].time <= seg_start:
            state_index += 1
        stop = next((s for s in planned_stops if s.start <= seg_start < s.end), None)
        if stop is not None:
            totals.excluded_time_s += seconds
            _add_loss(totals.losses_s, f"planned_stop:{stop.reason}", seconds)
            continue
        if state_index < 0:
            totals.unknown_time_s += seconds
            _add_loss(totals.losses_s, "unknown:no_data", seconds)
            continue
        episode_s = _episode_seconds(states, state_index, horizon)
        category, name = categories.categorise(states[state_index].state, episode_s)
        _add_loss(totals.losses_s, f"{category}:{name}", seconds)
        if category == "unknown":
            totals.unknown_time_s += seconds
        elif category == "excluded":
            totals.excluded_time_s += seconds
        else:
            totals.planned_time_s += seconds
            if category in ("run", "performance_loss"):
                totals.run_time_s += seconds
    for count in counts:
        if not start <= count.time < end:
            continue
        totals.good += count.good
        totals.scrap += count.scrap
        parts = count.good + count.scrap
        if count.ideal_cycle_time_s is None:
            totals.counts_without_cycle_time += parts
        else:
            totals.ideal_time_s += count.ideal_cycle_time_s * parts
    return totals


def counter_deltas(
    readings: Sequence[tuple[int, int, int | None]], previous: int | None
) -> list[tuple[int, int]]:
    """Non-negative increments of a cumulative counter from its (time, value, modulus)
    readings. A drop is a reset, counted from zero, unless the reading after it declares the
    counter's modulus (2**16 for a 16-bit counter): the counter then wrapped, and the increment
    is taken modulo it (65,530 -> 5 is 11)."""
    deltas = []
    last = previous
    for time, value, modulus in readings:
        if last is not None:
            if value >= last:
                delta = value - last
            elif modulus is not None:
                delta = (value - last) % modulus
            else:
                delta = value
            deltas.append((time, delta))
        last = value
    return deltas
