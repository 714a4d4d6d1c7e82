"""Settings of the connectors and of every client of Kafka: each field has an env var and a
command-line flag."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from connectors.publisher import Publisher

# librdkafka's own lines (connect failures, ...) go to this logger, not straight to stderr
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


class KafkaSettings(BaseSettings):
    """How every LinePulse client reaches Kafka: brokers, TLS, SASL, topic layout."""

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
        """The settings as a confluent-kafka (librdkafka) configuration, with the Python logger
        librdkafka's own log lines go to (else it writes them to stderr itself)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
            "logger": LIBRDKAFKA_LOG,
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
        """The bootstrap servers as Faust's broker URL."""
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap.split(","))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the SSL protocols (None without TLS)."""
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_ca_file) if self.ssl_ca_file else None
        )
        if self.ssl_cert_file and self.ssl_key_file:
            context.load_cert_chain(str(self.ssl_cert_file), str(self.ssl_key_file))
        return context


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
    batch_format: Literal["binary", "json"] = Field(
        "binary", description="how sample batches are sent: binary float32 (LPSB) or JSON"
    )

    def publisher(self, kafka: KafkaSettings, name: str) -> Publisher:
        """A publisher with its own spool file, named after the connector."""
        from connectors.publisher import Publisher
        from connectors.spool import DiskSpool

        spool = DiskSpool(self.spool_dir / f"{name}.jsonl", int(self.spool_max_mb * 1_000_000))
        return Publisher(
            kafka.confluent_config(),
            spool=spool,
            message_timeout_s=self.message_timeout_s,
            batch_format=self.batch_format,
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
    """The simulated plant: its shape, its sensors, the faults injected."""

    model_config = SettingsConfigDict(env_prefix="LINEPULSE_SIM_", frozen=True)

    plant: str = Field("plant1", description="plant name in asset paths")
    lines: int = Field(2, ge=1, description="assembly lines")
    machines: int = Field(6, ge=1, description="machines in the plant, spread over the lines")
    seed: int = Field(7, description="random seed; the same seed gives the same plant")
    vibration_rate_hz: int = Field(
        5000, ge=10, description="sample rate of vibration sensors (accelerometers, in g)"
    )
    current_rate_hz: int = Field(10, ge=1, description="sample rate of motor current sensors")
    through_protocols: bool = Field(
        False,
        description="serve current and temperature over OPC UA and Modbus TCP and read them "
        "with the connectors, as in a plant",
    )
    faults: str = Field(
        "",
        description="faults to inject as kind:machine:at_s[:for_s], comma-separated, "
        "e.g. 'spike:m1:30,drift:m2:60,stuck:m3:20,silent:m4:40:30,bearing:m5:20' (bearing: "
        "an outer-race defect that grows, and the machine's vibration with it; bearing_inner: "
        "the same on the inner race)",
    )
