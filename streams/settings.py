"""Settings of the stream processors, the sink and the store, one class per component, nested
in `WorkerSettings`. Each field has an env var and a command-line flag; the connectors' own
settings (and Kafka's) are in `connectors.settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.settings import KafkaSettings, MesSettings, PublisherSettings, SimulatorSettings
from schemas.states import State, state_family
from schemas.tables import RetentionGroup
from streams.core.alarms import AlarmPolicy
from streams.core.alerts import SeverityRules
from streams.core.event_time import TimeLimits
from streams.core.oee import StateCategories
from streams.core.sensor_health import HealthRules
from streams.sensor_settings import AnomalySettings, VibrationSettings
from streams.sensor_settings import settings_config as _config

__all__ = [
    "AlertSettings",
    "AnomalySettings",
    "KafkaSettings",
    "MesSettings",
    "OeeSettings",
    "PublisherSettings",
    "QualitySettings",
    "SimulatorSettings",
    "SinkSettings",
    "StoreSettings",
    "VibrationSettings",
    "WorkerSettings",
]


class StoreSettings(BaseSettings):
    """Where events are stored: the embedded engine's files or a ClickHouse server, and how
    long each retention group keeps its rows."""

    model_config = SettingsConfigDict(env_prefix="LINEPULSE_", frozen=True)

    data_dir: Path = Field(
        Path(".linepulse"), description="where the embedded ClickHouse keeps its files"
    )
    clickhouse_url: str | None = Field(
        None, description="a ClickHouse server (http[s]://host:port); unset = embedded chdb"
    )
    clickhouse_user: str = Field("default", description="ClickHouse server user")
    clickhouse_password: SecretStr | None = Field(None, description="ClickHouse server password")
    clickhouse_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) that signed the ClickHouse server's certificate"
    )
    clickhouse_verify: bool = Field(True, description="verify the ClickHouse server certificate")
    retention_raw_days: int = Field(30, ge=1, description="days raw sensor readings are kept")
    retention_detail_days: int = Field(
        90, ge=1, description="days per-second summaries, anomaly scores and dead letters are kept"
    )
    retention_events_days: int = Field(
        365, ge=1, description="days machine and MES events are kept"
    )
    retention_aggregate_days: int = Field(
        730, ge=90, description="days OEE windows, alerts and sensor rollups are kept (90 at least)"
    )

    @property
    def chdb_path(self) -> Path:
        """Where the embedded ClickHouse keeps its files."""
        return self.data_dir / "clickhouse"

    def retention_days(self, group: RetentionGroup) -> int:
        """Days the tables of a retention group keep their rows."""
        days: int = getattr(self, f"retention_{group}_days")
        return days


class OeeSettings(BaseSettings):
    """OEE windows, watermarks, state categories, rollups and the OEE alerts."""

    model_config = _config("LINEPULSE_OEE_")

    window_s: int = Field(60, ge=1, description="length of the tumbling OEE window")
    microstop_max_s: float = Field(
        120.0, ge=0, description="unspecified stops up to this long count as microstops"
    )
    availability_loss_states: str = Field(
        "", description="state codes (families) to count as availability losses, e.g. 100000"
    )
    performance_loss_states: str = Field(
        "", description="state codes to count as performance losses (run time)"
    )
    excluded_states: str = Field(
        "",
        description="state codes to exclude from planned time, e.g. 210000 (planned maintenance)",
    )
    target: float = Field(
        0.0, ge=0, le=1, description="a closed window below this OEE raises an alert (0: off)"
    )
    allowed_lateness_s: float = Field(
        30.0,
        ge=0,
        description="how late an event may arrive",
        validation_alias="LINEPULSE_ALLOWED_LATENESS_S",
    )
    plant_timezone: str = Field(
        "UTC",
        description="time zone of hour and day rollups (a shift calendar's zone wins)",
        validation_alias="LINEPULSE_PLANT_TIMEZONE",
    )
    shift_calendar: Path | None = Field(
        None,
        description="YAML shift calendar (shifts, breaks, workdays, holidays per line); "
        "unset: shifts and planned stops come from MES events only",
        validation_alias="LINEPULSE_SHIFT_CALENDAR",
    )
    idle_timeout_s: float = Field(
        5.0,
        ge=0,
        description="idle time before the wall clock drives a partition's watermark",
        validation_alias="LINEPULSE_IDLE_TIMEOUT_S",
    )
    tick_interval_s: float = Field(
        1.0,
        gt=0,
        description="how often windows are checked for closing",
        validation_alias="LINEPULSE_TICK_INTERVAL_S",
    )
    provisional_every_s: float = Field(
        5.0,
        gt=0,
        description="cadence of provisional OEE rows",
        validation_alias="LINEPULSE_PROVISIONAL_EVERY_S",
    )
    machine_down_after_s: float = Field(
        300.0,
        gt=0,
        description="stop length that raises a machine-down alert",
        validation_alias="LINEPULSE_MACHINE_DOWN_AFTER_S",
    )

    @field_validator("plant_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from streams.core.calendar import known_timezone

        return known_timezone(value)

    def categories(self) -> StateCategories:
        """The default UMH-compatible categories, with the families named here moved."""
        base = StateCategories()
        moves = {
            "availability_loss": _state_codes(self.availability_loss_states),
            "performance_loss": _state_codes(self.performance_loss_states),
            "excluded": _state_codes(self.excluded_states),
        }
        moved = frozenset().union(*moves.values())
        groups = {
            "running": base.running - moved,
            "availability_loss": (base.availability_loss - moved) | moves["availability_loss"],
            "performance_loss": (base.performance_loss - moved) | moves["performance_loss"],
            "excluded": (base.excluded - moved) | moves["excluded"],
        }
        return StateCategories(**groups, microstop_max_s=self.microstop_max_s)


def _state_codes(text: str) -> frozenset[State]:
    try:
        return frozenset(state_family(int(code)) for code in text.split(",") if code.strip())
    except ValueError as exc:
        msg = f"state list {text!r} must be comma-separated codes like 100000,210000"
        raise ValueError(msg) from exc


class QualitySettings(BaseSettings):
    """Data-quality rules of sensor streams."""

    model_config = _config("LINEPULSE_QUALITY_")

    stuck_after_s: float = Field(
        30.0, ge=0, description="an unchanged value for this long is stuck (0: never)"
    )
    silent_after_intervals: float = Field(
        5.0, gt=0, description="a sensor is silent after this many of its usual intervals"
    )

    def rules(self) -> HealthRules:
        """The sensor health rules."""
        return HealthRules(
            stuck_after_s=self.stuck_after_s, silent_after_intervals=self.silent_after_intervals
        )


class AlertSettings(BaseSettings):
    """When alert episodes open and close, and how severe each kind is where."""

    model_config = _config("LINEPULSE_ALERT_")

    raise_after: int = Field(
        3, ge=1, description="consecutive anomalous observations that raise an alert"
    )
    clear_after: int = Field(10, ge=1, description="consecutive normal observations that clear it")
    severity: str = Field(
        "",
        description="severity per kind and part of the plant, e.g. "
        "'anomaly=info;plant1/paint:anomaly=critical' (longest asset prefix wins)",
    )

    escalate_info_after_min: float = Field(
        0.0, ge=0, description="minutes an info alarm may stay unacknowledged (0: never escalated)"
    )
    escalate_warning_after_min: float = Field(
        30.0, ge=0, description="minutes a warning alarm may stay unacknowledged (0: never)"
    )
    escalate_critical_after_min: float = Field(
        10.0, ge=0, description="minutes a critical alarm may stay unacknowledged (0: never)"
    )

    @field_validator("severity")
    @classmethod
    def _severity_rules(cls, value: str) -> str:
        SeverityRules.parse(value)
        return value

    def severities(self) -> SeverityRules:
        """The severity rules."""
        return SeverityRules.parse(self.severity)

    def alarm_policy(self) -> AlarmPolicy:
        """When unacknowledged alarms are escalated, per severity."""
        minutes = {
            "info": self.escalate_info_after_min,
            "warning": self.escalate_warning_after_min,
            "critical": self.escalate_critical_after_min,
        }
        return AlarmPolicy({k: round(m * 60_000) if m > 0 else None for k, m in minutes.items()})


class SinkSettings(BaseSettings):
    """How the sink batches its inserts into ClickHouse."""

    model_config = _config("LINEPULSE_SINK_")

    batch_rows: int = Field(5000, ge=1, description="rows per ClickHouse insert at most")
    batch_s: float = Field(1.0, gt=0, description="longest wait before a partial batch is written")


class WorkerSettings(BaseSettings):
    """The worker process: its group, endpoint, input acceptance and batching, with the
    settings of each component it runs."""

    model_config = _config("LINEPULSE_")

    app_id: str = Field(
        "linepulse", description="consumer group of the processors; the sink's is <app_id>-store"
    )
    web_host: str = Field("127.0.0.1", description="address of the worker's HTTP endpoint")
    web_port: int = Field(
        6066, ge=1, le=65535, description="port of the worker's HTTP endpoint (query, metrics)"
    )
    query_token: SecretStr | None = Field(
        None,
        description="bearer token /query requires (keep it in a secret); the worker does not "
        "start without one when web_host is not a loopback address",
    )
    query_timeout_s: float = Field(
        60.0, gt=0, description="longest a query may run before ClickHouse stops it"
    )
    query_max_result_mb: float = Field(
        1024.0, ge=0, description="largest query result ClickHouse returns (0: no limit)"
    )
    batch_events: int = Field(
        1000, ge=1, description="input events a processor takes in one step at most"
    )
    batch_s: float = Field(0.1, gt=0, description="longest wait for a processor's batch to fill")
    commit_interval_s: float = Field(
        2.8, gt=0, description="how often processed offsets are committed to Kafka"
    )
    max_future_s: float = Field(300.0, ge=0, description="event times further ahead are refused")
    max_event_age_s: float = Field(7 * 86400.0, gt=0, description="event times older are refused")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new consumer group starts reading"
    )
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="above 1: that many compute processes in one consumer group (the OEE and "
        "sensor processors) and one store process (the sink and queries: the embedded store "
        "has one owner), so that every core is used",
    )
    role: Literal["all", "compute", "store"] = Field(
        "all",
        description="what this process runs (set by --processes for its children): "
        "everything, the processors only, or the sink and queries only",
    )
    process_index: int = Field(0, ge=0, description="which of the compute processes this is")
    log_level: str = Field("info", description="worker log level")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line with asset and event ids"
    )
    oee: OeeSettings = Field(default_factory=OeeSettings, description="OEE")
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings, description="anomalies")
    vibration: VibrationSettings = Field(
        default_factory=VibrationSettings, description="condition monitoring"
    )
    quality: QualitySettings = Field(default_factory=QualitySettings, description="data quality")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="alerts")
    sink: SinkSettings = Field(default_factory=SinkSettings, description="the sink")

    @property
    def computes(self) -> bool:
        """Whether this process runs the OEE and sensor processors."""
        return self.role in ("all", "compute")

    @property
    def stores(self) -> bool:
        """Whether this process runs the sink, owns the store and answers queries."""
        return self.role in ("all", "store")

    @property
    def input_group_id(self) -> str:
        """The consumer group the processors of every compute process read their input in."""
        return self.app_id

    @property
    def sink_group_id(self) -> str:
        """The sink's consumer group: a group of its own, as the processors read some of the
        same topics."""
        return f"{self.app_id}-store"

    @property
    def faust_app_id(self) -> str:
        """The id of this process's Faust application, which runs the inputs as services and
        serves the HTTP endpoints (it reads no topic itself)."""
        return f"{self.app_id}-{self.role}-{self.process_index}"

    def time_limits(self) -> TimeLimits:
        """How far ahead of and behind the time Kafka received it an event time may be."""
        return TimeLimits(int(self.max_future_s * 1000), int(self.max_event_age_s * 1000))
