"""`parley discord`: Parley in Discord (discord.py, imported only when this door is used)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from adapters.discord.settings import DiscordSettings
from bot.config import ConfigError
from bot.extras import require

if TYPE_CHECKING:
    from bot.access import AccessPolicy
    from bot.config import Settings
    from bot.wiring import Runtime


def require_discord() -> None:
    """Stop with the install line when the discord extra is missing."""
    require("discord", "discord", "Discord")


class DiscordAdapter:
    summary = "answer mentions, DMs, threads and slash commands in Discord"
    uses_http_server = True
    chatty_loggers = ("discord",)
    settings_model = DiscordSettings

    def access_policy(self, settings: Settings) -> AccessPolicy:
        """PARLEY_DISCORD_GUILDS, _CHANNELS, _USERS, _ROLES, _ADMINS, _ADMIN_ROLES and _DMS."""
        from bot.access import AccessPolicy

        discord = settings.of(DiscordSettings)
        return AccessPolicy(
            spaces=frozenset(discord.guilds),
            channels=frozenset(discord.channels),
            users=frozenset(discord.users),
            roles=frozenset(discord.roles),
            admins=frozenset(discord.admins),
            admin_roles=frozenset(discord.admin_roles),
            direct_messages=discord.dms,
        )

    def is_configured(self, settings: Settings) -> bool:
        if not settings.of(DiscordSettings).token:
            return False
        require_discord()
        return True

    def check_settings(self, settings: Settings) -> None:
        """Everything else is checked by Discord itself when the door logs in."""
        sync_guild = settings.of(DiscordSettings).sync_guild
        if sync_guild and not sync_guild.isdigit():
            raise ConfigError(
                "PARLEY_DISCORD_SYNC_GUILD must be a guild id (digits): copy it with Developer "
                "Mode on (right-click the server > Copy Server ID)"
            )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "action",
            nargs="?",
            choices=["serve", "invite-url"],
            default="serve",
            help="serve (default), or print the OAuth2 URL that adds the bot to a server",
        )
        parser.add_argument(
            "--sync-guild",
            metavar="GUILD_ID",
            help="register slash commands in this guild only, instantly (for development); "
            "same as PARLEY_DISCORD_SYNC_GUILD",
        )

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        """`invite-url` needs no model and no network: it is computed from the token."""
        require_discord()
        if args.action != "invite-url":
            return None
        from adapters.discord.invite import invite_url_for

        print(invite_url_for(settings.of(DiscordSettings)))
        return 0

    async def diagnose(self, settings: Settings) -> list[str]:
        require_discord()
        from adapters.discord.doctor import check_token

        return await check_token(settings.of(DiscordSettings))

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        from adapters.discord.app import DiscordDoor

        await DiscordDoor(runtime, sync_guild=args.sync_guild).serve()
        return 0

    async def serve(self, runtime: Runtime) -> None:
        from adapters.discord.app import DiscordDoor

        await DiscordDoor(runtime).serve()


adapter = DiscordAdapter()
