import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.states import State
from streams.core.oee import (
    DEFAULT_CATEGORIES,
    Count,
    PlannedStop,
    StateChange,
    ratios,
    window_totals,
)
from streams.core.watermarks import RECEIVING_MS, PartitionClock, partition_watermark
from streams.core.windows import MachineWindows, TooLateError
from tests.factories import ASSET, T0, count, counter, order, state, stop

W = 60_000
CODES = [
    State.PRODUCING,
    State.UNSPECIFIED_STOP,
    State.EQUIPMENT_FAILURE,
    State.MICROSTOP,
    State.NO_SHIFT,
    State.UNKNOWN,
    State.MATERIAL_ISSUE,
]


def machine_events(draw_states, draw_counts):
    events = [order(0, 2.0)]
    events += [state(t, code) for t, code in draw_states]
    events += [count(t, good, scrap) for t, good, scrap in draw_counts]
    return events


states_st = st.lists(
    st.tuples(st.floats(0, 179.9), st.sampled_from(CODES)), min_size=1, max_size=25
)
counts_st = st.lists(
    st.tuples(st.floats(0, 179.9), st.integers(0, 5), st.integers(0, 2)), max_size=40
)


def closed_rows(events, window_ms=W, watermark=T0 + 180_000):
    machine = MachineWindows(ASSET, window_ms)
    for event in events:
        machine.add(event)
    return machine.close(watermark)


@settings(max_examples=60, deadline=None)
@given(states_st, counts_st)
def test_splitting_a_window_and_summing_equals_the_whole(draw_states, draw_counts):
    events = machine_events(draw_states, draw_counts)
    whole = closed_rows(events, window_ms=180_000, watermark=T0 + 360_000)
    parts = closed_rows(events, window_ms=60_000, watermark=T0 + 360_000)
    assert len(whole) == 2
    assert len(parts) == 6
    total = parts[0].totals + parts[1].totals + parts[2].totals
    w = whole[0].totals
    assert total.planned_time_s == pytest.approx(w.planned_time_s)
    assert total.run_time_s == pytest.approx(w.run_time_s)
    assert total.unknown_time_s == pytest.approx(w.unknown_time_s)
    assert total.ideal_time_s == pytest.approx(w.ideal_time_s)
    assert (total.good, total.scrap) == (w.good, w.scrap)
    for key, seconds in w.losses_s.items():
        assert total.losses_s[key] == pytest.approx(seconds)


long_states_st = st.lists(
    st.tuples(st.floats(0, 1799.9), st.sampled_from(CODES)), min_size=1, max_size=60
)
long_counts_st = st.lists(
    st.tuples(st.floats(0, 1799.9), st.integers(0, 5), st.integers(0, 2)), max_size=120
)
stops_st = st.lists(st.tuples(st.floats(0, 1799), st.floats(1, 400)), max_size=4)


@settings(max_examples=60, deadline=None)
@given(long_states_st, long_counts_st, stops_st)
def test_a_backlog_closed_at_once_equals_each_window_over_the_whole_buffer(
    draw_states, draw_counts, draw_stops
):
    """One close emits many windows after a backlog, each from its own slice of the buffer: the
    figures are those of `window_totals` given every state, count and stop."""
    events = machine_events(draw_states, draw_counts)
    draw_stops = _apart(draw_stops)  # which of two overlapping stops a loss goes to is a tie
    for i, (at, length) in enumerate(draw_stops):
        events += stop(at, at + length, reason=f"break{i}")
    watermark = T0 + 1_800_000
    rows = closed_rows(events, watermark=watermark)
    states = sorted((e.time, str(e.id), e.state) for e in events if e.kind == "machine.state")
    changes = [StateChange(t, code) for t, _, code in states]
    counts = [Count(e.time, e.good, e.scrap, 2.0) for e in events if e.kind == "machine.count"]
    stops = [
        PlannedStop(T0 + round(a * 1000), T0 + round((a + n) * 1000), f"break{i}")
        for i, (a, n) in enumerate(draw_stops)
    ]
    stops.sort(key=lambda s: s.end)  # the order the machine closes them in
    expected = [
        window_totals(start, start + W, changes, counts, stops, DEFAULT_CATEGORIES, watermark)
        for start in range(T0, T0 + 1_800_000, W)
    ]
    assert [row.start for row in rows] == list(range(T0, T0 + len(rows) * W, W))
    assert len(rows) >= 25  # only a stop that may yet be a microstop holds the last ones back
    for row, totals in zip(rows, expected, strict=False):
        _assert_same(row.totals, totals)


