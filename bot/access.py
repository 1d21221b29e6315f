"""Who may talk to Parley where, and who may change a conversation's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.types import DIRECT_MESSAGES, Incoming

if TYPE_CHECKING:
    from bot.adapter import AdapterPlugin
    from bot.config import Settings

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
            incoming.key.is_direct
            and incoming.space is None
            and self.direct_messages == "members"
            and not self.users
            and self.restricts_spaces
        )

    def allows(self, incoming: Incoming) -> bool:
        author, key = incoming.author, incoming.key
        if self.users and author.id not in self.users:
            return False
        if key.is_direct:
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
        if incoming.key.is_direct:
            return False
        return author.is_admin or bool(self.admin_roles & author.roles)


def access_policies(
    plugins: Mapping[str, AdapterPlugin], settings: Settings
) -> dict[str, AccessPolicy]:
    """Each door's policy, as it declares it from its own settings; doors without one allow all."""
    policies = {name: plugin.access_policy(settings) for name, plugin in plugins.items()}
    return {name: policy for name, policy in policies.items() if policy is not None}
