"""Memory of the place: the channels an admin opted in, and their messages as they arrived."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.types import HistoryMessage


@dataclass(frozen=True, slots=True)
class PlaceMemoryInfo:
    """A place whose messages are kept: since when, who turned it on, how many are kept."""

    since: float
    enabled_by: str
    messages: int


class PlaceMemoryStore(Protocol):
    """A place is a channel's key (`platform:space:channel`); `Housekeeping` purges old ones."""

    async def remember_place(self, place: str, by: str) -> None:
        """Start keeping this place's messages (again on: its first time stays)."""
        ...

    async def forget_place(self, place: str) -> None:
        """Stop keeping this place's messages and delete those kept."""
        ...

    async def remembered_places(self) -> list[str]: ...

    async def place_memory(self, place: str) -> PlaceMemoryInfo | None:
        """What is kept of this place; None when it is not remembered."""
        ...

    async def keep_message(self, place: str, author_id: str, message: HistoryMessage) -> None:
        """Keep a message, or replace the kept text of the same message id (an edit)."""
        ...

    async def drop_message(self, place: str, message_id: str) -> None: ...

    async def search_place(
        self, place: str, terms: Sequence[str], limit: int, exclude: str = ""
    ) -> list[HistoryMessage]:
        """The kept messages holding any of these terms (letters and digits only, each matched
        as a word prefix), best match first; `exclude` names a message id left out."""
        ...
