"""`parley discord invite-url`: the OAuth2 link that adds the bot with exactly what it needs."""

from __future__ import annotations

import base64
import binascii

import discord

from adapters.discord.settings import DiscordSettings
from bot.config import ConfigError

SCOPES = ("bot", "applications.commands")


def required_permissions() -> discord.Permissions:
    """See channels, answer there and in threads, open threads, reply (which needs history)."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        read_message_history=True,
    )


def application_id_from_token(token: str) -> int:
    """A bot token's first segment is the base64 of the bot's user id, which is its application id
    for every application Discord creates today; no network needed."""
    first = token.split(".", 1)[0]
    try:
        return int(base64.urlsafe_b64decode(first.translate(str.maketrans("+/", "-_")) + "==="))
    except (binascii.Error, ValueError):
        raise ValueError("DISCORD_TOKEN does not look like a bot token") from None


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id, permissions=required_permissions(), scopes=SCOPES
    )


def invite_url_for(settings: DiscordSettings) -> str:
    """The invite URL of the bot whose token the settings hold."""
    if settings.token is None:
        raise ConfigError("DISCORD_TOKEN is not set: the invite URL is built from the bot token")
    try:
        return invite_url(application_id_from_token(settings.token.get_secret_value()))
    except ValueError as error:
        raise ConfigError(str(error)) from None