def _apart(stops: list[tuple[float, float]]) -> list[tuple[float, float]]:
    kept: list[tuple[float, float]] = []
    for at, length in sorted(stops):
        if not kept or at > sum(kept[-1]) + 1:
            kept.append((at, length))
    return kept


def _assert_same(got, expected) -> None:
    assert got.planned_time_s == pytest.approx(expected.planned_time_s)
    assert got.run_time_s == pytest.approx(expected.run_time_s)
    assert got.excluded_time_s == pytest.approx(expected.excluded_time_s)
    assert got.unknown_time_s == pytest.approx(expected.unknown_time_s)
    assert got.ideal_time_s == pytest.approx(expected.ideal_time_s)
    assert (got.good, got.scrap) == (expected.good, expected.scrap)
    assert got.losses_s == pytest.approx(expected.losses_s)


@settings(max_examples=60, deadline=None)
@given(states_st, counts_st, st.randoms(use_true_random=False))
def test_permuting_event_order_gives_the_same_rows(draw_states, draw_counts, rng):
    events = machine_events(draw_states, draw_counts)
    shuffled = list(events)
    rng.shuffle(shuffled)
    expected = [(r.start, r.totals) for r in closed_rows(events)]
    assert [(r.start, r.totals) for r in closed_rows(shuffled)] == expected


@settings(max_examples=60, deadline=None)
@given(states_st, counts_st)
def test_availability_and_quality_stay_within_zero_and_one(draw_states, draw_counts):
    for row in closed_rows(machine_events(draw_states, draw_counts)):
        figures = ratios(row.totals)
        for value in (figures.availability, figures.quality):
            assert value is None or 0.0 <= value <= 1.0


def test_window_waits_while_a_stop_may_still_turn_out_to_be_a_microstop():
    machine = MachineWindows(ASSET, W)
    machine.add(state(0, State.PRODUCING))
    machine.add(state(50, State.UNSPECIFIED_STOP))
    assert machine.close(T0 + 100_000) == []
    machine.add(state(110, State.PRODUCING))
    first, second = machine.close(T0 + 120_000)
    assert first.totals.losses_s["performance_loss:microstop"] == 10
    assert second.totals.losses_s["performance_loss:microstop"] == 50
    long_stop = MachineWindows(ASSET, W)
    long_stop.add(state(50, State.UNSPECIFIED_STOP))
    assert long_stop.close(T0 + 170_000) == []
    first, *_ = long_stop.close(T0 + 180_000)
    assert first.totals.losses_s["availability_loss:unspecified_stop"] == 10


def test_state_carries_into_windows_of_a_silent_machine():
    machine = MachineWindows(ASSET, W)
    machine.add(state(0, State.EQUIPMENT_FAILURE))
    rows = machine.close(T0 + 3 * W)
    assert [r.totals.losses_s for r in rows] == [{"availability_loss:equipment_failure": 60.0}] * 3


def test_event_older_than_a_closed_window_is_too_late():
    machine = MachineWindows(ASSET, W)
    machine.add(state(0, State.PRODUCING))
    machine.close(T0 + W)
    with pytest.raises(TooLateError, match="allowed lateness"):
        machine.add(count(59))
    machine.add(count(61))


def test_state_survives_serialisation_mid_stream():
    events = [
        order(0, 1.0),
        state(0, State.PRODUCING),
        count(10, 3),
        counter(5, "good", 100),
        counter(70, "good", 110),
        state(80, State.UNSPECIFIED_STOP),
        count(90, 1, 1),
        *stop(95, 130),
    ]
    straight = MachineWindows(ASSET, W)
    resumed = MachineWindows(ASSET, W)
    for i, event in enumerate(events):
        straight.add(event)
        resumed.add(event)
        if i == 5:
            straight.close(T0 + W)
            resumed.close(T0 + W)
            resumed = MachineWindows.from_dict(resumed.to_dict())
    assert straight.close(T0 + 3 * W) == resumed.close(T0 + 3 * W)


