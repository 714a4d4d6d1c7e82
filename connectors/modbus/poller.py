"""Polls a Modbus TCP device by its register map and turns values into sensor readings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from connectors.modbus.registers import DeviceMap, ReadPlan, coalesce, decode
from schemas.events import SensorReading

log = logging.getLogger(__name__)

REQUESTS = Counter("linepulse_modbus_requests_total", "Modbus read requests", ["device"])
FAILURES = Counter("linepulse_modbus_failures_total", "Modbus reads that failed", ["device"])
DEVICE_UP = Gauge("linepulse_connector_up", "1 while the device answers", ["connector", "device"])


@dataclass
class DeviceHealth:
    """How a Modbus device has answered lately: failures in a row, the last error and success."""

    consecutive_failures: int = 0
    last_error: str = ""
    last_success_ms: int | None = None

    @property
    def up(self) -> bool:
        """True once the device has answered and its last read succeeded."""
        return self.consecutive_failures == 0 and self.last_success_ms is not None


@dataclass
class ModbusPoller:
    """Reads every plan of the map; a device that stops answering marks the health down and
    is retried with backoff by `run`, never crashing the connector."""

    device: DeviceMap
    client: Any = None
    health: DeviceHealth = field(default_factory=DeviceHealth)

    def __post_init__(self) -> None:
        self.plans = coalesce(self.device.tags, self.device.max_gap)
        self.name = f"{self.device.host}:{self.device.port}"
        if self.client is None:
            self.client = AsyncModbusTcpClient(
                self.device.host,
                port=self.device.port,
                timeout=self.device.timeout_s,
                retries=self.device.retries,
                reconnect_delay=0.5,
                reconnect_delay_max=10,
            )

    async def _read(self, plan: ReadPlan) -> list[int]:
        readers = {
            "holding": self.client.read_holding_registers,
            "input": self.client.read_input_registers,
            "coil": self.client.read_coils,
            "discrete": self.client.read_discrete_inputs,
        }
        REQUESTS.labels(self.name).inc()
        result = await readers[plan.function](plan.start, count=plan.count, device_id=plan.unit_id)
        if result.isError():
            msg = f"unit {plan.unit_id} refused {plan.function} {plan.start}+{plan.count}: {result}"
            raise ModbusException(msg)
        if plan.function in ("coil", "discrete"):
            return [int(bit) for bit in result.bits[: plan.count]]
        return list(result.registers)

    async def poll_once(self, now_ms: int | None = None) -> list[SensorReading]:
        """One reading per tag, or none (and health down) when the device does not answer."""
        now_ms = now_ms or int(time.time() * 1000)
        readings: list[SensorReading] = []
        try:
            if not self.client.connected:
                await self.client.connect()
            for plan in self.plans:
                values = await self._read(plan)
                readings += self._readings(plan, values, now_ms)
        except (TimeoutError, ModbusException, OSError) as exc:
            self._failed(str(exc) or type(exc).__name__)
            return []
        self.health.consecutive_failures = 0
        self.health.last_success_ms = now_ms
        DEVICE_UP.labels("modbus", self.name).set(1)
        return readings

    def _readings(self, plan: ReadPlan, values: list[int], now_ms: int) -> list[SensorReading]:
        readings = []
        for tag in plan.tags:
            raw = plan.slice_of(tag, values)
            value = float(raw[0]) if tag.data_type == "bool" else decode(tag, raw)
            if isinstance(value, str):
                continue  # strings (VIN, order number) belong on MES events, not readings
            readings.append(
                SensorReading(
                    time=now_ms, asset=tag.asset, sensor=tag.sensor, value=value, unit=tag.unit
                )
            )
        return readings

    def _failed(self, error: str) -> None:
        FAILURES.labels(self.name).inc()
        DEVICE_UP.labels("modbus", self.name).set(0)
        self.health.consecutive_failures += 1
        self.health.last_error = error
        if self.health.consecutive_failures in (1, 10, 100):
            log.warning(
                "Modbus device %s does not answer (%d times): %s",
                self.name,
                self.health.consecutive_failures,
                error,
            )

    def next_wait_s(self) -> float:
        """The map's fastest poll interval, stretched while the device is down (to 30 s)."""
        base = min(tag.poll_s for tag in self.device.tags)
        return float(min(base * 2 ** min(self.health.consecutive_failures, 5), max(base, 30.0)))

    async def run(self, publish: Callable[[SensorReading], None], stop: asyncio.Event) -> None:
        """Poll and publish until `stop` is set, waiting `next_wait_s` between rounds."""
        while not stop.is_set():
            for reading in await self.poll_once():
                publish(reading)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.next_wait_s())
            except TimeoutError:
                continue
        self.client.close()
