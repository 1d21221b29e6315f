"""Running the Slack door: Socket Mode (an outbound websocket) or HTTP mode (the Events API)."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from slack_sdk.errors import SlackApiError

from adapters.slack.app import EVENTS_PATH, SlackDoor
from adapters.slack.doctor import check_token
from adapters.slack.settings import SlackSettings
from adapters.slack.translate import PLATFORM
from bot.config import ConfigError
from bot.wiring import Runtime

log = logging.getLogger(__name__)

Mode = Literal["socket", "http"]


def choose_mode(settings: SlackSettings) -> Mode:
    """PARLEY_SLACK_MODE, or auto: Socket Mode when an app token is set, else HTTP mode."""
    if not settings.bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the app's Bot User OAuth Token")
    mode: Mode = (
        settings.mode if settings.mode != "auto" else ("socket" if settings.app_token else "http")
    )
    if mode == "socket" and not settings.app_token:
        raise ConfigError("Socket Mode needs SLACK_APP_TOKEN (an xapp-... app-level token)")
    if mode == "http" and not settings.signing_secret:
        raise ConfigError(
            "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information > App Credentials); "
            "or set SLACK_APP_TOKEN for Socket Mode"
        )
    return mode


async def serve(runtime: Runtime) -> None:
    """Serve Slack until cancelled; tokens Slack refuses at start-up are one-line errors.

    In HTTP mode the Events API is mounted first, so an event that comes while the token is being
    checked gets 503 (Slack redelivers it) rather than 404.
    """
    mode = choose_mode(runtime.settings.of(SlackSettings))
    door = SlackDoor(runtime)
    runtime.ops.add_ready_check("slack", lambda: door.ready)
    if mode == "http":
        runtime.ops.mount("POST", EVENTS_PATH, door.handle_http)
    try:
        problems = await check_token(runtime.settings.of(SlackSettings))
        if problems:
            raise ConfigError(problems[0])
        await runtime.dialogue.recover(PLATFORM, door.repair)
        await _connect(door, runtime, mode)
    except asyncio.CancelledError:
        # Let answers in flight finish while the Web API session is still open.
        await runtime.dialogue.shutdown(runtime.settings.shutdown_grace_seconds)
        raise
    finally:
        await door.close()


async def _connect(door: SlackDoor, runtime: Runtime, mode: Mode) -> None:
    try:
        if mode == "socket":
            await _serve_socket(door, runtime.settings.of(SlackSettings))
        else:
            await _serve_http(door, runtime)
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        raise ConfigError(
            f"Slack refused to connect ({code}): check SLACK_APP_TOKEN (an xapp-... token with "
            "connections:write) and SLACK_BOT_TOKEN"
        ) from None


async def _serve_socket(door: SlackDoor, settings: SlackSettings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.app_token is not None
    handler = AsyncSocketModeHandler(door.bolt, settings.app_token.get_secret_value())
    await handler.connect_async()
    door.ready = True
    log.info("Slack: connected in Socket Mode")
    try:
        await asyncio.Event().wait()
    finally:
        await handler.close_async()


async def _serve_http(door: SlackDoor, runtime: Runtime) -> None:
    """Answer the Events API on the process's one HTTP server, beside /healthz and /metrics."""
    if runtime.ops.port is None:  # not started by `parley slack` / `parley serve`: embedded use
        await runtime.ops.listen(runtime.settings)
    door.ready = True
    log.info("Slack: Events API at %s on port %s", EVENTS_PATH, runtime.ops.port)
    await asyncio.Event().wait()
