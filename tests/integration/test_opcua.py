"""The OPC UA connector against a real asyncua server on loopback."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from asyncua import Server, ua

from connectors.broker import free_port
from connectors.opcua.client import OpcUaConnector, OpcUaEndpoint, OpcUaTag

pytestmark = pytest.mark.integration
ASSET = "plant1/line1/st1/press7"
logging.getLogger("asyncua").setLevel(logging.ERROR)


async def start_server(port: int) -> tuple[Server, dict[str, object]]:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/linepulse/")
    namespace = await server.register_namespace("urn:linepulse:test")
    press = await server.nodes.objects.add_object(ua.NodeId("Press7", namespace), "Press7")
    force = await press.add_variable(ua.NodeId("Press7.Force", namespace), "Force", 10.0)
    temp = await press.add_variable(ua.NodeId("Press7.Temp", namespace), "Temp", 40.0)
    await server.start()
    return server, {"force": force, "temp": temp, "ns": namespace}


def endpoint(port: int, ns: object) -> OpcUaEndpoint:
    return OpcUaEndpoint(
        url=f"opc.tcp://127.0.0.1:{port}/linepulse/",
        publishing_ms=50,
        watchdog_s=0.5,
        tags=[
            OpcUaTag(
                node_id=f"ns={ns};s=Press7.Force",
                sensor="press7.force",
                asset=ASSET,
                unit="kN",
                sampling_ms=10,
            ),
            OpcUaTag(
                node_id=f"ns={ns};s=Press7.Temp",
                sensor="press7.temp",
                asset=ASSET,
                unit="degC",
                sampling_ms=10,
            ),
        ],
    )


async def wait_for(readings: list, predicate, timeout_s: float = 15) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if any(predicate(r) for r in readings):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reading matched; got {[(r.sensor, r.value) for r in readings]}")


async def test_values_arrive_with_source_time_and_quality_and_survive_a_server_restart():
    port = free_port()
    server, nodes = await start_server(port)
    readings: list = []
    stop = asyncio.Event()
    connector = OpcUaConnector(endpoint(port, nodes["ns"]))
    task = asyncio.create_task(connector.run(readings.append, stop))
    try:
        await wait_for(readings, lambda r: r.sensor == "press7.force" and r.value == 10.0)
        stamp = ua.DataValue(
            ua.Variant(55.5, ua.VariantType.Double),
            SourceTimestamp=datetime(2026, 11, 26, 6, 0, 0, tzinfo=UTC),
        )
        await nodes["force"].write_value(stamp)
        await wait_for(readings, lambda r: r.value == 55.5)
        sourced = next(r for r in readings if r.value == 55.5)
        assert sourced.time == 1_795_672_800_000  # the device's own timestamp, not arrival
        assert (sourced.quality, sourced.unit) == ("good", "kN")
        await nodes["temp"].write_value(
            ua.DataValue(
                ua.Variant(41.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
            )
        )
        await wait_for(readings, lambda r: r.sensor == "press7.temp" and r.value == 41.0)
        assert next(r for r in readings if r.value == 41.0).quality == "uncertain"

        await server.stop()
        await asyncio.sleep(2)
        server, nodes = await start_server(port)  # a new server: the session must be rebuilt
        await nodes["force"].write_value(77.0)
        await wait_for(readings, lambda r: r.value == 77.0, timeout_s=30)
        assert connector.sessions >= 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()
