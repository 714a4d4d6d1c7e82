"""The one-command demo: Tansu, simulator, worker and store, stopped cleanly by --duration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import polars as pl
import pytest

pytestmark = pytest.mark.integration


def _linepulse(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.commands.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_demo_runs_stops_cleanly_and_leaves_queryable_data(tmp_path):
    data_dir = str(tmp_path / "demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEPULSE_")}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.commands.cli",
            "demo",
            "--duration",
            "30",
            "--data-dir",
            data_dir,
            "--machines",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        live = None
        while time.monotonic() < deadline and demo.poll() is None:
            time.sleep(3)
            result = _linepulse(
                "query",
                "--data-dir",
                data_dir,
                "--format",
                "json",
                "SELECT count() AS n FROM linepulse.sensor_readings",
            )
            if result.returncode == 0 and result.stdout.strip():
                live = json.loads(result.stdout.splitlines()[0])["n"]
                if live > 0:
                    break
        assert live, "querying the store while the demo runs returned no readings"
        output, _ = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, output[-3000:]
    assert "OEE per machine" in output
    through = re.search(r"(\d+) OPC UA updates and (\d+) Modbus reads by the connectors", output)
    assert through, output[-3000:]
    assert int(through.group(1)) > 0
    assert int(through.group(2)) > 0
    # FINAL in both queries: oee_windows is a ReplacingMergeTree, and a merge that runs when the
    # next query opens the store would otherwise change its count in between.
    counts = _linepulse(
        "query",
        "--data-dir",
        data_dir,
        "--format",
        "json",
        "SELECT (SELECT count() FROM linepulse.sensor_readings) AS readings, "
        "(SELECT uniqExact(sensor) FROM linepulse.sensor_readings "
        "WHERE sensor IN ('m1.temperature', 'm2.temperature', 'm1.current', 'm2.current')) "
        "AS protocol_sensors, "
        "(SELECT countIf(vin != '') FROM linepulse.sensor_readings) AS with_vehicle, "
        "(SELECT count() FROM linepulse.sensor_seconds) AS seconds, "
        "(SELECT count() FROM linepulse.oee_windows FINAL) AS oee, "
        "(SELECT uniqExact(asset) FROM linepulse.oee_windows) AS machines, "
        "(SELECT count() FROM linepulse.dead_letters) AS dead_letters",
    )
    assert counts.returncode == 0, counts.stderr
    row = json.loads(counts.stdout.splitlines()[0])
    assert row["readings"] > live
    assert row["protocol_sensors"] == 4  # m1 through OPC UA, m2 through Modbus TCP
    assert row["with_vehicle"] > 0  # the context the worker attaches from MES events
    assert row["seconds"] >= 3 * 20
    assert row["machines"] == 3
    assert row["oee"] >= 3
    assert row["dead_letters"] >= 1
    parquet = tmp_path / "oee.parquet"
    exported = _linepulse(
        "query",
        "--data-dir",
        data_dir,
        "--format",
        "parquet",
        "--output",
        str(parquet),
        "SELECT asset, oee FROM linepulse.oee_windows FINAL",
    )
    assert exported.returncode == 0, exported.stderr
    frame = pl.read_parquet(parquet)
    assert frame.columns == ["asset", "oee"]
    assert frame.height == row["oee"]
