"""Modbus register maps: data types, byte and word order, scaling, and request coalescing (pure)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.tag import SensorTag
from schemas.events import SensorSpec

Function = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64", "bool", "string"]
ByteOrder = Literal["ABCD", "DCBA", "BADC", "CDAB"]

_REGISTERS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d"}
# most registers (or bits) one read may ask for, by the Modbus specification
MAX_READ = {"holding": 125, "input": 125, "coil": 2000, "discrete": 2000}


class RegisterTag(SensorTag):
    """One value read from a device, published as a sensor reading."""

    unit_id: int = Field(1, ge=0, le=247)
    function: Function = "holding"
    address: int = Field(ge=0, le=65535)
    data_type: DataType = "uint16"
    length: int = Field(1, ge=1, le=125, description="registers of a string")
    byte_order: ByteOrder = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    poll_s: float = Field(1.0, gt=0)

    def spec(self, host: str, port: int) -> SensorSpec:
        """What the worker may expect of this tag: polled, so a nominal interval."""
        source = f"modbus {host}:{port} unit {self.unit_id} {self.function} {self.address}"
        return self.declared(self.poll_s * 1000, source)

    @model_validator(mode="after")
    def _fits_its_function(self) -> RegisterTag:
        bits = self.function in ("coil", "discrete")
        if bits != (self.data_type == "bool"):
            hint = "bits: use data_type bool" if bits else "registers: bool needs coil or discrete"
            msg = f"{self.sensor}: {self.function} reads {hint}"
            raise ValueError(msg)
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) the tag occupies."""
        if self.data_type == "string":
            return self.length
        return _REGISTERS.get(self.data_type, 1)


class DeviceMap(BaseModel):
    """One Modbus TCP device: where it is, how to talk to it and the tags to read."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(502, ge=1, le=65535)
    timeout_s: float = Field(3.0, gt=0)
    retries: int = Field(3, ge=0)
    max_gap: int = Field(8, ge=0, description="unused registers a coalesced read may span")
    tags: list[RegisterTag] = Field(min_length=1)


def _ordered_bytes(registers: list[int], order: ByteOrder) -> bytes:
    """Bytes in big-endian (ABCD) order from registers sent in `order`."""
    words = [struct.pack(">H", r & 0xFFFF) for r in registers]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    if order in ("CDAB", "DCBA"):
        words = words[::-1]
    return b"".join(words)


def decode(tag: RegisterTag, registers: list[int]) -> float | str:
    """The tag's value from its registers, scaled: value * scale + offset."""
    if tag.data_type == "string":
        raw = _ordered_bytes(registers, "ABCD" if tag.byte_order in ("ABCD", "CDAB") else "BADC")
        return raw.rstrip(b"\x00 ").decode("ascii", errors="replace")
    (value,) = struct.unpack(
        ">" + _STRUCT[tag.data_type], _ordered_bytes(registers, tag.byte_order)
    )
    return float(value) * tag.scale + tag.offset


def encode(tag: RegisterTag, value: float) -> list[int]:
    """Registers a device would hold for `value` (before scaling); for simulators and tests."""
    raw = struct.pack(">" + _STRUCT[tag.data_type], value)
    registers = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    # the byte reordering is its own inverse for every order
    reordered = _ordered_bytes(registers, tag.byte_order)
    return [int.from_bytes(reordered[i : i + 2], "big") for i in range(0, len(reordered), 2)]


@dataclass(frozen=True)
class ReadPlan:
    """One request: `count` registers (or bits) from `start` of one unit and function."""

    unit_id: int
    function: Function
    start: int
    count: int
    tags: tuple[RegisterTag, ...]

    def slice_of(self, tag: RegisterTag, values: list[int]) -> list[int]:
        """The tag's registers (or bits) out of the values this plan read."""
        first = tag.address - self.start
        return values[first : first + tag.count]


def coalesce(tags: Iterable[RegisterTag], max_gap: int) -> list[ReadPlan]:
    """As few requests as the protocol limit allows: neighbouring tags of one unit and function
    share a read when the gap between them is at most `max_gap`."""
    groups: dict[tuple[int, str], list[RegisterTag]] = {}
    for tag in tags:
        groups.setdefault((tag.unit_id, tag.function), []).append(tag)
    plans = []
    for (unit_id, function), members in sorted(groups.items()):
        limit = MAX_READ[function]
        current: list[RegisterTag] = []
        start = end = 0
        for tag in sorted(members, key=lambda t: t.address):
            tag_end = tag.address + tag.count
            if current and tag.address - end <= max_gap and max(end, tag_end) - start <= limit:
                current.append(tag)
                end = max(end, tag_end)
                continue
            if current:
                plans.append(ReadPlan(unit_id, function, start, end - start, tuple(current)))  # type: ignore[arg-type]
            current, start, end = [tag], tag.address, tag_end
        if current:
            plans.append(ReadPlan(unit_id, function, start, end - start, tuple(current)))  # type: ignore[arg-type]
    return plans
