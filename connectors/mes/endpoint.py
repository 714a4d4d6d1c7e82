"""The MES endpoint: MES systems POST events over HTTP(S); valid ones go to Kafka.

    POST /v1/events          one event (a JSON object)
    POST /v1/events/batch    a JSON array of events, or JSON lines
    POST /v1/alarms/{alert_id}/actions    an action on an alarm (connectors/mes/alarm_actions.py)

Every request needs `Authorization: Bearer <token>`. A request is taken whole or not at all:
202 once every event is acknowledged by Kafka (or safe in the publisher's spool), 4xx naming
each bad event's index and field otherwise; rejected events also go to the dead-letter topic
with their reason, so nothing sent is lost from sight.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from connectors.mes.alarm_actions import action_item
from connectors.publisher import Publisher, PublishError
from connectors.settings import MesSettings
from schemas import topics
from schemas.alarms import AlarmAction
from schemas.codec import decode_alarm_action, decode_ingest, encode
from schemas.events import (
    DeadLetter,
    IngestEvent,
    OperatorLogin,
    OperatorLogout,
    PlannedStopEnded,
    PlannedStopStarted,
    ProductionCount,
    ShiftEnded,
    ShiftStarted,
    VehicleAtStation,
    WorkOrderEnded,
    WorkOrderStarted,
    asset_or_unknown,
    now_ms,
)
from schemas.exceptions import InvalidEventError, LinePulseError

log = logging.getLogger(__name__)


class MesListenError(LinePulseError):
    """The MES endpoint cannot listen where it was told to."""


ACCEPTED_EVENTS = (
    WorkOrderStarted,
    WorkOrderEnded,
    ShiftStarted,
    ShiftEnded,
    PlannedStopStarted,
    PlannedStopEnded,
    VehicleAtStation,
    OperatorLogin,
    OperatorLogout,
    ProductionCount,  # scrap and rework booked in the MES
)
REQUESTS = Counter(
    "linepulse_mes_requests_total", "Requests to the MES endpoint by HTTP status", ["status"]
)
EVENTS = Counter("linepulse_mes_events_total", "MES events accepted and published")
REJECTED = Counter(
    "linepulse_mes_rejected_events_total", "MES events refused, by reason", ["error_type"]
)


@dataclass(frozen=True)
class Rejection:
    """An event of a request that was refused: its index, the error and the raw item."""

    index: int
    error: InvalidEventError
    raw: Any


def parse_body(body: bytes, batch: bool) -> list[Any]:
    """The events of a request body: one object, or an array or JSON lines for a batch."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not batch:
            raise
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]
    if batch:
        if isinstance(data, dict):
            return [data]
        if not isinstance(data, list):
            msg = f"expected a JSON array of events, got {type(data).__name__}"
            raise ValueError(msg)
        return data
    return [data]


def validate(items: list[Any]) -> tuple[list[IngestEvent], list[Rejection]]:
    """The request's valid MES events, and a rejection for each item that is not one."""
    events: list[IngestEvent] = []
    rejections = []
    for index, item in enumerate(items):
        try:
            event = decode_ingest(item if isinstance(item, dict) else orjson.dumps(item))
        except InvalidEventError as error:
            rejections.append(Rejection(index, error, item))
            continue
        if not isinstance(event, ACCEPTED_EVENTS):
            reason = (
                f"kind {event.kind!r} is not an MES event; sensors and machines publish "
                "through `linepulse connect` or straight to Kafka"
            )
            rejections.append(Rejection(index, InvalidEventError(reason, "not_mes"), item))
            continue
        events.append(event)
    return events, rejections


def dead_letter(rejection: Rejection, path: str) -> DeadLetter:
    """The dead letter of a refused event, sourced from the HTTP path it was posted to."""
    raw = rejection.raw
    asset = raw.get("asset") if isinstance(raw, dict) else None
    return DeadLetter(
        time=now_ms(),
        asset=asset_or_unknown(asset),
        source_topic=f"http:{path}",
        partition=-1,
        offset=rejection.index,
        reason=rejection.error.reason,
        error_type=rejection.error.error_type,
        payload=orjson.dumps(raw).decode()[:100_000],
        key=asset if isinstance(asset, str) else None,
    )


