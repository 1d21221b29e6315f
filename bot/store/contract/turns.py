"""A turn's life in the store: its event claimed once, its lock, its record while under way."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from bot.history import History
from bot.store.contract.usage import CounterCheck
from bot.types import ChatMessage, ConversationKey, ConversationSettings


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A turn under way: enough to finish it honestly if its process dies mid-answer."""

    event_id: str
    key: ConversationKey
    question: tuple[ChatMessage, ...]
    """What the turn would store before its answer: earlier messages read once, and the ask."""
    receipt: str | None = None
    """The sink's own note of where the answer is shown (JSON), once it showed anything."""
    shown: str = ""
    """The answer's text as last shown."""


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """How `append` ends the turn it stores: finished, or interrupted (its event may be retried)."""

    event_id: str
    interrupted: bool = False


class ClaimedTurn(NamedTuple):
    """What a claimed turn reads with its claim."""

    settings: ConversationSettings
    history: History
    """Its window for the `max_tokens` asked."""
    counters: dict[str, int]
    """Each counter its `CounterCheck` read, as it was before the turn counted (0 when new)."""


class Events(Protocol):
    async def claim_event(self, event_id: str, key: ConversationKey | None = None) -> bool:
        """True only for the first claimant of this platform event id, across replicas.

        The event remembers its conversation (`key`), so `knows` is true from the first claim.
        An event whose turn never finished (interrupted, or its process died) may be claimed again.
        """
        ...


class Locks(Protocol):
    def turn_lock(
        self, key: ConversationKey, author_id: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Serialize one person's turns in one conversation, in arrival order (across replicas
        where shared); other people's turns there do not wait."""
        ...

    def claimed_turn(
        self,
        key: ConversationKey,
        author_id: str,
        event_id: str,
        max_tokens: int,
        check: CounterCheck | None = None,
    ) -> AbstractAsyncContextManager[ClaimedTurn | None]:
        """`turn_lock`, `claim_event`, `load_turn` and the rate limits' `check` at once
        (PostgreSQL: one round trip): what the turn reads while it holds its lock, or None when
        its event was claimed before. An `append` ending the turn (`TurnEnd`) may give the
        shared lock back early."""
        ...


class TurnsInFlight(Protocol):
    async def begin_turn(self, record: TurnRecord) -> TurnRecord | None:
        """Record a turn as under way in this process.

        When its event was re-claimed from a dead process whose answer was left half-shown, the
        dead turn's record comes back, so its message can be finished first.
        """
        ...

    async def show_progress(self, event_id: str, receipt: str | None, shown: str) -> None:
        """Note where a turn's answer is shown and how much of it."""
        ...

    async def end_turn(self, event_id: str) -> None:
        """Forget a turn that stores nothing (a failed call, a refusal): it is over."""
        ...

    async def orphaned_turns(self, platform: str) -> list[TurnRecord]:
        """Adopt this platform's turns whose process died mid-answer, to be finished honestly."""
        ...
