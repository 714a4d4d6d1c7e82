"""Worked OEE examples from public literature, reproduced through the batch command
(`linepulse oee`) from events, exactly as published."""

import io
import json
import math

import pytest

from schemas.states import State
from streams.commands.batch_oee import run_batch
from streams.core.oee import Count, StateChange, ratios, window_totals
from streams.settings import OeeSettings

T0 = "2026-01-05T06:00:00Z"
T0_MS = 1_767_592_800_000
MIN = 60_000


def event(kind, minute, **fields):
    return {"kind": kind, "time": T0_MS + round(minute * MIN), "asset": "p1/l1/s1/m1", **fields}


def run(events, tmp_path, window="shift", by="machine"):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    out, err = io.StringIO(), io.StringIO()
    run_batch(path, window, by, None, None, out, err)
    assert err.getvalue() == ""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_vorne_oee_com_example(tmp_path):
    """oee.com: 8 h shift, breaks 2 x 15 min and a 30 min meal, 47 min down, ideal cycle
    1.0 s, 19,271 parts of which 423 rejects -> A 88.81 %, P 86.11 %, Q 97.80 %, OEE 74.79 %."""
    events = [
        event("mes.shift.started", 0, shift="day"),
        event(
            "mes.work_order.started", 0, work_order="W", product="widget", ideal_cycle_time_s=1.0
        ),
        event("machine.state", 0, state=State.PRODUCING),
        event("mes.planned_stop.started", 120, reason="break"),
        event("mes.planned_stop.ended", 135, reason="break"),
        event("machine.state", 200, state=State.EQUIPMENT_FAILURE),
        event("machine.state", 247, state=State.PRODUCING),
        event("mes.planned_stop.started", 240 + 60, reason="meal"),
        event("mes.planned_stop.ended", 330, reason="meal"),
        event("mes.planned_stop.started", 400, reason="break"),
        event("mes.planned_stop.ended", 415, reason="break"),
        event("machine.count", 470, good=18_848, scrap=423),
        event("mes.shift.ended", 480, shift="day"),
    ]
    (row,) = run(events, tmp_path)
    assert row["window"] == "shift:day"
    assert (row["planned_time_s"], row["run_time_s"]) == (420 * 60, 373 * 60)
    assert round(row["availability"], 4) == 0.8881
    assert round(row["performance"], 4) == 0.8611
    assert round(row["quality"], 4) == 0.9780
    assert round(row["oee"], 4) == 0.7479
    assert row["losses_s"]["availability_loss:equipment_failure"] == 47 * 60


def test_calculator_example_one(tmp_path):
    """waycalculator.com OEE example 1: run 420 of 480 planned minutes, ideal cycle 1 min,
    400 parts of which 380 good -> A 87.5 %, P 95.2 %, Q 95 %, OEE 79.1 %."""
    events = [
        event("mes.shift.started", 0, shift="A"),
        event("mes.work_order.started", 0, work_order="W", product="p", ideal_cycle_time_s=60),
        event("machine.state", 0, state=State.PRODUCING),
        event("machine.state", 420, state=State.TECHNICAL_OTHER),
        event("machine.count", 419, good=380, scrap=20),
        event("mes.shift.ended", 480, shift="A"),
    ]
    (row,) = run(events, tmp_path)
    assert row["availability"] == 0.875
    assert round(row["performance"], 3) == 0.952
    assert row["quality"] == 0.95
    # the page multiplies the rounded factors (0.875 x 0.952 x 0.95 = 0.791); unrounded 0.7917
    published = round(row["availability"], 3) * round(row["performance"], 3) * row["quality"]
    assert round(published, 3) == 0.791
    assert row["oee"] == pytest.approx(0.875 * 400 / 420 * 0.95)


