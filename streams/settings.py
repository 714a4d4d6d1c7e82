"""Settings of every component: each field has an env var and a command-line flag."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.states import State, state_family
from schemas.tables import RetentionGroup
from streams.core.anomaly import DetectorSettings
from streams.core.event_time import TimeLimits
from streams.core.oee import StateCategories

if TYPE_CHECKING:
    from connectors.publisher import Publisher


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINEPULSE_KAFKA_", frozen=True)

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,...]")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how clients talk to the brokers"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when the protocol is SASL_*"
    )
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password")
    ssl_ca_file: Path | None = Field(None, description="CA certificate (PEM) for TLS")
    ssl_cert_file: Path | None = Field(None, description="client certificate (PEM) for mTLS")
    ssl_key_file: Path | None = Field(None, description="client key (PEM) for mTLS")
    partitions: int = Field(4, ge=1, description="partitions of every LinePulse topic")
    replication_factor: int = Field(1, ge=1, description="replication factor of created topics")

    def confluent_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else ""
            )
        for key, path in (
            ("ssl.ca.location", self.ssl_ca_file),
            ("ssl.certificate.location", self.ssl_cert_file),
            ("ssl.key.location", self.ssl_key_file),
        ):
            if path is not None:
                config[key] = str(path)
        return config

    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap.split(","))

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_ca_file) if self.ssl_ca_file else None
        )
        if self.ssl_cert_file and self.ssl_key_file:
            context.load_cert_chain(str(self.ssl_cert_file), str(self.ssl_key_file))
        return context


class StoreSettings(BaseSettings):
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


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINEPULSE_", frozen=True)

    app_id: str = Field("linepulse", description="Faust application id (consumer group)")
    web_host: str = Field("127.0.0.1", description="address of the worker's HTTP endpoint")
    web_port: int = Field(6066, description="port of the worker's HTTP endpoint (query, metrics)")
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
    oee_window_s: int = Field(60, ge=1, description="length of the tumbling OEE window")
    oee_microstop_max_s: float = Field(
        120.0, ge=0, description="unspecified stops up to this long count as microstops"
    )
    oee_availability_loss_states: str = Field(
        "", description="state codes (families) to count as availability losses, e.g. 100000"
    )
    oee_performance_loss_states: str = Field(
        "", description="state codes to count as performance losses (run time)"
    )
    oee_excluded_states: str = Field(
        "",
        description="state codes to exclude from planned time, e.g. 210000 (planned maintenance)",
    )
    oee_target: float = Field(
        0.0, ge=0, le=1, description="a closed window below this OEE raises an alert (0: off)"
    )
    allowed_lateness_s: float = Field(30.0, ge=0, description="how late an event may arrive")
    plant_timezone: str = Field(
        "UTC", description="time zone of hour and day rollups (a shift calendar's zone wins)"
    )
    shift_calendar: Path | None = Field(
        None,
        description="YAML shift calendar (shifts, breaks, workdays, holidays per line); "
        "unset: shifts and planned stops come from MES events only",
    )
    idle_timeout_s: float = Field(
        5.0, ge=0, description="idle time before the wall clock drives a partition's watermark"
    )
    tick_interval_s: float = Field(
        1.0, gt=0, description="how often windows are checked for closing"
    )
    provisional_every_s: float = Field(5.0, gt=0, description="cadence of provisional OEE rows")
    batch_events: int = Field(
        1000, ge=1, description="input events a processor takes in one step at most"
    )
    batch_s: float = Field(0.1, gt=0, description="longest wait for a processor's batch to fill")
    sink_batch_rows: int = Field(5000, ge=1, description="rows per ClickHouse insert at most")
    sink_batch_s: float = Field(
        1.0, gt=0, description="longest wait before a partial batch is written"
    )
    commit_interval_s: float = Field(
        2.8, gt=0, description="how often processed offsets are committed to Kafka"
    )
    max_future_s: float = Field(300.0, ge=0, description="event times further ahead are refused")
    max_event_age_s: float = Field(7 * 86400.0, gt=0, description="event times older are refused")
    anomaly_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="score at which an observation is anomalous; the score is -log10 of the "
        "tail probability / 10, so 0.5 means a 1-in-100,000 deviation",
    )
    anomaly_warmup: int = Field(300, ge=1, description="observations per sensor before any alert")
    anomaly_window: int = Field(
        6400, ge=10, description="span of observations in a feature's fading mean and variance"
    )
    anomaly_score_window: int = Field(
        8640, ge=10, description="span of deviations the adaptive threshold is estimated from"
    )
    anomaly_smoothing: int = Field(
        10, ge=1, description="recent deviations averaged before they are compared"
    )
    anomaly_rest: int = Field(
        100, ge=0, description="observations after an onset whose score stays below threshold"
    )
    anomaly_quarantine: int = Field(
        400, ge=0, description="anomalous observations in a row kept out of training at most"
    )
    anomaly_release: float = Field(
        0.6,
        gt=0,
        le=1,
        description="an anomalous feature is normal again when its score falls below this "
        "share of the threshold (hysteresis)",
    )
    anomaly_range_tolerance: float = Field(
        0.05, ge=0, description="a value beyond the range seen so far by this share is anomalous"
    )
    anomaly_scope: Literal["sensor", "asset"] = Field(
        "sensor",
        description="sensor: one score per sensor; asset: also one multivariate score per "
        "asset over all its sensors (alert source 'asset')",
    )
    anomaly_checkpoint_s: float = Field(
        30.0, gt=0, description="how often changed detector models are checkpointed"
    )
    quality_stuck_after_s: float = Field(
        30.0, ge=0, description="an unchanged value for this long is stuck (0: never)"
    )
    quality_silent_after_intervals: float = Field(
        5.0, gt=0, description="a sensor is silent after this many of its usual intervals"
    )
    alert_raise_after: int = Field(
        3, ge=1, description="consecutive anomalous observations that raise an alert"
    )
    alert_clear_after: int = Field(
        10, ge=1, description="consecutive normal observations that clear it"
    )
    alert_severity: str = Field(
        "",
        description="severity per kind and part of the plant, e.g. "
        "'anomaly=info;plant1/paint:anomaly=critical' (longest asset prefix wins)",
    )
    machine_down_after_s: float = Field(
        300.0, gt=0, description="stop length that raises a machine-down alert"
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new consumer group starts reading"
    )
    log_level: str = Field("info", description="worker log level")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line with asset and event ids"
    )

    @field_validator("plant_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from streams.core.calendar import known_timezone

        return known_timezone(value)

    @field_validator("alert_severity")
    @classmethod
    def _severity_rules(cls, value: str) -> str:
        from streams.core.alerts import SeverityRules

        SeverityRules.parse(value)
        return value

    def time_limits(self) -> TimeLimits:
        """How far ahead of and behind the receiving clock an event time may be."""
        return TimeLimits(int(self.max_future_s * 1000), int(self.max_event_age_s * 1000))

    def detector_settings(self) -> DetectorSettings:
        """The anomaly detector's settings (`linepulse score` runs with the same ones)."""
        return DetectorSettings(
            warmup=self.anomaly_warmup,
            threshold=self.anomaly_threshold,
            window_size=self.anomaly_window,
            score_window=self.anomaly_score_window,
            smoothing=self.anomaly_smoothing,
            rest=self.anomaly_rest,
            quarantine=self.anomaly_quarantine,
            range_tolerance=self.anomaly_range_tolerance,
            release=self.anomaly_release,
        )


