"""Usage and limits: rate-limit counters, what each turn used and cost, moderation counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


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
class Counter:
    """A usage counter a turn's limits read when the turn is claimed."""

    scope: str
    cap: int | None = None
    """The turn may go ahead only while the counter is below this; None: only read."""
    counts: bool = False
    """The turn adds one to it when it goes ahead."""


@dataclass(frozen=True, slots=True)
class CounterCheck:
    """Counters read, and the counting ones raised by one, in one step with a turn's claim: raised
    only when every capped counter is below its cap (the turn goes ahead). What comes back is
    each counter as it was before; replicas racing at a cap may each still count one turn."""

    counters: tuple[Counter, ...]

    def admits(self, found: Mapping[str, int]) -> bool:
        """Whether counters at these values let the turn go ahead."""
        return all(
            found.get(counter.scope, 0) < counter.cap
            for counter in self.counters
            if counter.cap is not None
        )

    def raised(self) -> dict[str, int]:
        """What an admitted turn adds."""
        return {counter.scope: 1 for counter in self.counters if counter.counts}


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


class UsageLedger(Protocol):
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
