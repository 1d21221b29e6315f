"""The process's one HTTP server: /healthz, /readyz, /metrics, and what adapters mount on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.config import ConfigError, Settings
from bot.llm.base import Backend, BackendError
from bot.metrics import Metrics
from bot.store.base import Lifecycle

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READINESS_TIMEOUT = 5.0
PROBE_CACHE_SECONDS = 3.0
"""How long one store and backend probe answers /readyz: a burst of GETs costs one upstream call."""
METRICS_PATH = "/metrics"
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OpsServer:
    """Health and metrics for orchestrators, plus routes mounted by adapters at any time.

    Routes are looked up per request, so an adapter (a webhook door) can mount its endpoint
    after the server started, and every adapter shares one port. /metrics can have a listener of
    its own, away from the public port.
    """

    def __init__(self, store: Lifecycle, backend: Backend, metrics: Metrics) -> None:
        self._store = store
        self._backend = backend
        self._metrics = metrics
        self._routes: dict[tuple[str, str], Handler] = {}
        self._ready_checks: dict[str, Callable[[], bool]] = {}
        self._reported: dict[str, str] = {}
        self._probe: asyncio.Future[list[str]] | None = None
        self._probed_at = 0.0
        self._runners: list[web.AppRunner] = []
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.mount("GET", "/healthz", self._healthz)
        self.mount("GET", "/readyz", self._readyz)
        self.mount("GET", METRICS_PATH, self._metrics_page)

    def mount(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def add_ready_check(self, name: str, check: Callable[[], bool]) -> None:
        """A readiness condition, e.g. an adapter's connection to its platform."""
        self._ready_checks[name] = check

    def report(self, name: str, problem: str | None) -> None:
        """Set (or clear, with None) a named problem that /readyz lists until it is cleared."""
        if problem is None:
            self._reported.pop(name, None)
        else:
            self._reported[name] = problem

    async def listen(self, settings: Settings) -> None:
        """Start on the configured addresses (PARLEY_HTTP_*, and PARLEY_METRICS_* if set)."""
        await self.start(
            settings.http_host,
            settings.http_port,
            metrics_host=settings.metrics_host,
            metrics_port=settings.metrics_port,
        )

    async def start(
        self,
        host: str,
        port: int,
        *,
        metrics_host: str | None = None,
        metrics_port: int | None = None,
    ) -> None:
        """Listen on host:port; with a metrics host or port, /metrics listens there instead."""
        metrics_at = (metrics_host or host, port if metrics_port is None else metrics_port)
        apart = metrics_at != (host, port) or metrics_port == 0
        self.port = await self._listen(host, port, self._public if apart else self._dispatch)
        if apart:
            self.metrics_port = await self._listen(*metrics_at, self._metrics_only, metrics=True)
        else:
            self.metrics_port = self.port
        shown = "/healthz, /readyz" if apart else "/healthz, /readyz, /metrics"
        log.info("HTTP server on %s:%s (%s)", host, self.port, shown)

    async def _listen(
        self, host: str, port: int, handler: Handler, *, metrics: bool = False
    ) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            await runner.cleanup()
            await self.stop()
            prefix = "PARLEY_METRICS" if metrics else "PARLEY_HTTP"
            raise ConfigError(
                f"cannot listen on {host}:{port} ({error.strerror}): set {prefix}_HOST and "
                f"{prefix}_PORT to a free address"
            ) from None
        self._runners.append(runner)
        if metrics:
            log.info("metrics on %s:%s%s", host, runner.addresses[0][1], METRICS_PATH)
        return runner.addresses[0][1]

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        self.port = self.metrics_port = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    async def _public(self, request: web.Request) -> web.StreamResponse:
        """Every route but /metrics, which has a listener of its own."""
        if request.path == METRICS_PATH:
            raise web.HTTPNotFound()
        return await self._dispatch(request)

    async def _metrics_only(self, request: web.Request) -> web.StreamResponse:
        if (request.method, request.path) != ("GET", METRICS_PATH):
            raise web.HTTPNotFound()
        return await self._metrics_page(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        status = 200 if not problems else 503
        return web.json_response({"ready": not problems, "problems": problems}, status=status)

    async def problems(self) -> list[str]:
        """What keeps this process from serving, one short phrase each; empty when ready."""
        found = list(await self._probed())
        found.extend(self._reported.values())
        found.extend(f"{name} not connected" for name, ok in self._ready_checks.items() if not ok())
        return found

    def _probed(self) -> asyncio.Future[list[str]]:
        """The store and backend probe, shared by every caller for PROBE_CACHE_SECONDS."""
        now = time.monotonic()
        if self._probe is None or now - self._probed_at > PROBE_CACHE_SECONDS:
            self._probe = asyncio.ensure_future(self._probe_upstreams())
            self._probed_at = now
        # A caller that goes away must not cancel the probe the others wait on.
        return asyncio.shield(self._probe)

    async def _probe_upstreams(self) -> list[str]:
        found = []
        try:
            await asyncio.wait_for(self._store.ping(), READINESS_TIMEOUT)
        except Exception as error:
            found.append(f"store unreachable: {type(error).__name__}")
        try:
            await asyncio.wait_for(self._backend.ping(), READINESS_TIMEOUT)
        except (BackendError, TimeoutError) as error:
            found.append(f"model backend unreachable: {getattr(error, 'kind', 'timeout')}")
        return found

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": PROMETHEUS_TYPE})
