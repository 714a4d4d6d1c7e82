"""The demo's live view and its data dir: pure rendering of the OEE tables, and --fresh."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.commands.demo import DemoError, prepare_data_dir
from streams.commands.demo_view import line_oee_table, machine_oee_table
from streams.store.owner import write_owner

NOW = datetime(2026, 3, 14, 10, 15, 0, tzinfo=UTC)


def _machine(**kw):
    row = {
        "asset": "plant1/line1/st1/m1",
        "window": "10:14:00",
        "live": 0,
        "availability": 1.0,
        "performance": 0.8,
        "quality": 1.0,
        "oee": 0.8,
        "performance_over_one": 0,
        "parts": 12,
    }
    return {**row, **kw}


def _cells(text, asset):
    (line,) = [x for x in text.splitlines() if x.startswith(asset)]
    return line.split()


def test_performance_above_one_is_marked_in_the_live_view_with_a_legend():
    text = machine_oee_table(
        [
            _machine(performance=1.25, oee=1.25, performance_over_one=1),
            _machine(asset="plant1/line1/st2/m2"),
        ]
    )
    assert _cells(text, "plant1/line1/st1/m1")[4] == "1.250*"
    assert _cells(text, "plant1/line1/st2/m2")[4] == "0.800"
    assert "* performance above 1" in text


def test_a_window_without_parts_shows_oee_zero_and_undefined_quality():
    text = machine_oee_table([_machine(performance=0.0, quality=None, oee=0.0, parts=0, live=1)])
    assert _cells(text, "plant1/line1/st1/m1")[2:] == ["live", "1.000", "0.000", "-", "0.000", "0"]
    assert "- undefined" in text


def test_line_view_recomputes_ratios_from_sums_as_the_core_does():
    rows = [
        # sums as ClickHouse's JSON gives them: 64-bit integers quoted
        {
            "line": "plant1/line1",
            "planned_s": 120.0,
            "run_s": 60.0,
            "ideal_s": 0.0,
            "good_parts": "0",
            "scrap_parts": "0",
            "parts_without_cycle_time": "0",
        },
        {
            "line": "plant1/line2",
            "planned_s": 60.0,
            "run_s": 60.0,
            "ideal_s": 90.0,
            "good_parts": "90",
            "scrap_parts": "0",
            "parts_without_cycle_time": "0",
        },
        {
            "line": "plant1/line3",
            "planned_s": 60.0,
            "run_s": 60.0,
            "ideal_s": 10.0,
            "good_parts": "20",
            "scrap_parts": "0",
            "parts_without_cycle_time": "10",
        },
    ]
    text = line_oee_table(rows)
    assert _cells(text, "plant1/line1")[1:] == ["0.500", "0.000", "-", "0.000", "0"]
    assert _cells(text, "plant1/line2")[1:] == ["1.000", "1.500*", "1.000", "1.500", "90"]
    assert _cells(text, "plant1/line3")[1:] == ["1.000", "-", "1.000", "-", "20"]


def test_fresh_moves_the_old_data_dir_aside_and_says_where(tmp_path):
    data = tmp_path / ".linepulse"
    data.mkdir()
    (data / "worker.log").write_text("earlier run")
    message = prepare_data_dir(data, fresh=True, now=NOW)
    aside = tmp_path / ".linepulse.old-20260314T101500Z"
    assert (aside / "worker.log").read_text() == "earlier run"
    assert not data.exists()
    assert message is not None
    assert str(aside) in message
    assert "\n" not in message
    (tmp_path / ".linepulse").mkdir()
    (tmp_path / ".linepulse" / "x").write_text("")
    prepare_data_dir(data, fresh=True, now=NOW)  # the same second: another name
    assert (tmp_path / ".linepulse.old-20260314T101500Z-2" / "x").exists()


def test_without_fresh_the_demo_says_it_appends_to_existing_data(tmp_path):
    data = tmp_path / ".linepulse"
    assert prepare_data_dir(data, fresh=False, now=NOW) is None
    assert prepare_data_dir(data, fresh=True, now=NOW) is None
    data.mkdir()
    (data / "worker.log").write_text("")
    message = prepare_data_dir(data, fresh=False, now=NOW)
    assert message is not None
    assert str(data) in message
    assert "--fresh" in message
    assert "\n" not in message
    assert (data / "worker.log").exists()


def test_fresh_refuses_to_move_a_data_dir_a_running_worker_owns(tmp_path):
    data = tmp_path / ".linepulse"
    write_owner(data, "127.0.0.1", 1)  # this process: alive
    with pytest.raises(DemoError, match="in use"):
        prepare_data_dir(data, fresh=True, now=NOW)
    assert data.exists()


def test_fresh_is_a_flag_and_an_env_var(monkeypatch):
    from streams.commands.cliparser import build_parser

    assert build_parser().parse_args(["demo"]).fresh is False
    assert build_parser().parse_args(["demo", "--fresh"]).fresh is True
    monkeypatch.setenv("LINEPULSE_DEMO_FRESH", "1")
    assert build_parser().parse_args(["demo"]).fresh is True
    assert build_parser().parse_args(["demo", "--no-fresh"]).fresh is False
    assert (
        "LINEPULSE_DEMO_FRESH"
        in build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    )


def test_without_fresh_the_demo_refuses_a_data_dir_a_running_worker_owns(tmp_path):
    data = tmp_path / ".linepulse"
    write_owner(data, "127.0.0.1", 1)  # this process: alive
    with pytest.raises(DemoError) as caught:
        prepare_data_dir(data, fresh=False, now=NOW)
    message = str(caught.value)
    assert str(data) in message
    assert "stop" in message
    assert "--data-dir" in message
    assert "\n" not in message
    assert data.exists()


def test_a_data_dir_whose_worker_has_exited_is_not_refused(tmp_path):
    import json
    import subprocess

    from streams.commands.demo import refuse_owned_data_dir

    data = tmp_path / ".linepulse"
    data.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()
    (data / "worker.json").write_text(json.dumps({"pid": ended.pid, "host": "h", "port": 1}))
    refuse_owned_data_dir(data)  # no error: nobody holds the store
    refuse_owned_data_dir(tmp_path / "missing")
    write_owner(data, "127.0.0.1", 1)
    with pytest.raises(DemoError, match="stop that worker"):
        refuse_owned_data_dir(data)
