"""The Store protocol: the contract every store passes (tests/store runs it on each)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from bot.history import History
from bot.types import (
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    ConversationStats,
    HistoryMessage,
)

UNSET: object = object()
"""Marks a setting left as it is in `Store.set_settings`."""


@dataclass(frozen=True, slots=True)
class ExportFilter:
    platform: str | None = None
    space: str | None = None
    since: float | None = None
    until: float | None = None


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


@dataclass(frozen=True, slots=True)
class TurnUsage:
    """What one answered turn used and cost, recorded with its answer (never its content)."""

    model: str
    platform: str
    space: str
    """The server or workspace (a DM's home when known, else the DM space)."""
    channel: str
    user: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_micros: int
    """US dollars times 1,000,000."""


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Which recorded turns `usage_report` sums, grouped by space, channel, user or model."""

    since: float
    by: str = "space"
    platform: str | None = None
    space: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRow:
    label: str
    turns: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_micros: int


@dataclass(frozen=True, slots=True)
class SpentQuery:
    """A user's and a space's spending since the UTC day and month began (money budgets)."""

    platform: str
    user: str
    space: str | None
    day_start: float
    month_start: float


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A tool call's approval request as stored; `state` is pending until a click or timeout."""

    id: str
    tool: str
    asker_id: str
    state: str
    decided_by: str | None


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One audited tool call: who asked where, which tool, a digest of the arguments (never the
    arguments), how it ended, how long it took and how big its result was."""

    at: float
    platform: str
    space: str
    channel: str
    user: str
    tool: str
    args_digest: str
    outcome: str
    duration_ms: int
    result_bytes: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: float = 0.0
    tool: str | None = None
    user: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Rating:
    """How one stored answer was rated: its conversation, its `created_at`, and the counts."""

    key: ConversationKey
    answered_at: float
    likes: int
    dislikes: int


@dataclass(frozen=True, slots=True)
class PlaceMemoryInfo:
    """A place whose messages are kept: since when, who turned it on, how many are kept."""

    since: float
    enabled_by: str
    messages: int


class PlaceMemoryStore(Protocol):
    """Memory of the place: the channels an admin opted in, and their messages as they arrived.
    A place is a channel's key (`platform:space:channel`)."""

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

    async def purge_place_messages(self, older_than: float) -> int:
        """Delete kept messages sent before this Unix time; return how many."""
        ...


class Store(PlaceMemoryStore, Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when several processes start at once)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect."""
        ...

    async def ping(self) -> None:
        """Raise when the store is unreachable."""
        ...

    def turn_lock(
        self, key: ConversationKey, author_id: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Serialize one person's turns in one conversation, in arrival order (across replicas
        where shared); other people's turns there do not wait."""
        ...

    async def claim_event(self, event_id: str, key: ConversationKey | None = None) -> bool:
        """True only for the first claimant of this platform event id, across replicas.

        The event remembers its conversation (`key`), so `knows` is true from the first claim.
        An event whose turn never finished (interrupted, or its process died) may be claimed again.
        """
        ...

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

    async def forget(self, author_id: str) -> int:
        """Delete every turn this author asked (their messages and the answers to them), what
        they viewed, their ratings and their messages kept as a channel's memory."""
        ...

    async def purge(self, older_than: float) -> int:
        """Delete messages (and message links) created before this Unix time (retention); return
        how many messages."""
        ...

    async def expire(self, before: float) -> None:
        """Delete processed-event records and usage counters last touched before this time."""
        ...

    async def count_usage(self, scopes: Sequence[str]) -> dict[str, int]:
        """Current values of these usage counters (absent ones are 0), for rate limits."""
        ...

    async def add_usage(self, amounts: Mapping[str, int]) -> None:
        """Add to usage counters, creating them (`expire` deletes those left untouched)."""
        ...

    async def usage_report(self, query: UsageQuery) -> list[UsageRow]:
        """Recorded turns summed per group, costliest first."""
        ...

    async def money_spent(self, query: SpentQuery) -> tuple[int, int, int, int]:
        """Micro-dollars spent: the user today and this month, the space today and this month."""
        ...

    async def count_moderated(self, platform: str, space: str, direction: str, day: int) -> None:
        """Count one question refused (`input`) or answer withheld (`output`) on this UTC day
        (days since 1970)."""
        ...

    async def moderation_counts(self, since_day: int) -> dict[tuple[str, str], int]:
        """(platform:space, direction) -> how many were moderated since that UTC day."""
        ...

    async def remember_viewing(self, person: str, context: str) -> None:
        """Keep what this person (a door-qualified id) says they are viewing, replacing the last."""
        ...

    async def recall_viewing(self, person: str) -> str | None:
        """What `remember_viewing` last kept for this person; None when nothing."""
        ...

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

    async def open_approval(self, approval_id: str, tool: str, asker_id: str) -> None:
        """Record a tool call waiting for its asker's click (state pending)."""
        ...

    async def settle_approval(self, approval_id: str, state: str, by: str | None) -> bool:
        """Decide a pending request (approved, denied, timed_out); False when it was no longer
        pending: the first decision wins, on any replica."""
        ...

    async def approval(self, approval_id: str) -> ApprovalRecord | None: ...

    async def record_tool_call(self, record: ToolCallRecord) -> None: ...

    async def tool_calls(self, query: AuditQuery) -> list[ToolCallRecord]:
        """Recorded tool calls since `query.since`, oldest first."""
        ...

    def export(
        self, filter: ExportFilter
    ) -> AsyncIterator[tuple[ConversationKey, list[ChatMessage]]]:
        """Every matching conversation's messages, oldest first."""
        ...
