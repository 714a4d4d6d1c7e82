"""The worker's HTTP endpoints: metrics, liveness, readiness and queries on its store."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web as aioweb
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.store.clickhouse import StoreError, output_format

if TYPE_CHECKING:
    from streams.worker.app import Pipeline


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


def add_views(pipeline: Pipeline) -> None:
    """Serve /metrics, /livez, /health and /query on the Faust web server."""
    app = pipeline.app

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return aioweb.Response(
            body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @app.page("/livez")
    async def live_view(web: Any, request: Any) -> Any:
        """The event loop answers: the process is alive (readiness is /health)."""
        return web.json({"alive": True})

    @app.page("/health")
    async def health_view(web: Any, request: Any) -> Any:
        assignment = app.consumer.assignment() if app.consumer else set()
        positioned = await _positioned(app.consumer, assignment)
        reachable = pipeline.clickhouse_reachable
        context_ready = pipeline.context_current
        ready = (
            pipeline.store is not None
            and len(assignment) > 0
            and positioned
            and reachable
            and context_ready
        )
        body = {
            "ready": ready,
            "assigned_partitions": len(assignment),
            "positioned": positioned,
            "clickhouse": "reachable" if reachable else "unreachable: the sink waits and retries",
            "context": "current" if context_ready else "reading the MES and sensor spec topics",
            "feed_events": sum(feed.applied for feed in pipeline.feeds),
            "counters": pipeline.counters,
        }
        return web.json(body, status=200 if ready else 503)

    @app.page("/query")
    class QueryView(faust.web.View):
        """SQL on the store this worker owns (the embedded engine allows one process)."""

        async def post(self, request: Any) -> Any:
            payload = await request.json()
            sql = str(payload.get("sql", ""))
            try:
                fmt = output_format(str(payload.get("format", "table")))
                if pipeline.store is None:
                    return self.json({"error": "the store is still opening; try again"}, status=503)
                result = await asyncio.to_thread(pipeline.store.query_bytes, sql, fmt)
            except StoreError as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.bytes(result, content_type="application/octet-stream")
