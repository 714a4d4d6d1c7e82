"""Versioned event contracts: every message on a LinePulse topic is one of these models.

Sensor, machine and result contracts live here; the shared fields and base `Event` are in
schemas.base and the MES contracts in schemas.mes_events, all importable from this module.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from schemas.alarms import AlarmState
from schemas.base import (
    ASSET_PATTERN,
    MAX_TIME_MS,
    MIN_TIME_MS,
    SCHEMA_VERSION,
    AssetPath,
    EpochMs,
    Event,
    Name,
    ProductionContext,
    Quality,
    asset_or_unknown,
    iso_to_epoch_ms,
    new_event_id,
    now_ms,
)
from schemas.mes_events import (
    MesEvent,
    OperatorLogin,
    OperatorLogout,
    PlannedStopEnded,
    PlannedStopStarted,
    ShiftEnded,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderEnded,
    WorkOrderStarted,
)
from schemas.states import is_known_state
from schemas.vibration import VibrationSecond, VibrationSpec, Zone

__all__ = [
    "ASSET_PATTERN",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "AnomalyScore",
    "AnyEvent",
    "AssetPath",
    "DeadLetter",
    "EpochMs",
    "Event",
    "IngestEvent",
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "MachineEvent",
    "MachineState",
    "MesEvent",
    "Name",
    "OeeResult",
    "OperatorLogin",
    "OperatorLogout",
    "PartCount",
    "PlannedStopEnded",
    "PlannedStopStarted",
    "PlcCounter",
    "ProductionContext",
    "ProductionCount",
    "Quality",
    "QualityFinding",
    "SCHEMA_VERSION",
    "BatchHeader",
    "SensorBatch",
    "SensorEvent",
    "SensorReading",
    "SensorSecond",
    "SensorSpec",
    "Severity",
    "VibrationSecond",
    "ShiftEnded",
    "ShiftStarted",
    "VehicleAtStation",
    "WorkOrderEnded",
    "WorkOrderStarted",
    "asset_or_unknown",
    "iso_to_epoch_ms",
    "new_event_id",
    "now_ms",
]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        msg = "value must be a finite number (NaN and infinity are not measurements)"
        raise ValueError(msg)
    return value


class SensorReading(Event):
    """One value of one sensor (slow sensors: temperature, current, RFID, vision results)."""

    kind: Literal["sensor.reading"] = "sensor.reading"
    sensor: Name
    value: float
    unit: str = ""
    quality: Quality = "good"

    _check_value = field_validator("value")(_finite)


class SensorSpec(Event):
    """What a sensor is expected to send, published by its connector when it starts (one per
    asset and sensor on a compacted topic): unit, plausible range, nominal interval."""

    kind: Literal["sensor.spec"] = "sensor.spec"
    sensor: Name
    unit: str = ""
    expected_min: float | None = None
    expected_max: float | None = None
    interval_ms: Annotated[float, Field(gt=0)] | None = None
    source: str = ""
    vibration: VibrationSpec | None = Field(
        None, description="for a vibration sensor: the physics its condition monitoring needs"
    )
    limit: float | None = Field(
        None,
        description="a value the sensor must not reach (e.g. a bearing's 90 degC): the worker "
        "forecasts when its trend gets there",
    )

    @model_validator(mode="after")
    def _ordered(self) -> SensorSpec:
        low, high = self.expected_min, self.expected_max
        if low is not None and high is not None and low > high:
            msg = f"expected_min {low} is above expected_max {high}"
            raise ValueError(msg)
        return self

    @property
    def key(self) -> str:
        """The compacted-topic key of the spec: asset and sensor."""
        return f"{self.asset}|{self.sensor}"


class QualityFinding(Event):
    """A data-quality rule a reading broke (stored for analysts; persistent ones also raise a
    data_quality alert)."""

    kind: Literal["quality.finding"] = "quality.finding"
    sensor: Name
    rule: Literal["duplicate", "stuck", "out_of_range", "rate_drift", "silent"]
    value: float | None = None
    detail: str = ""
    reading_id: str = ""  # the event id of the reading (none for a silent sensor)


class BatchHeader(Event):
    """What a sample batch says of its samples: the `sensor.batch` contract, values aside (a
    binary batch carries them as an array, see schemas/binary.py)."""

    kind: Literal["sensor.batch"] = "sensor.batch"
    sensor: Name
    sample_rate_hz: Annotated[float, Field(gt=0, le=1_000_000)]
    unit: str = ""
    quality: Quality = "good"


class SensorBatch(BatchHeader):
    """Many equally spaced samples of one fast sensor as JSON; `time` is the first sample's
    time."""

    values: Annotated[list[float], Field(min_length=1, max_length=1_000_000)]

    @field_validator("values")
    @classmethod
    def _all_finite(cls, values: list[float]) -> list[float]:
        if not all(math.isfinite(v) for v in values):
            msg = "values must all be finite numbers (NaN and infinity are not measurements)"
            raise ValueError(msg)
        return values

    @property
    def end_time(self) -> int:
        """Epoch ms at which the batch ends (one sample period after its last sample)."""
        return self.time + round(len(self.values) * 1000 / self.sample_rate_hz)


class SensorSecond(Event):
    """Summary of one second of a fast sensor's samples (`time` is the whole second)."""

    kind: Literal["sensor.second"] = "sensor.second"
    sensor: Name
    samples: Annotated[int, Field(ge=1)]
    mean: float
    minimum: float
    maximum: float
    rms: float
    peak: float
    crest_factor: float
    kurtosis: float
    band_low: float
    band_mid: float
    band_high: float
    unit: str = ""
    batch_id: str