def test_tpm_route_to_world_class_performance_example():
    """Willmott & McCarthy, TPM: A Route to World-Class Performance, p. 127: 910 planned
    minutes, 115 min unplanned stops and 12 min changeovers (both availability losses in this
    book), standard cycle 3 min, 203 cycles -> availability 86.0 %, performance 77.7 %
    (the book truncates 77.78 %)."""
    categories = OeeSettings(availability_loss_states="100000").categories()
    assert State.CHANGEOVER not in categories.performance_loss
    states = [
        StateChange(0, State.PRODUCING),
        StateChange(300 * MIN, State.EQUIPMENT_FAILURE),
        StateChange(415 * MIN, State.PRODUCING),
        StateChange(600 * MIN, State.CHANGEOVER),
        StateChange(612 * MIN, State.PRODUCING),
    ]
    totals = window_totals(
        0, 910 * MIN, states, [Count(10 * MIN, 203, 0, 180.0)], categories=categories
    )
    figures = ratios(totals)
    assert totals.run_time_s == 783 * 60
    assert round(figures.availability * 100, 1) == 86.0
    assert math.floor(figures.performance * 1000) / 10 == 77.7


def test_line_rollup_recomputes_from_sums_instead_of_averaging(tmp_path):
    fast = [
        event("mes.work_order.started", 0, work_order="W", product="p", ideal_cycle_time_s=1.0),
        event("machine.state", 0, state=State.PRODUCING),
        event("machine.count", 30, good=3600),
    ]
    slow = [
        {**e, "asset": "p1/l1/s2/m2"}
        for e in [
            event("machine.state", 0, state=State.EQUIPMENT_FAILURE),
            event("machine.state", 45, state=State.PRODUCING),
            event("mes.work_order.started", 0, work_order="V", product="q", ideal_cycle_time_s=1.0),
            event("machine.count", 50, good=450, scrap=450),
        ]
    ]
    end = event("machine.state", 60, state=State.PRODUCING)
    rows = run([*fast, *slow, end], tmp_path, window="1h", by="line")
    (line,) = rows
    assert line["asset"] == "p1/l1"
    assert line["availability"] == pytest.approx((3600 + 900) / 7200)
    assert line["quality"] == pytest.approx(4050 / 4500)
    assert line["performance"] == pytest.approx(4500 / 4500)


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    good = event("machine.state", 0, state=State.PRODUCING)
    path.write_text(
        json.dumps(good)
        + "\n{not json\n"
        + json.dumps({**good, "state": 7})
        + "\n"
        + json.dumps(event("machine.state", 60, state=State.PRODUCING))
        + "\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(path, "1h", "machine", None, None, out, err) == 1
    assert "events.jsonl:2: skipped: not JSON" in err.getvalue()
    assert "events.jsonl:3: skipped" in err.getvalue()
    assert "state 7 is not a known state code" in err.getvalue()


def test_state_categories_and_microstop_limit_come_from_settings():
    settings = OeeSettings(
        excluded_states="210000", microstop_max_s=30, performance_loss_states="180000"
    )
    categories = settings.categories()
    assert categories.categorise(210000, 600) == ("excluded", "preventive_maintenance")
    assert categories.categorise(180123, 600) == ("performance_loss", "equipment_failure")
    assert categories.categorise(40000, 45)[0] == "availability_loss"
    assert categories.categorise(40000, 25) == ("performance_loss", "microstop")
    with pytest.raises(ValueError, match="comma-separated codes"):
        OeeSettings(excluded_states="maintenance").categories()


def test_shifts_started_for_the_line_hold_on_its_machines_unless_a_machine_has_its_own(tmp_path):
    """As in the stream's production context: the most specific asset with a shift event
    wins, and a machine that ended its own shift has none, whatever its line runs."""

    def on(asset, kind, minute, **fields):
        return {**event(kind, minute, **fields), "asset": asset}

    events = [
        on("p1/l1", "mes.shift.started", 0, shift="early"),
        event("mes.work_order.started", 0, work_order="W", product="w", ideal_cycle_time_s=60),
        event("machine.state", 0, state=State.PRODUCING),
        event("machine.count", 50, good=40),
        event("mes.shift.started", 60, shift="overtime"),  # this machine only
        event("machine.count", 110, good=45),
        on("p1/l1", "mes.shift.started", 120, shift="late"),  # the machine keeps its own
        event("mes.shift.ended", 150, shift="overtime"),
        event("machine.count", 170, good=20),
        on("p1/l1", "mes.shift.ended", 180, shift="late"),
        event("machine.state", 180, state=State.PRODUCING),
    ]
    rows = run(events, tmp_path)
    assert [(r["window"], r["planned_time_s"], r["good"]) for r in rows] == [
        ("shift:early", 3600, 40),
        ("shift:overtime", 90 * 60, 45),
    ]