def _state_codes(text: str) -> frozenset[State]:
    try:
        return frozenset(state_family(int(code)) for code in text.split(",") if code.strip())
    except ValueError as exc:
        msg = f"state list {text!r} must be comma-separated codes like 100000,210000"
        raise ValueError(msg) from exc


def state_categories(settings: WorkerSettings) -> StateCategories:
    """The default UMH-compatible categories, with the families named in the settings moved."""
    base = StateCategories()
    moves = {
        "availability_loss": _state_codes(settings.oee_availability_loss_states),
        "performance_loss": _state_codes(settings.oee_performance_loss_states),
        "excluded": _state_codes(settings.oee_excluded_states),
    }
    moved = frozenset().union(*moves.values())
    groups = {
        "running": base.running - moved,
        "availability_loss": (base.availability_loss - moved) | moves["availability_loss"],
        "performance_loss": (base.performance_loss - moved) | moves["performance_loss"],
        "excluded": (base.excluded - moved) | moves["excluded"],
    }
    return StateCategories(**groups, microstop_max_s=settings.oee_microstop_max_s)


class PublisherSettings(BaseSettings):
    """How connectors publish: the on-disk spool that holds events while Kafka is away."""

    model_config = SettingsConfigDict(env_prefix="LINEPULSE_PUBLISHER_", frozen=True)

    spool_dir: Path = Field(Path(".linepulse/spool"), description="where the spool file lives")
    spool_max_mb: float = Field(
        1024.0, gt=0, description="largest spool; beyond it events are refused (counted, logged)"
    )
    message_timeout_s: float = Field(
        30.0, gt=0, description="how long Kafka may take before events go to the spool"
    )

    def publisher(self, kafka: KafkaSettings, name: str) -> Publisher:
        from connectors.publisher import Publisher
        from connectors.spool import DiskSpool

        spool = DiskSpool(self.spool_dir / f"{name}.jsonl", int(self.spool_max_mb * 1_000_000))
        return Publisher(
            kafka.confluent_config(), spool=spool, message_timeout_s=self.message_timeout_s
        )


