"""`linepulse connect --config plant.yaml`: every configured connector in one process, publishing
through the one Kafka publisher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from connectors.health import start_health_server
from connectors.modbus.poller import ModbusPoller
from connectors.modbus.registers import DeviceMap
from connectors.opcua.client import OpcUaConnector
from connectors.opcua.tags import OpcUaEndpoint
from connectors.publisher import Publisher
from schemas.codec import load_yaml_model
from schemas.events import SensorSpec
from schemas.exceptions import LinePulseError

log = logging.getLogger(__name__)


class ConnectorConfigError(LinePulseError):
    """The connector configuration file cannot be used."""


class PlantConfig(BaseModel):
    """The connector config file: the Modbus devices and OPC UA endpoints to read."""

    model_config = ConfigDict(extra="forbid")

    modbus: list[DeviceMap] = Field(default_factory=list)
    opcua: list[OpcUaEndpoint] = Field(default_factory=list)


def load_config(path: Path) -> PlantConfig:
    """The plant config at `path`; one that configures no connector is refused."""
    config = load_yaml_model(path, PlantConfig, ConnectorConfigError, "the plant config")
    if not config.modbus and not config.opcua:
        msg = f"{path} configures no connector; add an `opcua:` or `modbus:` list"
        raise ConnectorConfigError(msg)
    return config


def specs_of(config: PlantConfig) -> list[SensorSpec]:
    """What every configured tag is expected to send."""
    specs = [tag.spec(device.host, device.port) for device in config.modbus for tag in device.tags]
    specs += [tag.spec(endpoint.url) for endpoint in config.opcua for tag in endpoint.tags]
    return specs


async def run_connectors(
    config: PlantConfig,
    publisher: Publisher,
    stop: asyncio.Event | None = None,
    health_address: tuple[str, int] | None = None,
) -> None:
    """Run every configured connector until `stop` (or SIGINT/SIGTERM when no `stop` is
    given); with `health_address`, serve /metrics, /livez and /health there."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    pollers = [ModbusPoller(device) for device in config.modbus]
    subscribers = [OpcUaConnector(endpoint) for endpoint in config.opcua]
    for spec in specs_of(config):
        publisher.publish_spec(spec)
    log.info(
        "polling %d Modbus devices (%d reads per round), subscribing to %d OPC UA servers",
        len(pollers),
        sum(len(p.plans) for p in pollers),
        len(subscribers),
    )

    def connections() -> dict[str, bool]:
        """Whether each device and server connection is up, by name."""
        return {
            **{f"modbus {p.name}": p.health.up for p in pollers},
            **{f"opcua {s.endpoint.url}": s.up for s in subscribers},
        }

    runner = None
    if health_address is not None:
        runner = await start_health_server(connections, *health_address)

    async def maintain() -> None:
        """Serve the publisher (delivery reports, spool replay) until `stop`."""
        while not stop.is_set():
            publisher.maintain()
            await asyncio.sleep(0.5)

    try:
        await asyncio.gather(
            maintain(),
            *(p.run(publisher.publish, stop) for p in pollers),
            *(s.run(publisher.publish, stop) for s in subscribers),
        )
        publisher.flush()
    finally:
        if runner is not None:
            await runner.cleanup()
