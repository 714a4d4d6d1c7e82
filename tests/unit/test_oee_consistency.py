"""A window with planned time but no good part has OEE 0 in the stream's rows, its hour rollup
and `linepulse oee` alike; quality stays null when no part was counted."""

from __future__ import annotations

import io
import json
from zoneinfo import ZoneInfo

from schemas.codec import encode
from schemas.states import State
from streams.commands.batch_oee import run_batch
from streams.core.oee import DEFAULT_CATEGORIES
from streams.core.rollups import MachineRollups, local_hour
from streams.core.windows import MachineWindows
from streams.processors.oee_results import oee_result
from tests.factories import ASSET, T0, count, order, state

W = 60_000


def _events():
    """Minute 1 runs without a part, minute 2 runs and makes 30 parts of 1 s, minute 3 is down."""
    return [
        order(0, 1.0),
        state(0, State.PRODUCING),
        count(90, good=30),
        state(120, State.EQUIPMENT_FAILURE),
        state(180, State.EQUIPMENT_FAILURE),
    ]


def test_stream_rows_and_rollup_give_oee_zero_for_windows_without_good_parts():
    machine = MachineWindows(ASSET, W)
    for event in _events():
        machine.add(event)
    windows = machine.close(T0 + 3 * W, DEFAULT_CATEGORIES)
    rows = [oee_result(w, 1, "1m") for w in windows]
    assert [(r.oee, r.quality, r.total) for r in rows] == [
        (0.0, None, 0),
        (0.5, 1.0, 30),
        (0.0, None, 0),
    ]
    rollups = MachineRollups(ASSET)
    for window in windows:
        hour_rows = rollups.add(window, {"hour": local_hour(window.start, ZoneInfo("UTC"))})
    _, hour = hour_rows[-1]
    assert oee_result(hour, 1, "1h", rollup=True).oee == 30 / 180


def _batch(tmp_path, by):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode(e) for e in _events()) + b"\n")
    out = io.StringIO()
    run_batch(path, "1m", by, None, None, out, io.StringIO(), DEFAULT_CATEGORIES)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_batch_rows_agree_with_the_stream_for_windows_without_good_parts(tmp_path):
    for by in ("machine", "line"):
        rows = _batch(tmp_path, by)
        assert [(r["oee"], r["quality"]) for r in rows] == [(0.0, None), (0.5, 1.0), (0.0, None)]
