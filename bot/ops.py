"""The process's one HTTP server: /healthz, /readyz, /metrics, and what adapters mount on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.config import ConfigError
from bot.llm.base import Backend, BackendError
from bot.metrics import Metrics
from bot.store.base import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READINESS_TIMEOUT = 5.0
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OpsServer:
    """Health and metrics for orchestrators, plus routes mounted by adapters at any time.

    Routes are looked up per request, so an adapter (Slack in HTTP mode) can mount its endpoint
    after the server started, and every adapter shares one port.
    """

    def __init__(self, store: Store, backend: Backend, metrics: Metrics) -> None:
        self._store = store
        self._backend = backend
        self._metrics = metrics
        self._routes: dict[tuple[str, str], Handler] = {}
        self._ready_checks: dict[str, Callable[[], bool]] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.mount("GET", "/healthz", self._healthz)
        self.mount("GET", "/readyz", self._readyz)
        self.mount("GET", "/metrics", self._metrics_page)

    def mount(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def add_ready_check(self, name: str, check: Callable[[], bool]) -> None:
        """A readiness condition, e.g. an adapter's connection to its platform."""
        self._ready_checks[name] = check

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                f"cannot listen on {host}:{port} ({error.strerror}): set PARLEY_HTTP_HOST and "
                "PARLEY_HTTP_PORT to a free address"
            ) from None
        self.port = self._runner.addresses[0][1]
        log.info("HTTP server on %s:%s (/healthz, /readyz, /metrics)", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self.port = None, None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        status = 200 if not problems else 503
        return web.json_response({"ready": not problems, "problems": problems}, status=status)

    async def problems(self) -> list[str]:
        """What keeps this process from serving, one short phrase each; empty when ready."""
        found = []
        try:
            await asyncio.wait_for(self._store.ping(), READINESS_TIMEOUT)
        except Exception as error:
            found.append(f"store unreachable: {type(error).__name__}")
        try:
            await asyncio.wait_for(self._backend.ping(), READINESS_TIMEOUT)
        except (BackendError, TimeoutError) as error:
            found.append(f"model backend unreachable: {getattr(error, 'kind', 'timeout')}")
        found.extend(f"{name} not connected" for name, ok in self._ready_checks.items() if not ok())
        return found

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": PROMETHEUS_TYPE})
