"""The worker's HTTP endpoints: metrics, liveness, readiness and queries on its store (the
query endpoint is query_view.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web as aioweb
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.worker.query_view import add_query_view

if TYPE_CHECKING:
    from streams.settings import WorkerSettings
    from streams.worker.outbox import Counters
    from streams.worker.readiness import Readiness


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
        """Readiness: store open, every input assigned partitions (each placed at its start when
        assigned), ClickHouse reachable, context current."""
        assigned = [len(source.assignment) for source in readiness.inputs]
        positioned = bool(assigned) and all(assigned)
        reachable = readiness.clickhouse_reachable
        context_ready = readiness.context_current
        ready = (
            (readiness.store is not None or not readiness.needs_store)
            and positioned
            and reachable
            and context_ready
        )
        body = {
            "ready": ready,
            "assigned_partitions": sum(assigned),
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