def test_plc_counter_deltas_attribute_to_their_window_and_survive_a_reset():
    machine = MachineWindows(ASSET, W)
    for event in [
        order(0, 1.0),
        state(0, State.PRODUCING),
        counter(1, "good", 500),
        counter(50, "good", 510),
        counter(70, "good", 3),
        counter(80, "scrap", 9),
        counter(90, "scrap", 11),
    ]:
        machine.add(event)
    first, second = machine.close(T0 + 2 * W)
    assert (first.totals.good, first.totals.scrap) == (10, 0)
    assert (second.totals.good, second.totals.scrap) == (3, 2)


def test_planned_stop_spanning_windows_is_excluded_in_both():
    machine = MachineWindows(ASSET, W)
    for event in [state(0, State.PRODUCING), *stop(50, 75)]:
        machine.add(event)
    first, second = machine.close(T0 + 2 * W)
    assert first.totals.excluded_time_s == 10
    assert second.totals.excluded_time_s == 15
    assert second.totals.planned_time_s == 45


def test_provisional_covers_only_the_elapsed_part_of_the_open_window():
    machine = MachineWindows(ASSET, W)
    machine.add(state(0, State.PRODUCING))
    machine.add(count(20, good=2))
    live = machine.provisional(T0 + 20_000)
    assert live is not None
    assert live.provisional
    assert live.totals.planned_time_s == pytest.approx(20.001)  # up to and including the event
    assert live.totals.good == 2


def test_partition_watermark_follows_events_and_advances_when_idle():
    clock = PartitionClock(lateness_ms=5000, idle_ms=2000)
    clock.observe(T0 + 60_000, arrival_ms=1_000_000)
    assert clock.advance(1_001_000) == T0 + 55_000
    assert clock.advance(1_010_000) == T0 + 55_000 + 8_000
    clock.observe(T0 + 10_000, arrival_ms=1_011_000)
    assert clock.watermark == T0 + 63_000  # never goes back


def test_random_plant_day_has_consistent_totals():
    rng = random.Random(3)
    events = [order(0, 1.5)] + [state(rng.uniform(0, 3600), rng.choice(CODES)) for _ in range(200)]
    events += [count(rng.uniform(0, 3600), 1, int(rng.random() < 0.05)) for _ in range(1500)]
    rows = closed_rows(events, window_ms=W, watermark=T0 + 3600_000)
    assert len(rows) == 60
    for row in rows:
        t = row.totals
        assert t.planned_time_s + t.unknown_time_s + t.excluded_time_s == pytest.approx(60)


def test_a_redelivered_event_is_not_counted_twice():
    machine = MachineWindows(ASSET, W)
    produced = count(5, good=3)
    assert machine.add(state(0, State.PRODUCING))
    assert machine.add(produced)
    assert not machine.add(produced)
    (row,) = machine.close(T0 + W)
    assert row.totals.good == 3


def test_rework_parts_are_not_good_parts():
    from schemas.events import ProductionCount

    machine = MachineWindows(ASSET, W)
    machine.add(order(0, 1.0))
    machine.add(state(0, State.PRODUCING))
    machine.add(ProductionCount(time=T0 + 5000, asset=ASSET, good=6, scrap=1, rework=3))
    (row,) = machine.close(T0 + W)
    assert (row.totals.good, row.totals.total) == (6, 10)
    assert ratios(row.totals).quality == 0.6


