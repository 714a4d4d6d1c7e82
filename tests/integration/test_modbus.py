"""The Modbus connector against a real pymodbus TCP server on loopback."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusTcpServer

from connectors.modbus.poller import REQUESTS, ModbusPoller
from connectors.modbus.registers import DeviceMap, RegisterTag, encode
from streams.commands.brokers import free_port

pytestmark = pytest.mark.integration
ASSET = "plant1/line1/st1/m1"
TYPES = {
    "int16": -321,
    "uint16": 65000,
    "int32": -7_654_321,
    "uint32": 4_000_000_000,
    "float32": 41.5,
    "float64": -1234.5678,
}


def tags_for_every_type_and_order() -> list[RegisterTag]:
    tags, address = [], 0
    for data_type in TYPES:
        for order in ("ABCD", "DCBA", "BADC", "CDAB"):
            tag = RegisterTag(
                sensor=f"{data_type}.{order}",
                asset=ASSET,
                address=address,
                data_type=data_type,
                byte_order=order,
            )
            tags.append(tag)
            address += tag.count
    return tags


async def start_server(port: int, holding: list[int], coils: list[bool]) -> ModbusTcpServer:
    """A device whose protocol address 0 holds holding[0] (pymodbus blocks count from 1)."""
    device = ModbusDeviceContext(
        hr=ModbusSequentialDataBlock(1, holding), co=ModbusSequentialDataBlock(1, coils)
    )
    server = ModbusTcpServer(
        ModbusServerContext(devices={1: device}, single=False), address=("127.0.0.1", port)
    )
    asyncio.get_running_loop().create_task(server.serve_forever())
    for _ in range(50):
        if server.transport is not None:
            return server
        await asyncio.sleep(0.05)
    raise AssertionError("the Modbus server did not start")


def registers_for(tags: list[RegisterTag]) -> list[int]:
    holding = [0] * (max(t.address + t.count for t in tags) + 1)
    for tag in tags:
        value = TYPES[tag.data_type]
        holding[tag.address : tag.address + tag.count] = encode(tag, value)
    return holding


async def test_every_type_and_byte_order_arrives_with_coalesced_reads():
    tags = tags_for_every_type_and_order()
    tags.append(
        RegisterTag(sensor="door.open", asset=ASSET, function="coil", address=3, data_type="bool")
    )
    port = free_port()
    server = await start_server(port, registers_for(tags[:-1]), [False] * 3 + [True] * 3)
    try:
        poller = ModbusPoller(DeviceMap(host="127.0.0.1", port=port, tags=tags))
        before = REQUESTS.labels(poller.name)._value.get()
        readings = {r.sensor: r.value for r in await poller.poll_once()}
        requests = REQUESTS.labels(poller.name)._value.get() - before
        poller.client.close()
    finally:
        await server.shutdown()
    assert len(readings) == len(tags)
    for tag in tags[:-1]:
        assert readings[tag.sensor] == pytest.approx(TYPES[tag.data_type], rel=1e-6), tag.sensor
    assert readings["door.open"] == 1.0
    assert requests == 2 < len(tags)  # 24 register tags in one read, the coil in another


async def test_a_device_that_stops_answering_marks_health_down_and_recovers():
    tag = RegisterTag(sensor="temp", asset=ASSET, address=0, data_type="int16", scale=0.1)
    port = free_port()
    server = await start_server(port, [215], [False])
    device = DeviceMap(host="127.0.0.1", port=port, timeout_s=0.5, retries=0, tags=[tag])
    poller = ModbusPoller(device)
    try:
        assert [r.value for r in await poller.poll_once()] == [pytest.approx(21.5)]
        await server.shutdown()
        assert await poller.poll_once() == []
        assert not poller.health.up
        assert poller.next_wait_s() > 1.0
        server = await start_server(port, [230], [False])
        for _ in range(20):
            readings = await poller.poll_once()
            if readings:
                break
            await asyncio.sleep(0.3)
        assert [r.value for r in readings] == [pytest.approx(23.0)]
        assert poller.health.up
    finally:
        poller.client.close()
        await server.shutdown()


async def test_linepulse_connect_publishes_device_values_to_kafka(kafka_bootstrap, tmp_path):
    import os
    import sys
    import uuid

    import yaml

    from schemas import topics
    from tests.integration.conftest import consume

    asset = f"mb{uuid.uuid4().hex[:6]}/l1/s1/press"
    port = free_port()
    tag = RegisterTag(sensor="force", asset=asset, address=0, data_type="float32", unit="kN")
    server = await start_server(port, encode(tag, 512.25), [False])
    config = tmp_path / "plant.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "modbus": [
                    {
                        "host": "127.0.0.1",
                        "port": port,
                        "tags": [
                            tag.model_dump(
                                include={"sensor", "asset", "address", "data_type", "unit"}
                            )
                            | {"poll_s": 0.2, "expected_min": 0, "expected_max": 1000}
                        ],
                    }
                ]
            }
        )
    )
    health_port = free_port()
    env = {
        **os.environ,
        "LINEPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LINEPULSE_PUBLISHER_SPOOL_DIR": str(tmp_path / "spool"),
        "LINEPULSE_CONNECT_HEALTH_PORT": str(health_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams.commands.cli",
        "connect",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        readings = await asyncio.to_thread(
            consume,
            kafka_bootstrap,
            topics.SENSOR_READINGS,
            lambda v: v.get("asset") == asset,
            3,
            30,
        )
        specs = await asyncio.to_thread(
            consume, kafka_bootstrap, topics.SENSOR_SPECS, lambda v: v.get("asset") == asset, 1, 30
        )
        health = await asyncio.to_thread(_get, f"http://127.0.0.1:{health_port}/health")
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{health_port}/metrics")
        await server.shutdown()
        server = None
        deadline = asyncio.get_running_loop().time() + 20
        down = health
        while down[0] == 200 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
            down = await asyncio.to_thread(_get, f"http://127.0.0.1:{health_port}/health")
    finally:
        process.terminate()
        await process.wait()
        if server is not None:
            await server.shutdown()
    assert health == (
        200,
        f'{{"healthy": true, "connections": {{"modbus 127.0.0.1:{port}": true}}}}',
    )
    assert down[0] == 503  # the device stopped answering
    assert f'linepulse_modbus_requests_total{{device="127.0.0.1:{port}"}}' in metrics[1]
    assert [r["value"] for r in readings] == [512.25] * 3
    assert specs[0]["sensor"] == "force"
    assert specs[0]["interval_ms"] == 200.0
    assert specs[0]["expected_max"] == 1000.0
    assert {(r["sensor"], r["unit"]) for r in readings} == {("force", "kN")}
    assert process.returncode == 0


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
