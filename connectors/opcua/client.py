"""OPC UA connector: data-change subscriptions by tag map, quality from the StatusCode, and a
watchdog that reconnects and re-creates the subscriptions after the server comes back."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asyncua import Client, ua
from asyncua.crypto import security_policies
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Quality, SensorReading
from schemas.exceptions import LinePulseError

log = logging.getLogger(__name__)

UPDATES = Counter("linepulse_opcua_updates_total", "Data-change notifications", ["endpoint"])
RECONNECTS = Counter("linepulse_opcua_reconnects_total", "Sessions re-established", ["endpoint"])
CONNECTOR_UP = Gauge("linepulse_opcua_up", "1 while the OPC UA session is alive", ["endpoint"])


class OpcUaTag(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str = Field(min_length=1, description="e.g. ns=2;s=Press7.Force")
    sensor: str = Field(min_length=1)
    asset: str = Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,3}$")
    unit: str = ""
    sampling_ms: float = Field(100.0, ge=0)
    queue_size: int = Field(10, ge=0)


class OpcUaSecurityError(LinePulseError):
    """The server does not offer the security asked for, or a credential is missing."""


class OpcUaSecurity(BaseModel):
    """How the connection is secured; `None` must be asked for, nothing falls back to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = Field(None, description="the connector's certificate (PEM/DER)")
    private_key: Path | None = Field(None, description="its private key (PEM/DER)")
    server_certificate: Path | None = Field(
        None, description="pin the server's certificate; unset: take it from its endpoints"
    )
    application_uri: str = Field(
        "urn:linepulse:connector", description="must match the URI in the certificate"
    )

    @model_validator(mode="after")
    def _consistent(self) -> OpcUaSecurity:
        if (self.policy == "None") != (self.mode == "None"):
            msg = "policy and mode go together: both None, or a policy with Sign or SignAndEncrypt"
            raise ValueError(msg)
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            msg = f"security policy {self.policy} needs `certificate` and `private_key` files"
            raise ValueError(msg)
        return self


class OpcUaEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^opc\.tcp://")
    publishing_ms: float = Field(250.0, gt=0)
    watchdog_s: float = Field(2.0, gt=0, description="how often the session is checked")
    security: OpcUaSecurity = Field(default_factory=OpcUaSecurity)
    username: str | None = None
    password_file: Path | None = Field(None, description="file holding the password (a secret)")
    password_env: str | None = Field(None, description="env var holding the password")
    tags: list[OpcUaTag] = Field(min_length=1)

    @model_validator(mode="after")
    def _credentials(self) -> OpcUaEndpoint:
        has_password = self.password_file is not None or self.password_env is not None
        if has_password and self.username is None:
            msg = "a password needs a `username`"
            raise ValueError(msg)
        if self.username is not None and not has_password:
            msg = f"user {self.username!r} needs `password_file` or `password_env` (from a secret)"
            raise ValueError(msg)
        return self

    def password(self) -> str | None:
        if self.password_file is not None:
            try:
                return self.password_file.read_text().strip()
            except OSError as exc:
                msg = f"cannot read the OPC UA password for {self.url}: {exc}"
                raise OpcUaSecurityError(msg) from exc
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                msg = f"the OPC UA password for {self.url} is not set: export {self.password_env}"
                raise OpcUaSecurityError(msg)
            return value
        return None


def quality_of(status: ua.StatusCode) -> Quality:
    if status.is_good():
        return "good"
    if status.is_uncertain():
        return "uncertain"
    return "bad"


def _epoch_ms(stamp: datetime | None, fallback_ms: int) -> int:
    if stamp is None:
        return fallback_ms
    if stamp.tzinfo is None:  # OPC UA DateTime is UTC by definition
        stamp = stamp.replace(tzinfo=UTC)
    return round(stamp.timestamp() * 1000)


