import pytest

from schemas.states import State
from streams.core.oee import (
    Count,
    OeeTotals,
    PlannedStop,
    StateChange,
    counter_deltas,
    ratios,
    sum_totals,
    window_totals,
)

MIN = 60_000


def test_vorne_worked_example_reproduces_published_figures():
    """oee.com 'Calculate OEE' example: 480 min shift, two 15 min breaks and a 30 min meal,
    47 min down time, ideal cycle 1.0 s, 19,271 parts of which 423 rejects.
    Published: A 88.81 %, P 86.11 %, Q 97.80 %, OEE 74.79 %."""
    stops = [
        PlannedStop(60 * MIN, 75 * MIN, "break"),
        PlannedStop(180 * MIN, 210 * MIN, "meal"),
        PlannedStop(300 * MIN, 315 * MIN, "break"),
    ]
    states = [
        StateChange(0, State.PRODUCING),
        StateChange(100 * MIN, State.EQUIPMENT_FAILURE),
        StateChange(147 * MIN, State.PRODUCING),
    ]
    counts = [Count(20 * MIN, 18_848, 423, 1.0)]
    totals = window_totals(0, 480 * MIN, states, counts, stops)
    assert totals.planned_time_s == 420 * 60
    assert totals.run_time_s == 373 * 60
    figures = ratios(totals)
    assert round(figures.availability, 4) == 0.8881
    assert round(figures.performance, 4) == 0.8611
    assert round(figures.quality, 4) == 0.9780
    assert round(figures.oee, 4) == 0.7479


def test_short_unspecified_stop_is_a_microstop_and_long_one_an_availability_loss():
    states = [
        StateChange(0, State.PRODUCING),
        StateChange(10_000, State.UNSPECIFIED_STOP),
        StateChange(70_000, State.PRODUCING),
        StateChange(100_000, State.UNSPECIFIED_STOP),
        StateChange(400_000, State.PRODUCING),
    ]
    totals = window_totals(0, 600_000, states, [])
    assert totals.losses_s["performance_loss:microstop"] == 60
    assert totals.losses_s["availability_loss:unspecified_stop"] == 300
    assert totals.run_time_s == 300
    assert totals.planned_time_s == 600


def test_time_before_the_first_state_is_unknown_and_not_planned():
    totals = window_totals(0, 60_000, [StateChange(20_000, State.PRODUCING)], [])
    assert totals.unknown_time_s == 20
    assert totals.planned_time_s == 40
    assert ratios(totals).availability == 1.0


def test_no_shift_and_no_order_are_excluded_from_planned_time():
    states = [
        StateChange(0, State.NO_SHIFT),
        StateChange(30_000, State.PRODUCING),
        StateChange(40_000, State.NO_ORDER),
    ]
    totals = window_totals(0, 60_000, states, [])
    assert totals.excluded_time_s == 50
    assert totals.planned_time_s == 10


def test_zero_denominators_give_none_not_zero_or_one():
    figures = ratios(OeeTotals(window_s=60, excluded_time_s=60))
    assert figures.availability is None
    assert figures.performance is None
    assert figures.quality is None
    assert figures.oee is None


def test_counts_without_a_cycle_time_make_performance_unknown():
    totals = window_totals(
        0,
        60_000,
        [StateChange(0, State.PRODUCING)],
        [Count(1000, 5, 0, None), Count(2000, 5, 0, 2.0)],
    )
    assert totals.counts_without_cycle_time == 5
    assert ratios(totals).performance is None
    assert ratios(totals).quality == 1.0


def test_performance_above_one_is_reported_as_is_and_flagged():
    totals = window_totals(0, 60_000, [StateChange(0, State.PRODUCING)], [Count(1000, 90, 0, 1.0)])
    figures = ratios(totals)
    assert figures.performance == pytest.approx(1.5)
    assert figures.performance_over_one


def test_rollup_sums_times_and_counts_and_recomputes_ratios():
    fast = window_totals(0, 60_000, [StateChange(0, State.PRODUCING)], [Count(1, 60, 0, 1.0)])
    idle = window_totals(0, 60_000, [StateChange(0, State.EQUIPMENT_FAILURE)], [])
    line = sum_totals([fast, idle])
    assert ratios(line).availability == 0.5
    assert ratios(line).performance == 1.0
    # averaging the percentages would say availability (1.0 + 0.0) / 2 too, but performance
    # of the idle machine is None: only recomputing from sums gives the line a performance


def test_counter_reset_is_not_negative_production():
    readings = [(1, 100, None), (2, 105, None), (3, 2, None), (4, 7, None)]
    assert counter_deltas(readings, None) == [(2, 5), (3, 2), (4, 5)]
    assert counter_deltas([(5, 10, None)], 4) == [(5, 6)]


def test_counter_with_a_declared_rollover_wraps_instead_of_resetting():
    wrapping = [(1, 65_530, 65_536), (2, 5, 65_536), (3, 9, 65_536)]
    assert counter_deltas(wrapping, None) == [(2, 11), (3, 4)]
    assert counter_deltas([(1, 0, 65_536)], 65_535) == [(1, 1)]
    assert counter_deltas([(1, 65_530, None), (2, 5, None)], None) == [(2, 5)]  # a reset


def test_running_window_without_parts_has_oee_zero_and_null_quality():
    totals = window_totals(0, 60_000, [StateChange(0, State.PRODUCING)], [])
    figures = ratios(totals)
    assert (figures.availability, figures.performance) == (1.0, 0.0)
    assert figures.quality is None  # 0 of 0 parts: nothing to judge; the row says total 0
    assert figures.oee == 0.0


def test_window_down_all_its_planned_time_has_oee_zero():
    totals = window_totals(0, 60_000, [StateChange(0, State.EQUIPMENT_FAILURE)], [])
    figures = ratios(totals)
    assert (figures.availability, figures.performance, figures.quality) == (0.0, None, None)
    assert figures.oee == 0.0


def test_only_scrap_gives_oee_zero_even_without_a_cycle_time():
    totals = window_totals(0, 60_000, [StateChange(0, State.PRODUCING)], [Count(1, 0, 4, None)])
    figures = ratios(totals)
    assert (figures.performance, figures.quality, figures.oee) == (None, 0.0, 0.0)


def test_good_parts_without_a_cycle_time_leave_oee_null():
    totals = window_totals(0, 60_000, [StateChange(0, State.PRODUCING)], [Count(1, 4, 0, None)])
    assert ratios(totals).oee is None


def test_window_without_planned_time_has_no_oee_even_without_parts():
    totals = window_totals(0, 60_000, [StateChange(0, State.NO_SHIFT)], [])
    assert ratios(totals).oee is None
