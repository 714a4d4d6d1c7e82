"""OPC UA connector: data-change subscriptions by tag map, quality from the StatusCode, and a
watchdog that reconnects and re-creates the subscriptions after the server comes back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.crypto import security_policies
from prometheus_client import Counter, Gauge

from connectors.opcua.tags import OpcUaEndpoint, OpcUaSecurityError, OpcUaTag
from schemas.events import Quality, SensorReading

log = logging.getLogger(__name__)

UPDATES = Counter("linepulse_opcua_updates_total", "Data-change notifications", ["endpoint"])
RECONNECTS = Counter("linepulse_opcua_reconnects_total", "Sessions re-established", ["endpoint"])
# refusals of a monitored item that reading the node on a timer works around
POLL_INSTEAD = frozenset(
    {
        "BadMonitoredItemFilterUnsupported",
        "BadMonitoredItemFilterInvalid",
        "BadDeadbandFilterInvalid",
        "BadFilterNotAllowed",
        "BadMonitoringModeInvalid",
        "BadTooManyMonitoredItems",
    }
)
POLLED = Counter("linepulse_opcua_polled_total", "Values read by polling", ["endpoint"])
CONNECTOR_UP = Gauge("linepulse_opcua_up", "1 while the OPC UA session is alive", ["endpoint"])


def quality_of(status: ua.StatusCode) -> Quality:
    """The reading quality of an OPC UA StatusCode: good, uncertain or bad."""
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


def reading_of(tag: OpcUaTag, data_value: ua.DataValue, endpoint: str) -> SensorReading | None:
    """The reading of a tag's DataValue: source time (else server time, else now) and quality
    from the StatusCode; None for a value that is not a number."""
    value = data_value.Value.Value if data_value.Value is not None else None
    status = data_value.StatusCode or ua.StatusCode()
    now_ms = int(time.time() * 1000)
    source_ms = _epoch_ms(data_value.SourceTimestamp, _epoch_ms(data_value.ServerTimestamp, now_ms))
    if isinstance(value, bool):
        number: float | None = float(value)
    elif isinstance(value, int | float):
        number = float(value)
    else:
        log.warning("%s sent %r for %s: not a number, not published", endpoint, value, tag.node_id)
        return None
    return SensorReading(
        time=source_ms,
        asset=tag.asset,
        sensor=tag.sensor,
        value=number,
        unit=tag.unit,
        quality=quality_of(status),
    )


def monitored_item(tag: OpcUaTag, node_id: ua.NodeId, handle: int) -> ua.MonitoredItemCreateRequest:
    """A data-change monitored item for a tag: its sampling interval, queue and deadband."""
    parameters = ua.MonitoringParameters()
    parameters.ClientHandle = handle
    parameters.SamplingInterval = ua.Double(tag.sampling_ms)
    parameters.QueueSize = tag.queue_size
    parameters.DiscardOldest = True
    if tag.deadband > 0:
        change = ua.DataChangeFilter()
        change.Trigger = ua.DataChangeTrigger.StatusValue
        change.DeadbandType = 1 if tag.deadband_type == "absolute" else 2
        change.DeadbandValue = ua.Double(tag.deadband)
        parameters.Filter = change
    item = ua.MonitoredItemCreateRequest()
    item.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
    item.MonitoringMode = ua.MonitoringMode.Reporting
    item.RequestedParameters = parameters
    return item


@dataclass
class _Handler:
    tags: dict[str, OpcUaTag]
    publish: Callable[[SensorReading], None]
    endpoint: str

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        """Publish the reading of a data change on a subscribed tag."""
        tag = self.tags.get(node.nodeid.to_string())
        if tag is None:
            return
        reading = reading_of(tag, data.monitored_item.Value, self.endpoint)
        if reading is not None:
            UPDATES.labels(self.endpoint).inc()
            self.publish(reading)


@dataclass
class _Poller:
    """Reads tags on a timer, for servers that refuse to monitor them (or when asked to);
    an absolute deadband is applied here."""

    client: Client
    tags: list[OpcUaTag]
    publish: Callable[[SensorReading], None]
    endpoint: str
    last: dict[str, float] = field(default_factory=dict)

    async def run(self, every_s: float) -> None:
        """Read the tags every `every_s` seconds and publish the values that changed."""
        nodes = [self.client.get_node(tag.address) for tag in self.tags]
        while True:
            values = await self.client.read_attributes(nodes)
            for tag, data_value in zip(self.tags, values, strict=True):
                reading = reading_of(tag, data_value, self.endpoint)
                if reading is None or not self._changed(tag, reading.value):
                    continue
                POLLED.labels(self.endpoint).inc()
                self.publish(reading)
            await asyncio.sleep(every_s)

    def _changed(self, tag: OpcUaTag, value: float) -> bool:
        previous = self.last.get(tag.address)
        if previous is not None and abs(value - previous) <= tag.deadband and tag.deadband > 0:
            return False
        self.last[tag.address] = value
        return True


@dataclass
class OpcUaConnector:
    """One OPC UA endpoint's session: its subscriptions, polled tags and whether it is up."""

    endpoint: OpcUaEndpoint
    sessions: int = 0
    up: bool = False
    polled_tags: int = 0
    _client: Client | None = field(default=None, repr=False)
    _polls: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

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
        tags = await self._resolve(client)
        subscribed = [t for t in tags if t.read == "subscribe"]
        polled = [t for t in tags if t.read == "poll"]
        if subscribed:
            handler = _Handler({t.address: t for t in subscribed}, publish, self.endpoint.url)
            subscription = await client.create_subscription(self.endpoint.publishing_ms, handler)
            items = [
                monitored_item(tag, client.get_node(tag.address).nodeid, handle)
                for handle, tag in enumerate(subscribed, start=1)
            ]
            results = await subscription.create_monitored_items(items)
            for tag, result in zip(subscribed, results, strict=True):
                if not isinstance(result, ua.StatusCode):
                    continue
                if result.name in POLL_INSTEAD:
                    log.warning(
                        "%s refused to monitor %s (%s); polling it every %.0f ms instead",
                        self.endpoint.url,
                        tag.node_id,
                        result.name,
                        tag.poll_ms,
                    )
                    polled.append(tag)
                else:
                    log.error(
                        "%s cannot monitor %s (%s): check the node id in the tag map",
                        self.endpoint.url,
                        tag.node_id,
                        result.name,
                    )
        self._start_polling(client, polled, publish)
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

    async def _resolve(self, client: Client) -> list[OpcUaTag]:
        """The tags with node ids, browse paths resolved on this server (each session anew:
        a restarted server may number its nodes differently)."""
        resolved = []
        for tag in self.endpoint.tags:
            if tag.browse_path is None:
                resolved.append(tag)
                continue
            try:
                node = await client.nodes.objects.get_child(tag.browse_path.split("/"))
            except ua.UaError as exc:
                log.error(
                    "%s has no node at browse path %s (%s): check the tag map",
                    self.endpoint.url,
                    tag.browse_path,
                    exc,
                )
                continue
            resolved.append(tag.model_copy(update={"node_id": node.nodeid.to_string()}))
        return resolved

    def _start_polling(
        self, client: Client, tags: list[OpcUaTag], publish: Callable[[SensorReading], None]
    ) -> None:
        by_interval: dict[float, list[OpcUaTag]] = {}
        for tag in tags:
            by_interval.setdefault(tag.poll_ms, []).append(tag)
        self.polled_tags = len(tags)
        for every_ms, group in by_interval.items():
            poller = _Poller(client, group, publish, self.endpoint.url)
            self._polls.append(asyncio.create_task(poller.run(every_ms / 1000)))

    async def _close(self) -> None:
        for task in self._polls:
            task.cancel()
        await asyncio.gather(*self._polls, return_exceptions=True)
        self._polls.clear()
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2)
            except Exception:  # noqa: BLE001 - the session is already gone
                log.debug("closing a dead OPC UA session failed", exc_info=True)
