"""Conversations and their messages: the window a turn reads, what it stores, settings, links."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.history import History
from bot.store.contract.turns import TurnEnd
from bot.store.contract.usage import TurnUsage
from bot.types import ChatMessage, ConversationKey, ConversationSettings, ConversationStats

UNSET: object = object()
"""Marks a setting left as it is in `Conversations.set_settings`."""


@dataclass(frozen=True, slots=True)
class ExportFilter:
    platform: str | None = None
    space: str | None = None
    since: float | None = None
    until: float | None = None


class Conversations(Protocol):
    async def knows(self, key: ConversationKey) -> bool:
        """Whether this conversation has stored messages or a claimed event (a turn under way)."""
        ...

    async def load(self, key: ConversationKey, max_tokens: int) -> list[ChatMessage]:
        """The newest messages since the last reset whose tokens fit, oldest first."""
        ...

    async def load_turn(
        self, key: ConversationKey, max_tokens: int
    ) -> tuple[ConversationSettings, History]:
        """`get_settings` and `load` in one round trip: what every turn reads.

        The window stays in memory while the conversation is active, so a turn reads only what
        is new since the last (and proves nothing else changed, whichever replica wrote it)."""
        ...

    async def append(
        self,
        key: ConversationKey,
        messages: Sequence[ChatMessage],
        *,
        output_tokens: int = 0,
        ends: TurnEnd | None = None,
        usage: TurnUsage | None = None,
    ) -> None:
        """Store one turn atomically: all of `messages` or none, the end of its turn record, and
        what it used and cost."""
        ...

    async def link(self, key: ConversationKey, aliases: Sequence[str]) -> None:
        """Note that these platform messages belong to this conversation (first link wins)."""
        ...

    async def resolve(self, alias: str) -> ConversationKey | None:
        """The conversation a platform message was linked to, if any."""
        ...

    async def reset(self, key: ConversationKey, *, beneath: bool = False) -> None:
        """Start a fresh context; stored messages stay for export. With `beneath`, the
        conversations in the key's thread slots (a channel's threads and chains) too."""
        ...

    async def get_settings(self, key: ConversationKey) -> ConversationSettings:
        """The conversation's settings; a thread inherits what its channel sets and it does not."""
        ...

    async def set_settings(
        self, key: ConversationKey, *, system_prompt: object = UNSET, model: object = UNSET
    ) -> None:
        """Change the given settings; None restores the default, UNSET leaves one as it is."""
        ...

    async def stats(self, key: ConversationKey) -> ConversationStats: ...

    def export(
        self, filter: ExportFilter
    ) -> AsyncIterator[tuple[ConversationKey, list[ChatMessage]]]:
        """Every matching conversation's messages, oldest first."""
        ...
