"""The HTTP endpoint of a connector process: Prometheus metrics, liveness and health."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

HealthReport = Callable[[], dict[str, bool]]


def health_app(report: HealthReport) -> web.Application:
    """/metrics, /livez (the process answers) and /health (200 while every connection is up,
    503 with the ones that are down)."""

    async def metrics(request: web.Request) -> web.Response:
        """The Prometheus metrics of the process."""
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def live(request: web.Request) -> web.Response:
        """200 while the process answers."""
        return web.json_response({"alive": True})

    async def health(request: web.Request) -> web.Response:
        """200 while every connection is up, 503 with the state of each otherwise."""
        connections = report()
        healthy = all(connections.values())
        return web.json_response(
            {"healthy": healthy, "connections": connections}, status=200 if healthy else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", live)
    app.router.add_get("/health", health)
    return app


async def start_health_server(report: HealthReport, host: str, port: int) -> web.AppRunner:
    """Serve the health app on `host:port`; the caller cleans up the runner returned."""
    runner = web.AppRunner(health_app(report))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
