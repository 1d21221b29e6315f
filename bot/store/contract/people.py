"""What people tell the store: what they are viewing, and how they rate answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.types import ConversationKey


@dataclass(frozen=True, slots=True)
class Rating:
    """How one stored answer was rated: its conversation, its `created_at`, and the counts."""

    key: ConversationKey
    answered_at: float
    likes: int
    dislikes: int


class Viewing(Protocol):
    async def remember_viewing(self, person: str, context: str) -> None:
        """Keep what this person (a door-qualified id) says they are viewing, replacing the last."""
        ...

    async def recall_viewing(self, person: str) -> str | None:
        """What `remember_viewing` last kept for this person; None when nothing."""
        ...


class Feedback(Protocol):
    async def record_answer(
        self, key: ConversationKey, answer_ids: Sequence[str], answered_at: float
    ) -> None:
        """Map the platform message ids showing an answer to the stored answer (its created_at)."""
        ...

    async def rate_answer(self, answer_id: str, person: str, liked: bool) -> bool:
        """Keep this person's rating of the answer a message id shows, replacing their earlier
        one; False when the id shows no recorded answer."""
        ...

    async def ratings(self, key: ConversationKey | None = None) -> list[Rating]:
        """Every rated answer (of one conversation, or all), oldest conversation key first."""
        ...
