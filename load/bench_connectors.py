"""Connector throughput against the bare protocol clients, in the same run.

    python load/bench_connectors.py --seconds 15 --json load/bench-connectors.json

Modbus TCP: a pymodbus device with 400 float32 tags (800 holding registers) on loopback.
- bare: pymodbus's client reading the same registers in 125-register requests, back to back;
- LinePulse: the `ModbusPoller` (coalesced reads, decoding, readings) publishing every value to a
  real Kafka through the idempotent publisher.
OPC UA: an asyncua server in another process changing 200 variables as fast as it can.
- bare: an asyncua subscription whose handler only counts notifications;
- LinePulse: the `OpcUaConnector` publishing every notification to the same Kafka.
Rates are registers (Modbus) and tag updates (OPC UA) per second; ratios are LinePulse / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import time
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import report  # noqa: E402

from connectors.modbus.poller import ModbusPoller  # noqa: E402
from connectors.modbus.registers import DeviceMap, RegisterTag  # noqa: E402
from connectors.opcua.client import OpcUaConnector  # noqa: E402
from connectors.opcua.tags import OpcUaEndpoint, OpcUaTag  # noqa: E402
from connectors.publisher import Publisher  # noqa: E402
from connectors.topics import ensure_topics  # noqa: E402
from streams.commands.brokers import KafkaBroker, free_port  # noqa: E402

MODBUS_TAGS = 400
OPCUA_TAGS = 200


async def _modbus_server(port: int) -> ModbusTcpServer:
    device = SimDevice(
        id=1,
        simdata=[SimData(address=0, count=2 * MODBUS_TAGS, values=17, datatype=DataType.REGISTERS)],
    )
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    asyncio.get_running_loop().create_task(server.serve_forever())
    while server.transport is None:
        await asyncio.sleep(0.05)
    return server


async def modbus_bare(port: int, seconds: float) -> float:
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    registers = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for start in range(0, 2 * MODBUS_TAGS, 125):
            count = min(125, 2 * MODBUS_TAGS - start)
            result = await client.read_holding_registers(start, count=count, device_id=1)
            registers += len(result.registers)
    client.close()
    return registers / seconds


async def modbus_linepulse(port: int, seconds: float, publisher: Publisher) -> float:
    tags = [
        RegisterTag(
            sensor=f"t{i}",
            asset="bench/l1/s1/plc",
            address=2 * i,
            data_type="float32",
            poll_s=0.001,
        )
        for i in range(MODBUS_TAGS)
    ]
    poller = ModbusPoller(DeviceMap(host="127.0.0.1", port=port, tags=tags, max_gap=0))
    values = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for reading in await poller.poll_once():
            publisher.publish(reading)
            values += 1
        publisher.maintain()
    poller.client.close()
    publisher.flush(60)
    return 2 * values / seconds  # two registers per float32


def _opcua_server(port: int, ready: multiprocessing.synchronize.Event, stop_after: float) -> None:
    from asyncua import Server, ua

    async def serve() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
        namespace = await server.register_namespace("urn:bench")
        folder = await server.nodes.objects.add_object(ua.NodeId("Bench", namespace), "Bench")
        nodes = [
            await folder.add_variable(ua.NodeId(f"v{i}", namespace), f"v{i}", 0.0)
            for i in range(OPCUA_TAGS)
        ]
        await server.start()
        ready.set()
        value = 0.0
        deadline = time.monotonic() + stop_after
        while time.monotonic() < deadline:
            value += 1.0
            for node in nodes:
                await server.write_attribute_value(
                    node.nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.Double))
                )
            await asyncio.sleep(0.001)
        await server.stop()

    asyncio.run(serve())


def _opcua_tags() -> list[OpcUaTag]:
    return [
        OpcUaTag(
            node_id=f"ns=2;s=v{i}",
            sensor=f"v{i}",
            asset="bench/l1/s1/opc",
            sampling_ms=0,
            queue_size=100,
        )
        for i in range(OPCUA_TAGS)
    ]


async def opcua_bare(url: str, seconds: float) -> float:
    from asyncua import Client

    class Counter:
        count = 0

        def datachange_notification(self, node: object, value: object, data: object) -> None:
            self.count += 1

    handler = Counter()
    async with Client(url) as client:
        subscription = await client.create_subscription(50, handler)
        nodes = [client.get_node(tag.address) for tag in _opcua_tags()]
        await subscription.subscribe_data_change(nodes, queuesize=100, sampling_interval=0)
        await asyncio.sleep(1)  # the first values of every node
        start = handler.count
        await asyncio.sleep(seconds)
        return (handler.count - start) / seconds


async def opcua_linepulse(url: str, seconds: float, publisher: Publisher) -> float:
    counted = 0

    def publish(reading: object) -> None:
        nonlocal counted
        counted += 1
        publisher.publish(reading)  # type: ignore[arg-type]

    stop = asyncio.Event()
    connector = OpcUaConnector(OpcUaEndpoint(url=url, publishing_ms=50, tags=_opcua_tags()))
    task = asyncio.create_task(connector.run(publish, stop))
    await asyncio.sleep(1)
    start = counted
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        publisher.maintain()
        await asyncio.sleep(0.05)
    done = counted - start
    stop.set()
    await task
    publisher.flush(60)
    return done / seconds


async def run(seconds: float, bootstrap: str) -> dict[str, float]:
    publisher = Publisher({"bootstrap.servers": bootstrap})
    port = free_port()
    server = await _modbus_server(port)
    results = {
        "modbus_bare_registers_per_s": await modbus_bare(port, seconds),
        "modbus_linepulse_registers_per_s": await modbus_linepulse(port, seconds, publisher),
    }
    await server.shutdown()

    opc_port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    process = multiprocessing.get_context("spawn").Process(
        target=_opcua_server, args=(opc_port, ready, 2 * seconds + 20)
    )
    process.start()
    ready.wait(60)
    url = f"opc.tcp://127.0.0.1:{opc_port}/bench/"
    results["opcua_bare_updates_per_s"] = await opcua_bare(url, seconds)
    results["opcua_linepulse_updates_per_s"] = await opcua_linepulse(url, seconds, publisher)
    process.terminate()
    process.join(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    broker = KafkaBroker.create()
    broker.start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, 4)
        rates = asyncio.run(run(args.seconds, broker.bootstrap))
    finally:
        broker.remove()
    result = {
        "seconds": args.seconds,
        "modbus_tags": MODBUS_TAGS,
        "opcua_tags": OPCUA_TAGS,
        **{k: round(v) for k, v in rates.items()},
        "modbus_ratio_to_bare": round(
            rates["modbus_linepulse_registers_per_s"] / rates["modbus_bare_registers_per_s"], 3
        ),
        "opcua_ratio_to_bare": round(
            rates["opcua_linepulse_updates_per_s"] / rates["opcua_bare_updates_per_s"], 3
        ),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
