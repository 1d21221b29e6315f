"""Parley in Slack (slack-bolt): mentions, DMs, thread replies, /ask, /parley, assistant threads.

This module is what `parley` loads to list its commands, so it imports no Slack library.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.wiring import Runtime


class SlackAdapter:
    """The `slack` entry of the `parley.adapters` group."""

    summary = "answer in Slack: mentions, DMs, threads, /ask and assistant threads"
    uses_http_server = True

    def is_configured(self, settings: Settings) -> bool:
        return bool(settings.slack_bot_token)

    def check_settings(self, settings: Settings) -> None:
        """The chosen mode (Socket Mode or HTTP) has the token or secret it needs."""
        from adapters.slack.serve import choose_mode

        choose_mode(settings)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """No options of its own: the mode and everything else are settings."""

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        """Nothing to do without a runtime."""
        return None

    async def diagnose(self, settings: Settings) -> list[str]:
        from adapters.slack.doctor import check_token

        return await check_token(settings)

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        await self.serve(runtime)
        return 0

    async def serve(self, runtime: Runtime) -> None:
        from adapters.slack.serve import serve

        await serve(runtime)


adapter = SlackAdapter()
