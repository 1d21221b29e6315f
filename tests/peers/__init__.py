"""Protocol peers the tests talk to on 127.0.0.1: OpenAI, Discord, Slack, the Hugging Face hub."""

from __future__ import annotations

from aiohttp import web


async def serve_on_loopback(
    app: web.Application, **runner_options: object
) -> tuple[web.AppRunner, int]:
    """Start `app` on 127.0.0.1 at a free port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
