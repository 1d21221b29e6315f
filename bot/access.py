"""Who may talk to Parley where, and who may change a conversation's settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings
from bot.types import Author, Incoming

DIRECT_MESSAGES = "dm"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Allowlists for one platform; an empty list allows everyone.

    Direct messages have no space, channel or roles, so only the user allowlist applies to them.
    """

    spaces: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    admin_roles: frozenset[str] = frozenset()

    def allows(self, incoming: Incoming) -> bool:
        author, key = incoming.author, incoming.key
        if self.users and author.id not in self.users:
            return False
        if key.space == DIRECT_MESSAGES:
            return True
        if self.spaces and key.space not in self.spaces:
            return False
        if self.channels and key.channel not in self.channels:
            return False
        return not self.roles or bool(self.roles & author.roles)

    def is_admin(self, author: Author) -> bool:
        return author.is_admin or author.id in self.admins or bool(self.admin_roles & author.roles)


def _set(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


def access_policies(settings: Settings) -> dict[str, AccessPolicy]:
    """The policy of each platform named in the settings; platforms not listed allow everyone."""
    return {
        "discord": AccessPolicy(
            spaces=_set(settings.discord_guilds),
            channels=_set(settings.discord_channels),
            users=_set(settings.discord_users),
            roles=_set(settings.discord_roles),
            admin_roles=_set(settings.discord_admin_roles),
        ),
        "slack": AccessPolicy(
            spaces=_set(settings.slack_teams),
            channels=_set(settings.slack_channels),
            users=_set(settings.slack_users),
            admins=_set(settings.slack_admins),
        ),
    }