def test_a_topic_not_yet_read_to_its_end_holds_the_partition_watermark_back():
    machines = PartitionClock(lateness_ms=1000, idle_ms=1000)
    mes = PartitionClock(lateness_ms=1000, idle_ms=1000)
    machines.observe(T0 + 600_000, arrival_ms=5_000)
    clocks = {"machine": machines}
    # the MES topic has unread events and none seen yet: hold
    assert partition_watermark(clocks, {"mes"}, 5_000, None) is None
    mes.observe(T0 + 60_000, arrival_ms=5_000)
    clocks["mes"] = mes
    assert partition_watermark(clocks, {"mes"}, 5_000, None) == T0 + 59_000
    # everything read, but the MES topic is still receiving (its end moves on): it holds
    assert partition_watermark(clocks, set(), 5_500, T0 + 59_000) == T0 + 59_000
    # everything read and quiet: the most advanced clock leads, then the wall clock moves it on
    assert partition_watermark(clocks, set(), 6_001, T0 + 59_000) == T0 + 599_001
    assert partition_watermark(clocks, set(), 16_000, None) == T0 + 599_000 + 10_000

    # never backwards
    assert partition_watermark(clocks, {"mes"}, 16_000, T0 + 700_000) == T0 + 700_000


def test_a_backlog_delivered_one_topic_before_the_other_closes_no_window_early():
    """A producer replaying a day may land one topic's events at the broker well before the
    other's: the worker has read both to the ends the broker gives, yet the slower one's events
    are still arriving, so its clock holds the watermark until it has been quiet."""
    machines = PartitionClock(lateness_ms=1000, idle_ms=1000)
    mes = PartitionClock(lateness_ms=1000, idle_ms=1000)
    machines.observe(T0 + 86_400_000, arrival_ms=10_000)  # the whole day, already read
    clocks = {"machine": machines, "mes": mes}
    watermark = None
    for second in range(60):  # the MES backlog, a minute of events each second
        mes.observe(T0 + second * 60_000, arrival_ms=10_000 + second * 1000)
        watermark = partition_watermark(clocks, set(), 10_500 + second * 1000, watermark)
        assert watermark == T0 + second * 60_000 - 1000
    assert partition_watermark(clocks, set(), 80_000, watermark) == T0 + 86_399_000 + 69_000


def _plc(at_s, value, bits=None, name="good"):
    from schemas.events import PlcCounter

    return PlcCounter(
        time=T0 + round(at_s * 1000), asset=ASSET, counter=name, value=value, rollover_bits=bits
    )


def test_plc_counter_with_a_16_bit_rollover_counts_across_the_wrap_and_windows():
    machine = MachineWindows(ASSET, W)
    for event in [
        order(0, 1.0),
        state(0, State.PRODUCING),
        _plc(1, 65_520, 16),
        _plc(50, 65_530, 16),
    ]:
        machine.add(event)
    (first,) = machine.close(T0 + W)
    machine = MachineWindows.from_dict(machine.to_dict())  # the rollover survives a snapshot
    machine.add(_plc(70, 5, 16))
    (second,) = machine.close(T0 + 2 * W)
    assert (first.totals.good, second.totals.good) == (10, 11)


def test_plc_counter_rows_of_a_snapshot_without_rollovers_still_count():
    machine = MachineWindows(ASSET, W)
    for event in [state(0, State.PRODUCING), counter(1, "good", 10), counter(30, "good", 14)]:
        machine.add(event)
    data = machine.to_dict()
    data["counters"] = {"good": [[t, v, i] for t, v, *_, i in data["counters"]["good"]]}
    (window,) = MachineWindows.from_dict(data).close(T0 + W)
    assert window.totals.good == 4


def test_a_sparse_topic_read_to_its_end_holds_the_watermark_only_while_it_receives():
    """A replayed day with a long idle timeout: the MES topic's last work order is hours older
    than the machines' newest event; once it has stopped receiving it does not hold them."""
    machines = PartitionClock(lateness_ms=30_000, idle_ms=600_000)
    mes = PartitionClock(lateness_ms=30_000, idle_ms=600_000)
    machines.observe(T0 + 86_400_000, arrival_ms=10_000)
    mes.observe(T0 + 3_600_000, arrival_ms=10_000)
    clocks = {"machine": machines, "mes": mes}
    assert partition_watermark(clocks, set(), 10_500, None) == T0 + 3_570_000
    after = 10_000 + RECEIVING_MS + 1
    assert partition_watermark(clocks, set(), after, None) == T0 + 86_370_000
