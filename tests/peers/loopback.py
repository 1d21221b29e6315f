"""Serving an aiohttp app on 127.0.0.1 at a free port: the start and stop every peer shares."""

from __future__ import annotations

from aiohttp import web


class LoopbackServer:
    """One app on 127.0.0.1; `port` is 0 until started."""

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, app: web.Application, **runner_options: object) -> int:
        """Serve `app` at a free port (no access log); returns the port."""
        self._runner = web.AppRunner(app, access_log=None, **runner_options)  # type: ignore[arg-type]
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "", *, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"