class MachineState(Event):
    """The machine entered `state` (UMH-compatible code, see schemas.states) at `time`."""

    kind: Literal["machine.state"] = "machine.state"
    state: int
    reason: str | None = None

    @field_validator("state")
    @classmethod
    def _known(cls, state: int) -> int:
        if not is_known_state(state):
            msg = f"state {state} is not a known state code; use 10000..220000 (see schemas.states)"
            raise ValueError(msg)
        return state


PartCount = Annotated[int, Field(ge=0, le=4_294_967_295)]


class ProductionCount(Event):
    """Parts made since the previous count event (a delta). Rework parts are not good parts:
    OEE quality is first-pass quality."""

    kind: Literal["machine.count"] = "machine.count"
    good: PartCount = 0
    scrap: PartCount = 0
    rework: PartCount = 0


class PlcCounter(Event):
    """A cumulative PLC counter reading. A drop is a reset: the new value counts from zero. A
    counter that declares `rollover_bits` wraps instead: after its highest value it goes on
    from 0, so 65,530 then 5 on a 16-bit counter is 11 parts (and a reset of it would be
    counted as a wrap); a value beyond that range is refused."""

    kind: Literal["machine.counter"] = "machine.counter"
    counter: Literal["good", "scrap"]
    value: Annotated[int, Field(ge=0)]
    rollover_bits: Literal[16, 32] | None = Field(
        None, description="the counter's width when it wraps (16: 0..65535, 32: 0..4294967295)"
    )

    @model_validator(mode="after")
    def _fits(self) -> PlcCounter:
        bits = self.rollover_bits
        if bits is not None and self.value >= 1 << bits:
            msg = (
                f"counter {self.counter} value {self.value} does not fit a {bits}-bit counter "
                f"(0..{(1 << bits) - 1}): check the register's width and word order, or "
                "rollover_bits"
            )
            raise ValueError(msg)
        return self

    @property
    def modulus(self) -> int | None:
        """How many values the counter takes before it wraps; None when it does not declare."""
        return None if self.rollover_bits is None else 1 << self.rollover_bits


class OeeResult(Event):
    """OEE of one asset over [window_start, window_end); `time` is the window start."""

    kind: Literal["oee.result"] = "oee.result"
    window_start: EpochMs
    window_end: EpochMs
    window: str
    version: Annotated[int, Field(ge=0)]
    provisional: bool
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None
    oee: float | None = None
    planned_time_s: float
    run_time_s: float
    unknown_time_s: float
    excluded_time_s: float
    ideal_time_s: float
    good: int
    scrap: int
    total: int
    performance_over_one: bool = False
    losses_s: dict[str, float] = Field(default_factory=dict)
    rollup: bool = Field(
        False, description="an hour, day or shift summed from the machine's base windows"
    )


class AnomalyScore(Event):
    """A detector's anomaly score in [0, 1] for one sensor, with its threshold and features."""

    kind: Literal["anomaly.score"] = "anomaly.score"
    sensor: Name
    score: Annotated[float, Field(ge=0, le=1)]
    threshold: float
    is_anomaly: bool
    warming_up: bool
    features: dict[str, float] = Field(default_factory=dict)


Severity = Literal["info", "warning", "critical"]
AlertKind = Literal[
    "anomaly",
    "machine_down",
    "oee_below_target",
    "sensor_silent",
    "data_quality",
    "vibration_severity",
    "bearing_defect",
    "limit_forecast",
]
AlertStatus = Literal[
    "raised",  # the condition steps the processors take
    "updated",
    "cleared",
    "re_alarmed",  # the alarm's changes, by operators and by the alarm lifecycle
    "acknowledged",
    "shelved",
    "unshelved",
    "assigned",
    "commented",
    "escalated",
    "suppressed",
    "unsuppressed",
    "removed_from_service",
    "returned_to_service",
]


class Alert(Event):
    """One step of an alert episode; raised, updated and cleared share `alert_id`."""

    kind: Literal["alert"] = "alert"
    alert_id: Name
    alert_kind: AlertKind
    status: AlertStatus
    severity: Severity
    source: Name
    message: str
    value: float | None = None
    threshold: float | None = None
    raised_at: EpochMs
    zone: Zone | None = Field(None, description="vibration_severity: the ISO zone now held")
    component: str | None = Field(None, description="bearing_defect: the suspected component")
    evidence: dict[str, float] = Field(
        default_factory=dict, description="what the alert rests on (e.g. frequency, line ratios)"
    )
    predicted_limit: float | None = Field(None, description="the limit the trend is heading to")
    predicted_limit_at: EpochMs | None = Field(None, description="when it reaches it")
    predicted_limit_low: EpochMs | None = Field(None, description="earliest, at 90 % confidence")
    predicted_limit_high: EpochMs | None = Field(None, description="latest, at 90 % confidence")
    alarm_state: AlarmState | None = Field(None, description="the alarm's state after this step")
    version: int | None = Field(None, ge=1, description="the alarm's changes so far, this one too")
    actor: Name | None = Field(None, description="who made this change (linepulse: the system)")
    acknowledged_by: Name | None = None
    acknowledged_at: EpochMs | None = None
    assignee: Name | None = None
    shelved_until: EpochMs | None = None
    comment: str | None = None


class DeadLetter(Event):
    """A message the pipeline could not use, with the reason and where it came from."""

    kind: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    partition: int
    offset: int
    reason: str
    error_type: str
    payload: str
    key: str | None = None


IngestEvent = SensorReading | SensorBatch | MachineState | ProductionCount | PlcCounter | MesEvent
AnyEvent = (
    IngestEvent
    | SensorSpec
    | SensorSecond
    | VibrationSecond
    | QualityFinding
    | OeeResult
    | AnomalyScore
    | Alert
    | DeadLetter
)

MachineEvent = MachineState | ProductionCount | PlcCounter
SensorEvent = SensorReading | SensorBatch
