"""`linepulse vibration` over recordings: one JSON object per window with the velocity, zone and
defect evidence, the component named, and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from connectors.simulator.vibration import MachineVibration, vibration
from schemas.vibration import BearingGeometry
from streams.commands.cli import main

FS = 12_000
BEARING = "BPFO=3.5848,BPFI=5.4152,BSF=2.357,FTF=0.3983"


def _recording(path: Path, defect: str | None, seconds: int = 4, shaft_g: float = 0.05) -> Path:
    multipliers = BearingGeometry(
        rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04
    ).multipliers()
    machine = MachineVibration(shaft_g=shaft_g)
    rng = np.random.default_rng(7)
    samples = np.concatenate(
        [vibration(machine, FS, s, FS, rng, defect, multipliers, 0.25) for s in range(seconds)]  # type: ignore[arg-type]
    )
    pl.DataFrame({"t": np.arange(samples.size) / FS, "DE": samples}).write_csv(path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    code = main(["vibration", *args])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    return code, lines, captured.err


@pytest.mark.parametrize("defect", ["outer_race", "inner_race", "rolling_element"])
def test_each_window_names_the_failing_component_with_its_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], defect: str
) -> None:
    csv = _recording(tmp_path / "rec.csv", defect)
    code, lines, err = _run(
        capsys, "--input", str(csv), "--column", "DE", "--sample-rate", str(FS),
        "--shaft-rpm", "1797", "--bearing", BEARING,
    )  # fmt: skip
    assert code == 0
    assert [line["suspected"] for line in lines] == [defect] * 4
    evidence = lines[0]["evidence"][defect]
    assert evidence["ratio"] >= 4
    assert len(evidence["line_ratios"]) >= 3
    assert f"suspected {defect.replace('_', ' ')} 4" in err


def test_a_healthy_machine_gets_none_and_its_zone_follows_group_and_foundation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _recording(tmp_path / "rec.csv", None, shaft_g=0.1)  # ~3.8 mm/s
    base = ["--input", str(csv), "--column", "DE", "--sample-rate", str(FS), "--shaft-rpm", "1797"]
    geometry = "elements=9,ball=7.94,pitch=39.04"
    _, rigid, _ = _run(capsys, *base, "--bearing", geometry, "--group", "2")
    _, flexible, _ = _run(capsys, *base, "--bearing", geometry, "--foundation", "flexible")
    _, large, _ = _run(capsys, *base, "--bearing", geometry, "--group", "1")
    assert [line["suspected"] for line in rigid] == [None] * 4
    assert 3.0 < rigid[0]["velocity_rms_mm_s"] < 4.5
    assert {line["zone"] for line in rigid} == {"C"}  # 2.8-4.5 mm/s
    assert {line["zone"] for line in flexible} == {"B"}  # 2.3-4.5
    assert {line["zone"] for line in large} == {"B"}  # 2.3-4.5


def test_without_a_bearing_only_the_severity_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _recording(tmp_path / "rec.csv", "outer_race", seconds=2)
    code, lines, err = _run(
        capsys, "--input", str(csv), "--column", "DE", "--sample-rate", str(FS), "--unit", "g"
    )
    assert code == 0
    assert len(lines) == 2
    assert all(line["suspected"] is None and "evidence" not in line for line in lines)
    assert "give --bearing and --shaft-rpm" in err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--column", "nope"], "no column 'nope'"),
        (["--column", "DE", "--bearing", "BPFO=3"], "give all of BPFO"),
        (["--column", "DE", "--bearing", "BPFO=x"], "KEY=NUMBER"),
        (["--column", "DE", "--band", "4000-300"], "must be low, high"),
        (["--column", "DE", "--zone-boundaries", "1,2"], "give 3 numbers"),
        (["--column", "DE", "--window-s", "0.001"], "use >= 64"),
        (["--column", "DE", "--bearing", "elements=9,ball=40,pitch=39"], "data sheet"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    csv = _recording(tmp_path / "rec.csv", None, seconds=1)
    code = main(["vibration", "--input", str(csv), "--sample-rate", str(FS), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err
    assert err.count("\n") == 1


def test_a_sample_that_is_not_a_number_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "rec.csv"
    csv.write_text("DE\n" + "0.1\n" * 100 + "nan\n" + "0.2\n" * 100)
    code = main(["vibration", "--input", str(csv), "--column", "DE", "--sample-rate", "100"])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 102" in err
