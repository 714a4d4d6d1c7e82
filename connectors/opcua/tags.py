"""The OPC UA part of a tag map: endpoints, their security and their tags (validated config)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.tag import SensorTag
from schemas.events import SensorSpec
from schemas.exceptions import LinePulseError


class OpcUaTag(SensorTag):
    """One OPC UA variable, by node id or browse path, and how it is read."""

    node_id: str | None = Field(None, min_length=1, description="e.g. ns=2;s=Press7.Force")
    browse_path: str | None = Field(
        None,
        min_length=1,
        description="instead of node_id: browse names from Objects, e.g. 2:Press7/2:Force",
    )
    sampling_ms: float = Field(100.0, ge=0)
    queue_size: int = Field(10, ge=0)
    deadband: float = Field(
        0.0, ge=0, description="report only changes larger than this (0: every change)"
    )
    deadband_type: Literal["absolute", "percent"] = Field(
        "absolute", description="percent of the node's EURange, as OPC UA defines it"
    )
    read: Literal["subscribe", "poll"] = Field(
        "subscribe",
        description="subscribe (polled instead if the server refuses the monitored item), or poll",
    )
    poll_ms: float = Field(1000.0, gt=0, description="how often a polled tag is read")

    @model_validator(mode="after")
    def _addressed_once(self) -> OpcUaTag:
        if (self.node_id is None) == (self.browse_path is None):
            msg = f"{self.sensor}: give either `node_id` or `browse_path`"
            raise ValueError(msg)
        return self

    @property
    def address(self) -> str:
        """The node id (browse paths are resolved into one when a session opens)."""
        if self.node_id is None:
            msg = f"{self.sensor}: browse path {self.browse_path} not resolved yet"
            raise ValueError(msg)
        return self.node_id

    def spec(self, url: str) -> SensorSpec:
        """What the worker may expect of this tag; subscriptions without a deadband report on
        change only, so only polled tags have a nominal interval."""
        interval_ms = self.poll_ms if self.read == "poll" else None
        return self.declared(interval_ms, f"opcua {url} {self.node_id or self.browse_path}")


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
    """One OPC UA server: its URL, security, credentials and tags."""

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
        """The password from its file or env var, None without a username."""
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
