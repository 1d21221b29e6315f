"""Parley in Slack (slack-bolt): mentions, DMs, thread replies, /ask, /parley, assistant threads.

This module is what `parley` loads to list its commands, so it imports no Slack library.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from adapters.slack.settings import SlackSettings
from bot.extras import require

if TYPE_CHECKING:
    from bot.access import AccessPolicy
    from bot.config import Settings
    from bot.wiring import Runtime


def require_slack() -> None:
    """Stop with the install line when the slack extra is missing."""
    require(("slack_bolt", "slack_sdk", "markdown_to_mrkdwn"), "slack", "Slack")


class SlackAdapter:
    """The `slack` entry of the `parley.adapters` group."""

    summary = "answer in Slack: mentions, DMs, threads, /ask and assistant threads"
    uses_http_server = True
    chatty_loggers = ("slack_bolt", "slack_sdk")
    settings_model = SlackSettings

    def access_policy(self, settings: Settings) -> AccessPolicy:
        """PARLEY_SLACK_TEAMS, _CHANNELS, _USERS and _ADMINS."""
        from bot.access import AccessPolicy

        slack = settings.of(SlackSettings)
        return AccessPolicy(
            spaces=frozenset(slack.teams),
            channels=frozenset(slack.channels),
            users=frozenset(slack.users),
            admins=frozenset(slack.admins),
        )

    def is_configured(self, settings: Settings) -> bool:
        if not settings.of(SlackSettings).bot_token:
            return False
        require_slack()
        return True

    def check_settings(self, settings: Settings) -> None:
        """The Slack libraries are installed and the chosen mode (Socket Mode or HTTP) has the
        token or secret it needs."""
        require_slack()
        from adapters.slack.serve import choose_mode

        choose_mode(settings.of(SlackSettings))

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The mode and everything else are settings; `manifest` prints the app manifest."""
        parser.add_argument(
            "action",
            nargs="?",
            choices=["serve", "manifest"],
            default="serve",
            help="serve (default), or print the Slack app manifest to create the app from",
        )
        parser.add_argument(
            "--mode",
            choices=["socket", "http"],
            help="manifest: Socket Mode (default) or HTTP mode (default when --url is given)",
        )
        parser.add_argument(
            "--url",
            metavar="https://HOST",
            help="manifest: the public base URL Slack posts to in HTTP mode (+ /slack/events)",
        )
        parser.add_argument(
            "--format", choices=["yaml", "json"], default="yaml", help="manifest: output format"
        )
        parser.add_argument(
            "--legacy-assistant",
            action="store_true",
            help="manifest: the legacy assistant view instead of agent view (older apps; run "
            "with PARLEY_SLACK_SURFACE=assistant)",
        )

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        """Print the manifest (needing neither tokens nor a Slack library); else nothing."""
        if args.action != "manifest":
            return None
        from adapters.slack.manifest import build_manifest, to_json, to_yaml

        mode = args.mode or ("http" if args.url else "socket")
        slack = settings.of(SlackSettings)
        surface = "assistant" if args.legacy_assistant else slack.surface
        manifest = build_manifest(slack, mode, args.url, surface)
        print(to_json(manifest) if args.format == "json" else to_yaml(manifest), end="")
        return 0

    async def diagnose(self, settings: Settings) -> list[str]:
        require_slack()
        from adapters.slack.doctor import check_token

        return await check_token(settings.of(SlackSettings))

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        await self.serve(runtime)
        return 0

    async def serve(self, runtime: Runtime) -> None:
        from adapters.slack.serve import serve

        await serve(runtime)


adapter = SlackAdapter()
