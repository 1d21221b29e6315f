"""Who is a member of which server, asked over REST once and remembered briefly: a DM carries no
server, so the allowlists of servers and roles are judged by the sender's memberships."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import discord

from adapters.discord.translate import author_of

log = logging.getLogger(__name__)

MEMBERSHIP_TTL = 300.0
"""Seconds a membership (or its absence) is trusted: role changes reach DMs within this."""
MEMBERSHIP_CACHE_SIZE = 10_000


class Memberships:
    """The role ids a user holds in a server, or None when they are not a member of it."""

    def __init__(
        self,
        ttl: float = MEMBERSHIP_TTL,
        size: int = MEMBERSHIP_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._known: OrderedDict[tuple[int, int], tuple[float, frozenset[str] | None]] = (
            OrderedDict()
        )
        self._asking: dict[tuple[int, int], asyncio.Task[frozenset[str] | None]] = {}

    async def roles(self, guild: discord.Guild, user_id: int) -> frozenset[str] | None:
        """The member's roles (without @everyone); None for a non-member or when Discord could
        not say (that is not remembered, so the next DM asks again).

        A second DM arriving while its sender is being looked up waits for the same lookup: one
        REST call, and the DMs reach the core in the order they arrived (waiters resume in the
        order they began waiting)."""
        key = (guild.id, user_id)
        known = self._known.get(key)
        if known is not None and known[0] > self._clock():
            self._known.move_to_end(key)
            return known[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.create_task(self._look_up(guild, user_id))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)

    async def _look_up(self, guild: discord.Guild, user_id: int) -> frozenset[str] | None:
        key = (guild.id, user_id)
        member = guild.get_member(user_id)  # cached only with the Server Members intent
        if member is None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                member = None
            except discord.HTTPException as error:
                log.warning("could not look up a server member (HTTP %s)", error.status)
                return None
        roles = author_of(member).roles if member is not None else None
        self._known[key] = (self._clock() + self._ttl, roles)
        self._known.move_to_end(key)
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return roles
