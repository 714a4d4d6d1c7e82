"""Work orders and planned stops sent on a plant, line or station hold for the machines below."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ShiftStarted, WorkOrderEnded
from schemas.states import State
from streams.core.oee import DEFAULT_CATEGORIES, ratios
from streams.core.plans import GroupPlans, is_machine
from streams.core.windows import MachineWindows
from tests.factories import T0, count, order, state, stop

W = 60_000
LINE = "plant1/line1"
STATION = "plant1/line1/st1"
M1 = "plant1/line1/st1/m1"
M2 = "plant1/line1/st2/m2"


def plans_of(*events):
    plans = GroupPlans()
    for event in events:
        plans.apply(event)
    return plans


def one_window(asset, events, plans, end_s=60):
    machine = MachineWindows(asset, W)
    for event in events:
        machine.add(event)
    return machine.totals(T0, T0 + end_s * 1000, DEFAULT_CATEGORIES, plans=plans)


def producing_with_parts(asset, parts=30):
    return [state(0, State.PRODUCING, asset=asset), count(50, good=parts, asset=asset)]


def test_is_machine_means_all_four_levels():
    assert is_machine(M1)
    assert not any(is_machine(a) for a in ("plant1", LINE, STATION))


def test_line_work_order_gives_a_machine_below_its_ideal_cycle_time():
    totals = one_window(M1, producing_with_parts(M1), plans_of(order(0, 1.0, asset=LINE)))
    assert totals.ideal_time_s == 30
    assert totals.counts_without_cycle_time == 0
    assert ratios(totals).performance == pytest.approx(0.5)


def test_station_work_order_wins_over_the_lines():
    plans = plans_of(order(0, 1.0, asset=LINE), order(0, 1.5, asset=STATION))
    assert one_window(M1, producing_with_parts(M1), plans).ideal_time_s == 45
    # m2 is on another station: the line's order holds for it
    assert one_window(M2, producing_with_parts(M2), plans).ideal_time_s == 30


def test_machines_own_work_order_wins_over_its_station_and_line():
    plans = plans_of(order(0, 1.0, asset=LINE), order(0, 1.5, asset=STATION))
    events = [order(10, 0.5, asset=M1), *producing_with_parts(M1)]
    assert one_window(M1, events, plans).ideal_time_s == 15


def test_machines_ended_order_wins_over_the_lines_running_one():
    plans = plans_of(order(0, 1.0, asset=LINE))
    ended = WorkOrderEnded(time=T0 + 40_000, asset=M1, work_order="WO-1")
    totals = one_window(M1, [order(0, 2.0, asset=M1), ended, *producing_with_parts(M1)], plans)
    assert totals.counts_without_cycle_time == 30
    assert ratios(totals).performance is None


def test_line_work_order_applies_only_from_its_time_on():
    plans = plans_of(order(30, 1.0, asset=LINE))
    events = [state(0, State.PRODUCING, asset=M1), count(10, 5, asset=M1), count(50, 7, asset=M1)]
    totals = one_window(M1, events, plans)
    assert (totals.ideal_time_s, totals.counts_without_cycle_time) == (7, 5)


def test_line_planned_stop_removes_planned_time_of_every_machine_below():
    plans = plans_of(*stop(20, 35, "meeting", asset=LINE))
    for asset in (M1, M2):
        totals = one_window(asset, [state(0, State.PRODUCING, asset=asset)], plans)
        assert (totals.planned_time_s, totals.excluded_time_s) == (45, 15)
        assert totals.losses_s["planned_stop:meeting"] == 15


def test_plans_of_another_line_do_not_apply():
    plans = plans_of(order(0, 1.0, asset="plant1/line2"), *stop(0, 30, asset="plant1/line2"))
    totals = one_window(M1, producing_with_parts(M1), plans)
    assert (totals.planned_time_s, totals.counts_without_cycle_time) == (60, 30)


def test_group_plans_take_only_group_work_orders_and_stops_each_once():
    plans = GroupPlans()
    line_order = order(0, 1.0, asset=LINE)
    assert plans.apply(line_order)
    assert not plans.apply(line_order)
    assert not plans.apply(order(0, 1.0, asset=M1))
    assert not plans.apply(ShiftStarted(time=T0, asset=LINE, shift="early"))
    assert not plans.apply(state(0, State.PRODUCING, asset=LINE))
    assert plans.assets() == [LINE]
    assert plans.above(M1)[0].orders == [[T0, 1.0, line_order.id]]


def test_group_plans_keep_the_newest_changes_per_asset():
    plans = plans_of(*(order(t, 1.0 + t, asset=LINE) for t in range(5)))
    bounded = GroupPlans(changes_kept=2)
    for t in range(5):
        bounded.apply(order(t, 1.0 + t, asset=LINE))
    assert [row[1] for row in bounded.above(M1)[0].orders] == [4.0, 5.0]
    assert len(plans.above(M1)[0].orders) == 5


def test_group_plans_survive_to_dict_and_still_know_their_events():
    line_order = order(0, 1.0, asset=LINE)
    plans = plans_of(line_order, *stop(5, 9, asset=STATION))
    copy = GroupPlans.from_dict(plans.to_dict())
    assert copy.above(M1) == plans.above(M1)
    assert not copy.apply(line_order)


def test_closing_and_provisional_windows_use_the_plans():
    plans = plans_of(order(0, 1.0, asset=LINE), *stop(70, 80, asset=LINE))
    machine = MachineWindows(M1, W)
    for event in [state(0, State.PRODUCING, asset=M1), count(30, 30, asset=M1)]:
        machine.add(event)
    (closed,) = machine.close(T0 + W, plans=plans)
    assert closed.totals.ideal_time_s == 30
    machine.add(count(90, 10, asset=M1))
    live = machine.provisional(T0 + 90_000, plans=plans)
    assert live is not None
    assert (live.totals.ideal_time_s, live.totals.excluded_time_s) == (10, 10)


GROUP_EVENT = st.one_of(
    st.tuples(st.just("order"), st.floats(0, 179), st.sampled_from([0.5, 1.0, 2.0])),
    st.tuples(st.just("end"), st.floats(0, 179), st.just(0.0)),
    st.tuples(st.just("stop"), st.floats(0, 179), st.floats(1, 90)),
)
MACHINE_EVENT = st.tuples(
    st.floats(0, 179),
    st.sampled_from([State.PRODUCING, State.EQUIPMENT_FAILURE, State.MATERIAL_ISSUE]),
    st.integers(0, 5),
)


def group_events(draws, asset):
    events = []
    for n, (kind, at, value) in enumerate(draws):
        if kind == "order":
            events.append(order(at, value, asset=asset, wo=f"W{n}"))
        elif kind == "end":
            events.append(WorkOrderEnded(time=T0 + round(at * 1000), asset=asset, work_order="W"))
        else:
            events.extend(stop(at, min(at + value, 179), "break", asset=asset))
    return events


@settings(max_examples=50, deadline=None)
@given(st.lists(GROUP_EVENT, max_size=8), st.lists(MACHINE_EVENT, max_size=20))
def test_a_line_event_equals_the_same_event_copied_onto_each_machine(group_draws, machine_draws):
    line_events = group_events(group_draws, LINE)
    plans = plans_of(*line_events)
    for asset in (M1, M2):
        own = [state(0, State.PRODUCING, asset=asset)]
        own += [state(t, code, asset=asset) for t, code, _ in machine_draws]
        own += [count(t, parts, asset=asset) for t, _, parts in machine_draws]
        copied = [e.model_copy(update={"asset": asset}) for e in line_events]
        with_plans, with_copies = MachineWindows(asset, W), MachineWindows(asset, W)
        for event in own:
            with_plans.add(event)
            with_copies.add(event)
        for event in copied:
            with_copies.add(event)
        for watermark in (T0 + W, T0 + 3 * W):
            assert with_plans.close(watermark, plans=plans) == with_copies.close(watermark)
