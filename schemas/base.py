"""What every event contract shares: event-time and asset-path fields, ids and the base `Event`.

Times are epoch milliseconds, UTC. Inputs may also give an ISO-8601 string with a UTC offset;
naive times are refused because plant clocks without a zone cannot be placed on the timeline.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1
MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIME_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def iso_to_epoch_ms(text: str) -> int:
    """ISO-8601 with a UTC offset to epoch milliseconds; naive times are refused."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"time {text!r} is not ISO-8601; send epoch ms or e.g. 2026-01-31T06:00:00Z"
        raise ValueError(msg) from exc
    if parsed.tzinfo is None:
        msg = f"time {text!r} has no UTC offset; add 'Z' or '+01:00'"
        raise ValueError(msg)
    return round(parsed.timestamp() * 1000)


def _to_epoch_ms(value: Any) -> Any:
    if isinstance(value, str):
        return iso_to_epoch_ms(value)
    if isinstance(value, bool):
        msg = "time must be epoch milliseconds, not a boolean"
        raise ValueError(msg)
    return value


EpochMs = Annotated[int, BeforeValidator(_to_epoch_ms), Field(ge=MIN_TIME_MS, le=MAX_TIME_MS)]
ASSET_PATTERN = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,3}$"
AssetPath = Annotated[
    str,
    Field(
        pattern=ASSET_PATTERN,
        description="plant/line/station/machine (a prefix names a plant, line or station)",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def asset_or_unknown(text: object) -> str:
    """`text` if it is an asset path, else "unknown" (for dead letters of malformed input)."""
    if isinstance(text, str) and re.fullmatch(ASSET_PATTERN, text):
        return text
    return "unknown"


def now_ms() -> int:
    """The current time in epoch milliseconds, UTC."""
    return int(time.time() * 1000)


Quality = Literal["good", "uncertain", "bad"]


def new_event_id() -> str:
    """A new random event id (32 hex characters)."""
    return uuid.uuid4().hex


class ProductionContext(BaseModel):
    """What was being built, where and by whom when an event happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vin: str | None = None
    station: str | None = None
    operator: str | None = None
    work_order: str | None = None
    product: str | None = None
    shift: str | None = None


class Event(BaseModel):
    """The fields every event carries: schema version, id, event time, asset and context."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: Annotated[str, Field(min_length=1, max_length=64)] = Field(default_factory=new_event_id)
    time: EpochMs
    asset: AssetPath
    context: ProductionContext | None = None

    @property
    def machine_key(self) -> str:
        """The key of the event's machine: its asset path."""
        return self.asset
