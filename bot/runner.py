"""Running doors: one adapter (`parley <door>`) or every configured one (`parley serve`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from bot.adapter import AdapterPlugin, adapter_names, installed_adapters, load_adapter
from bot.config import ConfigError, Settings, load_settings
from bot.gc_tuning import tune_for_serving
from bot.logs import configure_logging
from bot.wiring import Runtime, open_runtime

log = logging.getLogger(__name__)


def prepare(args: argparse.Namespace) -> Settings:
    """Load the settings and configure logging, masking every configured secret."""
    settings = load_settings(args.config)
    chatty = [name for plugin in installed_adapters().values() for name in plugin.chatty_loggers]
    configure_logging(settings.log_level, settings.log_format, settings.secret_values(), chatty)
    return settings


def run_adapter(name: str, args: argparse.Namespace) -> int:
    settings = prepare(args)
    plugin = load_adapter(name)
    offline = plugin.run_offline(settings, args)
    if offline is not None:
        return offline
    plugin.check_settings(settings)
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
        doors = ", ".join(name for name, plugin in plugins.items() if plugin.uses_http_server)
        raise ConfigError(
            f"no platform is configured: set the token of one of {doors} "
            "(the README's settings table has each door's settings)"
        )
    for plugin in chosen.values():  # every door's settings, before anything starts
        plugin.check_settings(settings)
    return asyncio.run(
        _until_signalled(settings, lambda runtime: _serve_all(runtime, chosen), http=True)
    )


RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
HEALTHY_SECONDS = 60.0
"""A door that ran this long before failing was healthy: its next restart waits the least again."""


async def _serve_all(runtime: Runtime, plugins: dict[str, AdapterPlugin]) -> int:
    """Serve every door at once; a door that fails restarts while the others keep serving."""
    log.info("serving %s", ", ".join(plugins))
    try:
        async with asyncio.TaskGroup() as group:
            for name, plugin in plugins.items():
                group.create_task(_supervise(name, plugin, runtime))
    except* ConfigError as errors:
        # An operator's mistake ends the process with one line, not an ExceptionGroup.
        raise errors.exceptions[0] from None
    return 0


async def _supervise(name: str, plugin: AdapterPlugin, runtime: Runtime) -> None:
    """Serve one door until cancelled: restart it after an unexpected error, waiting 1 s, doubling
    to 60 s; a ConfigError (a refused token, say) is not retried."""
    loop = asyncio.get_running_loop()
    delay = RESTART_FIRST_SECONDS
    while True:
        started = loop.time()
        try:
            await plugin.serve(runtime)
            return
        except ConfigError:
            raise
        except Exception as error:
            if loop.time() - started >= HEALTHY_SECONDS:
                delay = RESTART_FIRST_SECONDS
            problem = f"{name} restarting after error: {type(error).__name__}"
            log.error("%s; next try in %.0f s", problem, delay, exc_info=error)
            runtime.ops.report(name, problem)
            await asyncio.sleep(delay)
            runtime.ops.report(name, None)
            delay = min(delay * 2, RESTART_MAX_SECONDS)


async def _until_signalled(
    settings: Settings, body: Callable[[Runtime], Awaitable[int]], *, http: bool
) -> int:
    """Run body with a runtime; SIGTERM stops taking events and lets turns in flight finish.

    Servers (http) treat Ctrl+C the same way; the console keeps Ctrl+C for stopping an answer.
    """
    async with open_runtime(settings) as runtime:
        if http:
            await runtime.ops.listen(settings)
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
