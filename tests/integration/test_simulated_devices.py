"""`linepulse simulate --through-protocols`: the plant's sensors reach Kafka through its OPC UA
server and Modbus device and LinePulse's connectors."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from schemas import topics
from tests.integration.conftest import consume

pytestmark = pytest.mark.integration


def test_simulated_plant_is_read_through_opcua_and_modbus(kafka_bootstrap, tmp_path):
    plant = f"proto{uuid.uuid4().hex[:6]}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.commands.cli",
            "simulate",
            "--duration",
            "6",
            "--machines",
            "2",
            "--lines",
            "1",
            "--plant",
            plant,
            "--through-protocols",
            "true",
            "--vibration-rate-hz",
            "10",
        ],
        env={
            **os.environ,
            "LINEPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "LINEPULSE_PUBLISHER_SPOOL_DIR": str(tmp_path / "spool"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    def read(machine: str) -> list[dict]:
        return consume(
            kafka_bootstrap,
            topics.SENSOR_READINGS,
            lambda v: (
                v.get("asset", "").startswith(f"{plant}/") and v["sensor"].startswith(machine)
            ),
            10,
            timeout_s=30,
        )

    readings = read("m1.") + read("m2.")
    sensors = {r["sensor"] for r in readings}
    assert {"m1.temperature", "m1.current", "m2.temperature", "m2.current"} <= sensors
    opcua = [r for r in readings if r["sensor"] == "m1.temperature"]
    modbus = [r for r in readings if r["sensor"] == "m2.temperature"]
    assert all(r["time"] % 1000 == 0 for r in opcua)  # the simulator's own source timestamps
    assert {r["unit"] for r in modbus} == {"degC"}
    assert all(40 < r["value"] < 60 for r in opcua + modbus)


async def test_the_simulated_opcua_server_starts_without_security_warnings(caplog):
    import logging

    from connectors.loopback import free_port
    from connectors.settings import SimulatorSettings
    from connectors.simulator.devices import SimulatedOpcUaServer
    from connectors.simulator.plant import PlantSimulator
    from tests.factories import T0

    machines = PlantSimulator(SimulatorSettings(machines=2), T0).machines
    server = SimulatedOpcUaServer(machines, free_port())
    with caplog.at_level(logging.WARNING, logger="asyncua"):
        await server.start()
        await server.stop()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("asyncua")] == []
