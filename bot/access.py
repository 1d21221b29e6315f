"""Who may talk to Parley where, and who may change a conversation's settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from bot.types import DIRECT_MESSAGES, Incoming

__all__ = ["DIRECT_MESSAGES", "AccessPolicy", "DirectMessages", "access_policies"]

DirectMessages = Literal["members", "open", "off"]
"""Who may talk to Parley in a direct message: people of the allowed spaces (and roles), anyone
the user allowlist lets in, or no one."""


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Allowlists for one platform; an empty list allows everyone.

    A direct message has no channel; it is judged by the user allowlist and by its home space
    (`Incoming.home`, with the roles the sender has there), which the door finds.
    """

    spaces: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    admin_roles: frozenset[str] = frozenset()
    direct_messages: DirectMessages = "members"

    @property
    def restricts_spaces(self) -> bool:
        """Whether only some spaces (or some roles in them) may talk to Parley."""
        return bool(self.spaces or self.roles)

    def wants_home(self, incoming: Incoming) -> bool:
        """Whether a DM's verdict turns on a home space the door has not given it (then the door
        may look for an allowed one its sender belongs to)."""
        return (
            incoming.key.space == DIRECT_MESSAGES
            and incoming.space is None
            and self.direct_messages == "members"
            and not self.users
            and self.restricts_spaces
        )

    def allows(self, incoming: Incoming) -> bool:
        author, key = incoming.author, incoming.key
        if self.users and author.id not in self.users:
            return False
        if key.space == DIRECT_MESSAGES:
            return self._allows_direct(incoming)
        if self.spaces and key.space not in self.spaces:
            return False
        if self.channels and key.channel not in self.channels:
            return False
        return not self.roles or bool(self.roles & author.roles)

    def _allows_direct(self, incoming: Incoming) -> bool:
        """Past the user allowlist: judged by its home space and roles there like any message;
        with no home known, only named people, unless no space is restricted or DMs are open."""
        if self.direct_messages != "members":
            return self.direct_messages == "open"
        home = incoming.space
        if home is None:
            return bool(self.users) or not self.restricts_spaces
        if self.spaces and home not in self.spaces:
            return False
        return not self.roles or bool(self.roles & incoming.author.roles)

    def is_admin(self, incoming: Incoming) -> bool:
        """Admins list, else the platform's rights and admin roles, which a DM does not carry."""
        author = incoming.author
        if author.id in self.admins:
            return True
        if incoming.key.space == DIRECT_MESSAGES:
            return False
        return author.is_admin or bool(self.admin_roles & author.roles)


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
            admins=_set(settings.discord_admins),
            admin_roles=_set(settings.discord_admin_roles),
            direct_messages=settings.discord_dms,
        ),
        "slack": AccessPolicy(
            spaces=_set(settings.slack_teams),
            channels=_set(settings.slack_channels),
            users=_set(settings.slack_users),
            admins=_set(settings.slack_admins),
        ),
    }
