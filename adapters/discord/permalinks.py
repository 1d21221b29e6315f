"""Discord's own message links, as the client's "Copy Message Link" writes them."""

from __future__ import annotations

DIRECT = "@me"
"""The guild part of a link to a message in a direct-message channel."""


def message_link(guild_id: int | str | None, channel_id: int | str, message_id: int | str) -> str:
    """https://discord.com/channels/GUILD/CHANNEL/MESSAGE (a thread is its own channel)."""
    return f"https://discord.com/channels/{guild_id or DIRECT}/{channel_id}/{message_id}"
