"""The simulated plant's single-value sensors behind real protocol servers.

Half the machines expose motor current and temperature as OPC UA variables (asyncua server,
values written with the simulator's source timestamps), the other half as float32 holding
registers of a Modbus TCP device (pymodbus server). LinePulse's own connectors then read them
exactly as they would read a plant, so the demo goes through the real protocols.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from asyncua import Server, ua
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from connectors.modbus.registers import DeviceMap, RegisterTag, encode
from connectors.opcua.tags import OpcUaEndpoint, OpcUaTag
from connectors.run import PlantConfig
from connectors.simulator.plant import SimMachine
from schemas.events import SensorReading

log = logging.getLogger(__name__)

QUANTITIES = {"current": "A", "temperature": "degC"}
REGISTERS_PER_MACHINE = 4  # two float32


def _quantity(reading: SensorReading) -> str | None:
    quantity = reading.sensor.rsplit(".", 1)[-1]
    return quantity if quantity in QUANTITIES else None


class SimulatedPlc:
    """A Modbus TCP device holding each of its machines' current and temperature."""

    def __init__(self, machines: list[SimMachine], port: int, poll_s: float) -> None:
        self.port = port
        self.tags: dict[str, RegisterTag] = {}
        for index, machine in enumerate(machines):
            for offset, (quantity, unit) in enumerate(QUANTITIES.items()):
                self.tags[f"{machine.name}.{quantity}"] = RegisterTag(
                    sensor=f"{machine.name}.{quantity}",
                    asset=machine.asset,
                    address=index * REGISTERS_PER_MACHINE + offset * 2,
                    data_type="float32",
                    unit=unit,
                    poll_s=poll_s,
                )
        self.memory: dict[int, int] = {}
        size = max(REGISTERS_PER_MACHINE * len(machines), 1)
        device = SimDevice(
            id=1,
            simdata=[SimData(address=0, count=size, values=0, datatype=DataType.REGISTERS)],
            action=self._serve,
        )
        self.server = ModbusTcpServer(device, address=("127.0.0.1", port))

    async def _serve(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: Any,
    ) -> None:
        for register in range(address, address + count):
            if register in self.memory:
                current_registers[register - start_address] = self.memory[register]

    def takes(self, reading: SensorReading) -> bool:
        """True if the reading is one of this device's tags."""
        return reading.sensor in self.tags

    def write(self, reading: SensorReading) -> None:
        """Hold the reading's value in the tag's registers."""
        tag = self.tags[reading.sensor]
        for index, register in enumerate(encode(tag, reading.value)):
            self.memory[tag.address + index] = register

    def device_map(self) -> DeviceMap:
        """The register map a Modbus poller reads this device with."""
        return DeviceMap(host="127.0.0.1", port=self.port, tags=list(self.tags.values()))

    async def start(self) -> None:
        """Start serving and wait until the port is open."""
        asyncio.get_running_loop().create_task(self.server.serve_forever())
        for _ in range(100):
            if self.server.transport is not None:
                return
            await asyncio.sleep(0.05)
        msg = f"the simulated Modbus device did not start on port {self.port}"
        raise RuntimeError(msg)

    async def stop(self) -> None:
        """Shut the Modbus server down."""
        await self.server.shutdown()


class SimulatedOpcUaServer:
    """An OPC UA server with an object per machine and a variable per quantity."""

    def __init__(self, machines: list[SimMachine], port: int) -> None:
        self.machines = machines
        self.url = f"opc.tcp://127.0.0.1:{port}/linepulse-sim/"
        self.server = Server()
        self.nodes: dict[str, Any] = {}
        self.tags: list[OpcUaTag] = []

    async def start(self) -> None:
        """Create the machines' objects and variables and start the server."""
        await self.server.init()
        self.server.set_endpoint(self.url)
        self.server.set_server_name("LinePulse simulated plant")
        # a loopback device for the demo: no security, anonymous only (offering signed endpoints
        # without a certificate, or user names on an unencrypted one, makes asyncua warn at start)
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.server.set_identity_tokens([ua.AnonymousIdentityToken])
        namespace = await self.server.register_namespace("urn:linepulse:simulator")
        for machine in self.machines:
            folder = await self.server.nodes.objects.add_object(
                ua.NodeId(ua.String(machine.name), ua.Int16(namespace)), machine.name
            )
            for quantity, unit in QUANTITIES.items():
                node_name = f"{machine.name}.{quantity}"
                node = await folder.add_variable(
                    ua.NodeId(ua.String(node_name), ua.Int16(namespace)),
                    quantity,
                    ua.Variant(0.0, ua.VariantType.Double),
                )
                self.nodes[node_name] = node
                self.tags.append(
                    OpcUaTag(
                        node_id=node.nodeid.to_string(),
                        sensor=node_name,
                        asset=machine.asset,
                        unit=unit,
                        sampling_ms=50,
                        queue_size=50,
                    )
                )
        await self.server.start()

    def takes(self, reading: SensorReading) -> bool:
        """True if the reading is one of this server's variables."""
        return reading.sensor in self.nodes

    async def write(self, reading: SensorReading) -> None:
        """Write the reading's value to its variable, stamped with the reading's time."""
        moment = datetime.fromtimestamp(reading.time / 1000, tz=UTC)
        stamp = ua.DateTime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)
        await self.nodes[reading.sensor].write_value(
            ua.DataValue(
                ua.Variant(reading.value, ua.VariantType.Double),
                SourceTimestamp=stamp,
                ServerTimestamp=stamp,
            )
        )

    def endpoint(self) -> OpcUaEndpoint:
        """The endpoint an OPC UA connector subscribes to this server with."""
        return OpcUaEndpoint(url=self.url, publishing_ms=200, watchdog_s=2.0, tags=self.tags)

    async def stop(self) -> None:
        """Stop the OPC UA server."""
        await self.server.stop()


class PlantDevices:
    """Both servers for a simulated plant; routes its single-value readings to them."""

    def __init__(
        self, machines: list[SimMachine], opcua_port: int, modbus_port: int, poll_s: float
    ) -> None:
        self.opcua = SimulatedOpcUaServer(machines[0::2], opcua_port)
        self.plc = SimulatedPlc(machines[1::2], modbus_port, poll_s)

    async def start(self) -> None:
        """Start the OPC UA server, then the Modbus device."""
        await self.opcua.start()
        await self.plc.start()

    async def stop(self) -> None:
        """Stop the Modbus device, then the OPC UA server."""
        await self.plc.stop()
        await self.opcua.stop()

    async def take(self, event: object) -> bool:
        """Put a reading on its device; False for events the simulator publishes itself."""
        if not isinstance(event, SensorReading) or _quantity(event) is None:
            return False
        if self.opcua.takes(event):
            await self.opcua.write(event)
            return True
        if self.plc.takes(event):
            self.plc.write(event)
            return True
        return False

    def plant_config(self) -> PlantConfig:
        """The connector config that reads both servers."""
        modbus = [self.plc.device_map()] if self.plc.tags else []
        return PlantConfig(modbus=modbus, opcua=[self.opcua.endpoint()])
