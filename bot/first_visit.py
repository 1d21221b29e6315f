"""Whether a turn is Parley's first in its conversation, so the door's record of what was said
before is read once: not again by a second turn that arrives while the first is being answered."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from bot.types import ConversationKey

KNOWN_SIZE = 4096
"""Conversations remembered as known without asking the store again, least recent forgotten."""


class Visits:
    """The conversations this process has turns in hand for, and those it knows Parley was
    addressed in; the store answers for the rest (other replicas, earlier runs)."""

    def __init__(
        self, stored: Callable[[ConversationKey], Awaitable[bool]], size: int = KNOWN_SIZE
    ) -> None:
        self._stored = stored
        self._size = size
        self._in_hand: dict[ConversationKey, int] = {}
        self._known: OrderedDict[ConversationKey, None] = OrderedDict()

    def arrive(self, key: ConversationKey) -> bool:
        """Count a turn in, in arrival order; True when it may be the first here (no turn was in
        hand for this conversation, and this process has not seen it known)."""
        in_hand = self._in_hand.get(key, 0)
        self._in_hand[key] = in_hand + 1
        return not in_hand and key not in self._known

    def leave(self, key: ConversationKey) -> None:
        in_hand = self._in_hand[key] - 1
        if in_hand:
            self._in_hand[key] = in_hand
        else:
            del self._in_hand[key]

    async def first(self, key: ConversationKey, arrived_first: bool) -> bool:
        """Whether Parley was never addressed here: asked before the turn's event is claimed
        (a claim is what the store knows a conversation by)."""
        if not arrived_first or await self._stored(key):
            self.remember(key)
            return False
        return True

    def remember(self, key: ConversationKey) -> None:
        """Note that Parley was addressed here (a turn's event was claimed)."""
        self._known[key] = None
        self._known.move_to_end(key)
        if len(self._known) > self._size:
            self._known.popitem(last=False)

    async def knows(self, key: ConversationKey) -> bool:
        """Whether Parley was addressed here before (an answer may still be under way)."""
        return key in self._in_hand or key in self._known or await self._stored(key)
