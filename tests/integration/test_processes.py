"""`linepulse worker --processes 2`: two compute processes share the partitions, one store
process stores what both compute, and stopping the worker stops them all."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from connectors.publisher import Publisher
from schemas.events import MachineState, ProductionCount, SensorBatch, WorkOrderStarted
from schemas.states import State
from tests.integration.conftest import FAST_WINDOWS, ONLY_NEW_EVENTS, WorkerProcess, health_at

pytestmark = pytest.mark.integration


def test_two_compute_processes_share_the_partitions_and_one_store_keeps_all_rows(
    kafka_bootstrap, tmp_path
):
    worker = WorkerProcess(
        kafka_bootstrap, tmp_path, processes=2, **FAST_WINDOWS, **ONLY_NEW_EVENTS
    )
    worker.start(timeout_s=180)
    try:
        compute_ports = (worker.port + 1, worker.port + 2)
        deadline = time.monotonic() + 120
        while not all(health_at(p).get("ready") for p in compute_ports):
            assert time.monotonic() < deadline, [health_at(p) for p in compute_ports]
            time.sleep(0.5)
        shares = [health_at(p)["assigned_partitions"] for p in compute_ports]
        assert all(share > 0 for share in shares), shares  # both have partitions to work on

        plant = f"procs{uuid.uuid4().hex[:6]}"
        assets = [f"{plant}/l1/s{i}/m{i}" for i in range(8)]  # keys spread over partitions
        now = int(time.time() * 1000)
        start = now - now % 10_000 - 20_000
        publisher = Publisher({"bootstrap.servers": kafka_bootstrap})
        for asset in assets:
            publisher.publish(
                WorkOrderStarted(
                    time=start, asset=asset, work_order="WO", product="p", ideal_cycle_time_s=1.0
                )
            )
            publisher.publish(MachineState(time=start, asset=asset, state=State.PRODUCING))
            publisher.publish(ProductionCount(time=start + 1000, asset=asset, good=5))
            publisher.publish(
                SensorBatch(
                    time=start,
                    asset=asset,
                    sensor="vibration",
                    sample_rate_hz=100,
                    values=[float(n % 7) for n in range(100)],
                )
            )
        publisher.flush()
        seconds = worker.wait_rows(
            f"SELECT DISTINCT asset FROM linepulse.sensor_seconds WHERE asset LIKE '{plant}/%'",
            lambda rows: len(rows) == len(assets),
            timeout_s=180,
        )
        assert sorted(r["asset"] for r in seconds) == sorted(assets)
        windows = worker.wait_rows(
            "SELECT asset, good FROM linepulse.oee_windows FINAL "
            f"WHERE provisional = 0 AND asset LIKE '{plant}/%' AND good > 0",
            lambda rows: len({r["asset"] for r in rows}) == len(assets),
            timeout_s=180,
        )
        assert {r["asset"]: r["good"] for r in windows} == dict.fromkeys(assets, 5)
    finally:
        worker.stop()
    assert worker.process is not None
    assert worker.process.returncode == 0
    assert not any(health_at(p) for p in (worker.port, worker.port + 1, worker.port + 2))


def test_a_killed_worker_takes_its_processes_with_it(kafka_bootstrap, tmp_path):
    import signal

    worker = WorkerProcess(kafka_bootstrap, tmp_path, processes=2, **FAST_WINDOWS)
    worker.start(timeout_s=180)
    ports = (worker.port, worker.port + 1, worker.port + 2)
    deadline = time.monotonic() + 60
    while not all(health_at(p) for p in ports):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    children = _processes_with(f"--web-port {worker.port}", f"--web-port {worker.port + 1}")
    assert len(children) == 2  # the store process and the first compute process at least
    worker.stop(signal.SIGKILL)  # the supervisor only, not its process group
    deadline = time.monotonic() + 60
    while any(health_at(p) for p in ports) or any(
        Path(f"/proc/{pid}").exists() for pid in children
    ):
        assert time.monotonic() < deadline, "a worker process outlived its killed worker"
        time.sleep(0.5)


def _processes_with(*arguments: str) -> list[int]:
    """The ids of the processes whose command line holds one of `arguments`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "streams.commands.cli" in command and any(a + " " in command + " " for a in arguments):
            found.append(int(proc.name))
    return found
