"""`linepulse oee` over small JSONL files: plans sent on lines and stations, parts without a
cycle time, and agreement with the windows the stream closes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from schemas.codec import encode
from schemas.states import State
from streams.commands.batch_oee import run_batch
from streams.core.oee import DEFAULT_CATEGORIES, ratios
from streams.core.plans import GroupPlans
from streams.core.windows import MachineWindows
from tests.factories import T0, count, order, state, stop

LINE = "plant1/line1"
M1 = "plant1/line1/st1/m1"
M2 = "plant1/line1/st2/m2"
W = 60_000


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def run(events, tmp_path, window="1m", by="machine", end_s=None):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode(e) for e in events) + b"\n")
    out, err = io.StringIO(), io.StringIO()
    end = iso(T0 + end_s * 1000) if end_s is not None else None
    run_batch(path, window, by, None, end, out, err, categories=DEFAULT_CATEGORIES)
    assert err.getvalue() == ""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def plant_minute():
    """Two machines of a line that sends the work order and a planned stop; m1 stops at 40 s."""
    return [
        order(0, 1.0, asset=LINE),
        *stop(20, 30, "meeting", asset=LINE),
        state(0, State.PRODUCING, asset=M1),
        state(40, State.EQUIPMENT_FAILURE, asset=M1),
        count(15, 12, asset=M1),
        state(0, State.PRODUCING, asset=M2),
        count(50, 20, 2, asset=M2),
        state(60, State.PRODUCING, asset=M2),
    ]


def test_line_work_order_and_stop_hold_for_its_machines_and_give_the_line_no_row(tmp_path):
    rows = run(plant_minute(), tmp_path)
    assert [r["asset"] for r in rows] == [M1, M2]
    m1, m2 = rows
    assert (m1["planned_time_s"], m1["run_time_s"], m1["ideal_time_s"]) == (50, 30, 12)
    assert m1["losses_s"]["planned_stop:meeting"] == 10
    assert m2["performance"] == pytest.approx(22 / 50)
    assert m1["parts_without_cycle_time"] == m2["parts_without_cycle_time"] == 0


def test_parts_without_a_cycle_time_are_reported_in_machine_and_line_rows(tmp_path):
    events = [
        state(0, State.PRODUCING, asset=M1),
        count(10, 4, 1, asset=M1),
        order(30, 1.0, asset=M2),
        state(0, State.PRODUCING, asset=M2),
        count(20, 3, asset=M2),
        count(40, 6, asset=M2),
        state(60, State.PRODUCING, asset=M2),
    ]
    m1, m2 = run(events, tmp_path)
    assert (m1["parts_without_cycle_time"], m1["performance"], m1["oee"]) == (5, None, None)
    assert (m2["parts_without_cycle_time"], m2["performance"]) == (3, None)
    (line,) = run(events, tmp_path, by="line")
    assert (line["parts_without_cycle_time"], line["performance"]) == (8, None)
    assert line["total"] == 14


def test_batch_rows_equal_the_windows_the_stream_closes_with_the_same_plans(tmp_path):
    events = plant_minute()
    batch = {(r["asset"], r["window_start"]): r for r in run(events, tmp_path, end_s=120)}
    plans = GroupPlans()
    machines = {M1: MachineWindows(M1, W), M2: MachineWindows(M2, W)}
    for event in events:
        if not plans.apply(event):
            machines[event.asset].add(event)
    closed = [w for m in machines.values() for w in m.close(T0 + 2 * W, plans=plans)]
    assert len(closed) == len(batch) == 4
    for window in closed:
        row = batch[(window.asset, iso(window.start))]
        figures = ratios(window.totals)
        assert row["planned_time_s"] == pytest.approx(window.totals.planned_time_s)
        assert row["ideal_time_s"] == pytest.approx(window.totals.ideal_time_s)
        assert row["availability"] == pytest.approx(figures.availability)
        assert row["performance"] == pytest.approx(figures.performance)
        assert row["losses_s"] == pytest.approx(window.totals.losses_s)


def test_an_empty_result_says_why_and_a_bad_line_names_its_character(tmp_path):
    import io

    from streams.commands.batch_oee import run_batch

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"kind":"machine.state","time":"2026-01-01T00:00:00Z","asset":"p/l/s/m","state":10000}\n'
        '{"kind": oops}\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(events, "1h", "machine", None, None, out, err) == 0
    assert f"{events}:2: skipped: not JSON" in err.getvalue()
    assert "at character 10" in err.getvalue()
    assert "line 1 column" not in err.getvalue()  # orjson's count within the line misleads
    assert "no OEE row: no complete 1h window" in err.getvalue()
    err = io.StringIO()
    run_batch(events, "1h", "machine", "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", out, err)
    assert "no OEE row: --to is not after --from" in err.getvalue()


def test_from_inside_a_window_starts_with_that_window_aligned_from_midnight_utc(tmp_path):
    import io
    import json

    from streams.commands.batch_oee import run_batch

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"kind":"machine.state","time":"2026-01-01T05:30:00Z","asset":"p/l/s/m","state":10000}\n'
        '{"kind":"machine.count","time":"2026-01-01T07:59:00Z","asset":"p/l/s/m","good":1}\n'
    )
    out = io.StringIO()
    run_batch(events, "1h", "machine", "2026-01-01T06:10:00Z", None, out, io.StringIO())
    starts = [json.loads(line)["window_start"] for line in out.getvalue().splitlines()]
    assert starts == ["2026-01-01T06:00:00Z"]  # 07:00-08:00 is not complete before 07:59
