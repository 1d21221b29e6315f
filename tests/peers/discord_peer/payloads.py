"""Discord's JSON objects as API v10 sends them: users, members, messages, threads, the guild."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
ALL_PERMISSIONS = str((1 << 50) - 1)
MANAGE_GUILD = 1 << 5
EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 38)  # view, send, history, threads
EPHEMERAL = 1 << 6
"""The message flag of what only its interaction's user sees."""


def fake_token(user_id: int) -> str:
    """A bot token shaped like Discord's: its first segment is the base64 of the user id."""
    first = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{first}.GfAKE0.not-a-real-secret-0123456789"


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class PeerUser:
    id: int
    name: str
    bot: bool = False
    roles: tuple[int, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def me(self) -> dict[str, Any]:
        """The user as GET /users/@me and READY describe the bot itself."""
        return {**self.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    def member(self) -> dict[str, Any]:
        return {
            "user": self.payload(),
            "roles": [str(role) for role in self.roles],
            "joined_at": now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }


def text_channel(channel_id: int, guild_id: int, name: str, position: int) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "name": name,
        "guild_id": str(guild_id),
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def dm_channel(channel_id: int, user: PeerUser) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 1,
        "recipients": [user.payload()],
        "last_message_id": None,
    }


def thread(
    thread_id: int, guild_id: int, parent_id: int, name: str, owner_id: int
) -> dict[str, Any]:
    return {
        "id": str(thread_id),
        "type": 11,
        "name": name,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now(),
            "locked": False,
            "create_timestamp": now(),
        },
    }


def message(
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    author: PeerUser,
    content: str,
    *,
    mentions: tuple[PeerUser, ...] = (),
    reply_to: int | None = None,
    referenced: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message; a reply carries the message it answers (`referenced`, when known)."""
    payload: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author.payload(),
        "content": content,
        "timestamp": now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [user.payload() for user in mentions],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        member = author.member()
        del member["user"]
        payload["member"] = member
    if reply_to is not None:
        payload["type"] = 19
        payload["message_reference"] = {
            "message_id": str(reply_to),
            "channel_id": str(channel_id),
            "guild_id": str(guild_id) if guild_id else None,
        }
        # Discord resolves one level of a reply chain; deeper levels must be fetched.
        payload["referenced_message"] = (
            {k: v for k, v in referenced.items() if k != "referenced_message"}
            if referenced
            else None
        )
    return payload


def webhook_message(
    message_id: int, channel_id: int, bot: PeerUser, application_id: int, content: str, hidden: bool
) -> dict[str, Any]:
    """An interaction's response or follow-up, as its webhook posts it."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": bot.payload(),
        "content": content,
        "timestamp": now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 20,
        "flags": EPHEMERAL if hidden else 0,
        "webhook_id": str(application_id),
    }


def role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild(
    guild_id: int,
    admin_role: int,
    channels: list[dict[str, Any]],
    members: list[PeerUser],
) -> dict[str, Any]:
    """GUILD_CREATE's guild: its text channels, threads, two roles and every member."""
    roles = [
        role(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
        role(admin_role, "admins", MANAGE_GUILD | EVERYONE_PERMISSIONS, 1),
    ]
    return {
        "id": str(guild_id),
        "name": "Test Guild",
        "icon": None,
        "owner_id": "1",
        "roles": roles,
        "channels": [c for c in channels if c.get("type") == 0],
        "threads": [c for c in channels if c.get("type") == 11],
        "members": [user.member() for user in members],
        "member_count": len(members),
        "presences": [],
        "voice_states": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "large": False,
        "unavailable": False,
        "joined_at": now(),
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
    }


def interaction(
    interaction_id: int,
    application_id: int,
    kind: int,
    channel: dict[str, Any],
    guild_id: int | None,
    user: PeerUser,
    permissions: int | None,
    fields: dict[str, Any],
    *,
    installed_in: int,
) -> dict[str, Any]:
    """INTERACTION_CREATE's data: in a guild its member with the channel's resolved
    `permissions` (default all), in a DM its user; the app is installed in guild `installed_in`."""
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": kind,
        "token": f"interaction-token-{interaction_id}",
        "version": 1,
        "channel_id": channel["id"],
        "channel": channel,
        "locale": "en-US",
        "app_permissions": ALL_PERMISSIONS,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(installed_in)},
        "attachment_size_limit": 8 * 1024 * 1024,
        **fields,
    }
    if guild_id is None:
        payload["user"] = user.payload()
        payload["context"] = 1
    else:
        payload["guild_id"] = str(guild_id)
        payload["guild_locale"] = "en-US"
        granted = ALL_PERMISSIONS if permissions is None else str(permissions)
        payload["member"] = {**user.member(), "permissions": granted}
        payload["context"] = 0
    return payload
