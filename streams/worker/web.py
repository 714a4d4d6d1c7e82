"""The worker's HTTP endpoints: metrics, liveness, readiness and queries on its store (the
query endpoint is query_view.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web as aioweb
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.worker.query_view import add_query_view

if TYPE_CHECKING:
    from streams.settings import WorkerSettings
    from streams.worker.outbox import Counters
    from streams.worker.readiness import Readiness


async def _positioned(consumer: Any, assignment: set[TP]) -> bool:
    """Every assigned partition has a read position (a group without committed offsets gets it
    from the reset policy on the first fetch): events sent from now on will be read."""
    try:
        positions = await asyncio.wait_for(
            asyncio.gather(*(consumer.position(tp) for tp in assignment)), timeout=2
        )
    except Exception:  # noqa: BLE001 - a position not known yet (or timed out): not ready
        return False
    return all(position is not None for position in positions)


def add_views(
    app: faust.App, readiness: Readiness, counters: Counters, worker: WorkerSettings
) -> None:
    """Serve /metrics, /livez, /health and /query on the Faust web server; refuses (raises
    QueryTokenRequired) to serve beyond loopback without a query token."""

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        """Prometheus metrics."""
        return aioweb.Response(
            body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @app.page("/livez")
    async def live_view(web: Any, request: Any) -> Any:
        """The event loop answers: the process is alive (readiness is /health)."""
        return web.json({"alive": True})

    @app.page("/health")
    async def health_view(web: Any, request: Any) -> Any:
        """Readiness: store open, partitions assigned and positioned, ClickHouse reachable, context
        current."""
        assignment = app.consumer.assignment() if app.consumer else set()
        positioned = await _positioned(app.consumer, assignment)  # the input's are, once assigned
        inputs = readiness.input.assignment if readiness.input is not None else set()
        reachable = readiness.clickhouse_reachable
        context_ready = readiness.context_current
        ready = (
            (readiness.store is not None or not readiness.needs_store)
            and len(assignment) + len(inputs) > 0
            and positioned
            and reachable
            and context_ready
        )
        body = {
            "ready": ready,
            "assigned_partitions": len(assignment) + len(inputs),
            "positioned": positioned,
            "clickhouse": "reachable" if reachable else "unreachable: the sink waits and retries",
            "context": "current" if context_ready else "reading the MES and sensor spec topics",
            "feed_events": readiness.feed_events,
            "counters": counters.counts,
            "counters_since": counters.since,  # this process's start: each counts from zero
        }
        return web.json(body, status=200 if ready else 503)

    if readiness.needs_store:
        add_query_view(app, lambda: readiness.store, worker)