class MesSettings(BaseSettings):
    """The MES endpoint: where it listens, who gets in, how much it takes."""

    model_config = SettingsConfigDict(env_prefix="LINEPULSE_MES_", frozen=True)

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(8088, ge=1, le=65535, description="port to listen on")
    token: SecretStr | None = Field(
        None, description="bearer token MES clients must send (required; keep it in a secret)"
    )
    max_body_mb: float = Field(4.0, gt=0, description="largest request body")
    max_events: int = Field(5000, ge=1, description="most events in one batch request")
    tls_cert_file: Path | None = Field(None, description="server certificate (PEM): serve HTTPS")
    tls_key_file: Path | None = Field(None, description="key of the server certificate (PEM)")
    tls_client_ca_file: Path | None = Field(
        None, description="CA of client certificates: only clients it signed get in (mTLS)"
    )

    @model_validator(mode="after")
    def _secured(self) -> MesSettings:
        if self.token is None or not self.token.get_secret_value().strip():
            msg = "the MES endpoint needs a token: set LINEPULSE_MES_TOKEN (from a secret)"
            raise ValueError(msg)
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            msg = "HTTPS needs both LINEPULSE_MES_TLS_CERT_FILE and LINEPULSE_MES_TLS_KEY_FILE"
            raise ValueError(msg)
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            msg = "client certificates (mTLS) need HTTPS: set the TLS cert and key files"
            raise ValueError(msg)
        return self


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINEPULSE_SIM_", frozen=True)

    plant: str = Field("plant1", description="plant name in asset paths")
    lines: int = Field(2, ge=1, description="assembly lines")
    machines: int = Field(6, ge=1, description="machines in the plant, spread over the lines")
    seed: int = Field(7, description="random seed; the same seed gives the same plant")
    vibration_rate_hz: int = Field(1000, ge=10, description="sample rate of vibration sensors")
    current_rate_hz: int = Field(10, ge=1, description="sample rate of motor current sensors")
    through_protocols: bool = Field(
        False,
        description="serve current and temperature over OPC UA and Modbus TCP and read them "
        "with the connectors, as in a plant",
    )
    faults: str = Field(
        "",
        description="faults to inject as kind:machine:at_s[:for_s], comma-separated, "
        "e.g. 'spike:m1:30,drift:m2:60,stuck:m3:20,silent:m4:40:30'",
    )