class MesEndpoint:
    """The HTTP app that takes MES events from authorised clients and publishes them to Kafka."""

    def __init__(self, publisher: Publisher, token: str, max_events: int) -> None:
        self.publisher = publisher
        self.token = token.encode()
        self.max_events = max_events
        self._kafka = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mes-publish")

    def app(self, max_body_bytes: int) -> web.Application:
        """The aiohttp application with the event, liveness and metrics routes."""
        app = web.Application(client_max_size=max_body_bytes, middlewares=[self._count])
        app.router.add_post("/v1/events", self.post_one)
        app.router.add_post("/v1/events/batch", self.post_batch)
        app.router.add_post("/v1/alarms/{alert_id}/actions", self.post_action)
        app.router.add_get("/livez", self.live)
        app.router.add_get("/metrics", self.metrics)
        app.on_shutdown.append(self._close)
        return app

    @web.middleware
    async def _count(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            REQUESTS.labels(str(exc.status)).inc()
            if exc.status == 413:
                limit = request.app._client_max_size  # noqa: SLF001 - aiohttp keeps it there
                return _error(413, f"the request body is larger than {limit} bytes")
            raise
        REQUESTS.labels(str(response.status)).inc()
        return response

    async def live(self, request: web.Request) -> web.Response:
        """200 while the endpoint answers."""
        return web.json_response({"alive": True})

    async def metrics(self, request: web.Request) -> web.Response:
        """The Prometheus metrics of the process."""
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def post_one(self, request: web.Request) -> web.Response:
        """Take one event (a JSON object)."""
        return await self._take(request, batch=False)

    async def post_batch(self, request: web.Request) -> web.Response:
        """Take a batch of events (a JSON array or JSON lines), all or none."""
        return await self._take(request, batch=True)

    async def post_action(self, request: web.Request) -> web.Response:
        """Take one action on an alarm and publish it for the alarm processor."""
        if not self._authorized(request):
            return _error(401, "send the MES token as `Authorization: Bearer <token>`")
        body = await request.read()
        try:
            item = action_item(request.match_info["alert_id"], body)
        except InvalidEventError as error:
            REJECTED.labels(error.error_type).inc()
            return _error(400, error.reason)
        try:
            action = decode_alarm_action(item)
        except InvalidEventError as error:
            REJECTED.labels(error.error_type).inc()
            letter = dead_letter(Rejection(0, error, item), request.path)
            await self._run(self._publish_dead_letters, [letter])
            return _error(422, error.reason)
        try:
            await self._run(self._publish_action, action)
        except PublishError as exc:
            return _error(503, f"Kafka did not take the action, retry later: {exc}")
        return web.json_response(
            {
                "accepted": 1,
                "id": action.id,
                "hint": f"the alarm's change appears on {topics.ALERTS}, a refusal on "
                f"{topics.DEAD_LETTERS}",
            },
            status=202,
        )

    def _publish_action(self, action: AlarmAction) -> None:
        self.publisher.send(topics.ALARM_ACTIONS, action.asset, encode(action))
        self.publisher.flush(30)

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given, self.token)

    async def _take(self, request: web.Request, batch: bool) -> web.Response:
        if not self._authorized(request):
            return _error(401, "send the MES token as `Authorization: Bearer <token>`")
        body = await request.read()
        try:
            items = parse_body(body, batch)
        except (orjson.JSONDecodeError, ValueError) as exc:
            REJECTED.labels("not_json").inc()
            return _error(400, f"the body is not valid JSON: {exc}")
        if len(items) > self.max_events:
            too_many = f"{len(items)} events in one request; send at most {self.max_events}"
            return _error(413, too_many)
        events, rejections = validate(items)
        if rejections:
            for rejection in rejections:
                REJECTED.labels(rejection.error.error_type).inc()
            letters = [dead_letter(r, request.path) for r in rejections]
            await self._run(self._publish_dead_letters, letters)
            errors = [{"index": r.index, "error": r.error.reason} for r in rejections]
            return web.json_response(
                {"accepted": 0, "errors": errors, "hint": "nothing was published; fix and resend"},
                status=422,
            )
        try:
            await self._run(self._publish, events)
        except PublishError as exc:
            return _error(503, f"Kafka did not take the events, retry later: {exc}")
        EVENTS.inc(len(events))
        return web.json_response({"accepted": len(events)}, status=202)

    async def _run(self, action: Callable[[Any], None], argument: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(self._kafka, action, argument)

    def _publish(self, events: list[IngestEvent]) -> None:
        for event in events:
            self.publisher.publish(event)
        self.publisher.flush(30)

    def _publish_dead_letters(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            self.publisher.send(topics.DEAD_LETTERS, letter.asset, encode(letter))
        try:
            self.publisher.flush(30)
        except PublishError as exc:
            log.error("dead letters of the MES endpoint not acknowledged: %s", exc)

    async def keep_publisher(self, every_s: float = 1.0) -> None:
        """Serve delivery reports and replay the spool once Kafka is back."""
        while True:
            await self._run(lambda _: self.publisher.maintain(), None)
            await asyncio.sleep(every_s)

    async def _close(self, app: web.Application) -> None:
        self._kafka.shutdown(wait=True)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def tls_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    """Server TLS; with a client CA, only clients with a certificate it signed get in (mTLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def serve(endpoint: MesEndpoint, settings: MesSettings) -> None:
    """Run until cancelled."""
    app = endpoint.app(int(settings.max_body_mb * 1_000_000))
    runner = web.AppRunner(app)
    await runner.setup()
    context = None
    if settings.tls_cert_file and settings.tls_key_file:
        context = tls_context(
            str(settings.tls_cert_file),
            str(settings.tls_key_file),
            str(settings.tls_client_ca_file) if settings.tls_client_ca_file else None,
        )
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        msg = (
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}; set "
            "LINEPULSE_MES_PORT (or LINEPULSE_MES_HOST) to a free address"
        )
        raise MesListenError(msg) from None
    scheme = "https" if context else "http"
    log.info("MES endpoint on %s://%s:%d/v1/events", scheme, settings.host, settings.port)
    try:
        await endpoint.keep_publisher()
    finally:
        await runner.cleanup()
