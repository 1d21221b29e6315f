"""Running doors: one adapter (`parley discord`) or every configured one (`parley serve`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from bot.adapter import AdapterPlugin, adapter_names, load_adapter
from bot.config import ConfigError, Settings, load_settings
from bot.gc_tuning import tune_for_serving
from bot.logs import configure_logging
from bot.wiring import Runtime, open_runtime

log = logging.getLogger(__name__)


def prepare(args: argparse.Namespace) -> Settings:
    """Load the settings and configure logging, masking every configured secret."""
    settings = load_settings(args.config)
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return settings


def run_adapter(name: str, args: argparse.Namespace) -> int:
    settings = prepare(args)
    plugin = load_adapter(name)
    offline = plugin.run_offline(settings, args)
    if offline is not None:
        return offline
    return asyncio.run(
        _until_signalled(
            settings, lambda runtime: plugin.run(runtime, args), http=plugin.uses_http_server
        )
    )


def run_serve(args: argparse.Namespace) -> int:
    settings = prepare(args)
    plugins = {name: load_adapter(name) for name in adapter_names()}
    chosen = {name: p for name, p in plugins.items() if p.is_configured(settings)}
    if not chosen:
        raise ConfigError(
            "no platform is configured: set DISCORD_TOKEN and/or SLACK_BOT_TOKEN "
            "(with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET)"
        )
    return asyncio.run(
        _until_signalled(settings, lambda runtime: _serve_all(runtime, chosen), http=True)
    )


async def _serve_all(runtime: Runtime, plugins: dict[str, AdapterPlugin]) -> int:
    log.info("serving %s", ", ".join(plugins))
    async with asyncio.TaskGroup() as group:
        for plugin in plugins.values():
            group.create_task(plugin.serve(runtime))
    return 0


async def _until_signalled(
    settings: Settings, body: Callable[[Runtime], Awaitable[int]], *, http: bool
) -> int:
    """Run body with a runtime; SIGTERM stops taking events and lets turns in flight finish.

    Servers (http) treat Ctrl+C the same way; the console keeps Ctrl+C for stopping an answer.
    """
    async with open_runtime(settings) as runtime:
        if http:
            await runtime.ops.start(settings.http_host, settings.http_port)
        tune_for_serving()
        main = asyncio.current_task()
        assert main is not None
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if http else (signal.SIGTERM,)
        for signum in signals:
            loop.add_signal_handler(signum, main.cancel)
        try:
            return await body(runtime)
        except asyncio.CancelledError:
            if main.cancelling() > 1:
                raise
            main.uncancel()
            log.info("stopping: finishing turns in flight first")
            return 0
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
