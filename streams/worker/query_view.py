"""The worker's /query endpoint: read-only SQL on the store it owns, behind a bearer token.

Without LINEPULSE_QUERY_TOKEN the endpoint serves only a loopback address; a worker asked to
listen beyond this machine without a token does not start. /metrics, /livez and /health stay
open (web.py).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Callable
from typing import Any

import faust

from schemas.exceptions import LinePulseError
from streams.settings import WorkerSettings
from streams.store.clickhouse import Store, StoreError, output_format
from streams.store.readonly import (
    QueryLimits,
    QueryRefused,
    QueryTimeout,
    ReadOnlyQueries,
    one_line,
)


class QueryTokenRequired(LinePulseError):
    """The HTTP endpoint would listen beyond this machine with /query open to anyone."""


def is_loopback(host: str) -> bool:
    """Only this machine reaches `host` (an empty host is every interface: no)."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def query_token(settings: WorkerSettings) -> str | None:
    """The token /query requires: none on a loopback address without one set; a worker that
    would listen beyond loopback without one is refused."""
    secret = settings.query_token
    token = secret.get_secret_value().strip() if secret is not None else ""
    if token:
        return token
    if not is_loopback(settings.web_host):
        msg = (
            f"the worker's HTTP endpoint would listen on {settings.web_host or 'every interface'}"
            ", beyond this machine, with /query open to anyone: set LINEPULSE_QUERY_TOKEN "
            "(from a secret), or LINEPULSE_WEB_HOST=127.0.0.1"
        )
        raise QueryTokenRequired(msg)
    return None


def authorized(header: str, token: str | None) -> bool:
    """The Authorization header carries the token (compared in constant time), or none is set."""
    if token is None:
        return True
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def add_query_view(
    app: faust.App, opened_store: Callable[[], Store | None], worker: WorkerSettings
) -> None:
    """Serve POST /query {"sql": ..., "format": ...}; raise QueryTokenRequired when the
    endpoint would listen beyond loopback without a token."""
    token = query_token(worker)
    queries = ReadOnlyQueries(QueryLimits(worker.query_timeout_s, worker.query_max_result_mb))

    @app.page("/query")
    class QueryView(faust.web.View):
        """Read-only SQL on the store this worker owns (the embedded engine allows one process)."""

        def refusal(self, status: int, error: str, headers: dict[str, str] | None = None) -> Any:
            """A refusal as one line of JSON."""
            return self.json({"error": one_line(error)}, status=status, headers=headers)

        async def post(self, request: Any) -> Any:
            """Run one read-only query."""
            if not authorized(request.headers.get("Authorization", ""), token):
                return self.refusal(
                    401,
                    "send the worker's query token as `Authorization: Bearer <token>` "
                    "(linepulse query sends LINEPULSE_QUERY_TOKEN)",
                    {"WWW-Authenticate": "Bearer"},
                )
            try:
                payload = await request.json()
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                return self.refusal(400, 'the body must be JSON: {"sql": "...", "format": "csv"}')
            store = opened_store()
            try:
                fmt = output_format(str(payload.get("format", "table")))
                if store is None:
                    return self.refusal(503, "the store is still opening; try again")
                sql = str(payload.get("sql", ""))
                result = await asyncio.to_thread(queries.run, store, sql, fmt)
            except QueryRefused as exc:
                return self.refusal(403, str(exc))
            except QueryTimeout as exc:
                return self.refusal(504, str(exc))
            except StoreError as exc:
                return self.refusal(503 if exc.retriable else 400, str(exc))
            return self.bytes(result, content_type="application/octet-stream")