@dataclass
class _Handler:
    tags: dict[str, OpcUaTag]
    publish: Callable[[SensorReading], None]
    endpoint: str

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        tag = self.tags.get(node.nodeid.to_string())
        if tag is None:
            return
        data_value = data.monitored_item.Value
        status = data_value.StatusCode or ua.StatusCode()
        now_ms = int(time.time() * 1000)
        source_ms = _epoch_ms(
            data_value.SourceTimestamp, _epoch_ms(data_value.ServerTimestamp, now_ms)
        )
        quality = quality_of(status)
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if isinstance(value, bool):
            number = float(value)
        if number is None:
            log.warning(
                "%s sent %r for %s: not a number, not published", self.endpoint, value, tag.node_id
            )
            return
        UPDATES.labels(self.endpoint).inc()
        self.publish(
            SensorReading(
                time=source_ms,
                asset=tag.asset,
                sensor=tag.sensor,
                value=float(number),
                unit=tag.unit,
                quality=quality,
            )
        )


@dataclass
class OpcUaConnector:
    endpoint: OpcUaEndpoint
    sessions: int = 0
    up: bool = False
    _client: Client | None = field(default=None, repr=False)

    async def _secure(self, client: Client) -> None:
        security = self.endpoint.security
        client.application_uri = security.application_uri
        if security.policy != "None":
            policy = getattr(security_policies, f"SecurityPolicy{security.policy}")
            try:
                await client.set_security(
                    policy,
                    certificate=str(security.certificate),
                    private_key=str(security.private_key),
                    server_certificate=str(security.server_certificate)
                    if security.server_certificate
                    else None,
                    mode=getattr(ua.MessageSecurityMode, security.mode),
                )
            except ua.UaError as exc:
                msg = (
                    f"{self.endpoint.url} offers no {security.policy}/{security.mode} endpoint "
                    f"({exc}); LinePulse never falls back to a weaker mode: change the server "
                    "or the `security` of this endpoint"
                )
                raise OpcUaSecurityError(msg) from exc
        if self.endpoint.username is not None:
            client.set_user(self.endpoint.username)
            client.set_password(self.endpoint.password() or "")

    async def _open(self, publish: Callable[[SensorReading], None]) -> Client:
        client = Client(self.endpoint.url, timeout=4)
        self._client = client
        await self._secure(client)
        await client.connect()
        handler = _Handler({t.node_id: t for t in self.endpoint.tags}, publish, self.endpoint.url)
        subscription = await client.create_subscription(self.endpoint.publishing_ms, handler)
        for tag in self.endpoint.tags:
            await subscription.subscribe_data_change(
                client.get_node(tag.node_id),
                queuesize=tag.queue_size,
                sampling_interval=ua.Double(tag.sampling_ms),
            )
        self.sessions += 1
        if self.sessions > 1:
            RECONNECTS.labels(self.endpoint.url).inc()
        CONNECTOR_UP.labels(self.endpoint.url).set(1)
        self.up = True
        log.info(
            "OPC UA session %d to %s with %d monitored items",
            self.sessions,
            self.endpoint.url,
            len(self.endpoint.tags),
        )
        return client

    async def run(self, publish: Callable[[SensorReading], None], stop: asyncio.Event) -> None:
        """Subscribe; while the session lives, check it; when it dies, reconnect with backoff
        and subscribe again."""
        backoff = 0.5
        while not stop.is_set():
            try:
                self._client = await self._open(publish)
                backoff = 0.5
                while not stop.is_set():
                    await self._client.check_connection()
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self.endpoint.watchdog_s)
                    except TimeoutError:
                        continue
            except (OSError, TimeoutError, ua.UaError, ConnectionError, OpcUaSecurityError) as exc:
                CONNECTOR_UP.labels(self.endpoint.url).set(0)
                self.up = False
                log.warning(
                    "OPC UA %s lost (%s); reconnecting in %.1f s",
                    self.endpoint.url,
                    exc or type(exc).__name__,
                    backoff,
                )
            finally:
                await self._close()
            if not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                except TimeoutError:
                    backoff = min(backoff * 2, 30.0)

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2)
            except Exception:  # noqa: BLE001 - the session is already gone
                log.debug("closing a dead OPC UA session failed", exc_info=True)
