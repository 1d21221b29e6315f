"""Rate limits and daily token budgets, counted in the store so every replica sees the same totals.

Windows are fixed (this minute, this UTC day); a check and its count are two steps, so replicas
racing at the edge can overshoot a limit by a turn or two, never by more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.store.base import Store
from bot.types import Incoming

MINUTE = 60
DAY = 86_400


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    user_turns_per_minute: int | None = None
    conversation_turns_per_minute: int | None = None
    user_daily_tokens: int | None = None
    space_daily_tokens: int | None = None

    @property
    def active(self) -> bool:
        return any(
            limit is not None
            for limit in (
                self.user_turns_per_minute,
                self.conversation_turns_per_minute,
                self.user_daily_tokens,
                self.space_daily_tokens,
            )
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A turn over a limit: the limit's name, the line for the user, and whether to say it."""

    limit: str
    message: str
    first: bool
    """The user's first refusal by this limit in its window: later ones are not posted, so a
    flood of messages gets one answer, not one each."""


@dataclass(frozen=True, slots=True)
class _Counter:
    scope: str
    limit: int
    window: int
    refusal: str


class Limits:
    """Admits a turn or says, in one friendly line, when to try again."""

    def __init__(
        self, policy: LimitPolicy, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self._policy = policy
        self._store = store
        self._clock = clock

    async def admit(self, incoming: Incoming) -> Refusal | None:
        """None when the turn may go ahead (and it is counted); else why not, and whether this
        is the first refusal of that limit's window for this user (only that one is told)."""
        if not self._policy.active:
            return None
        now = self._clock()
        turns, tokens = self._counters(incoming, now)
        counters = turns + tokens
        told = {counter.scope: _told(incoming, counter) for counter in counters}
        used = await self._store.count_usage([*told, *told.values()])
        for counter in counters:
            if used.get(counter.scope, 0) >= counter.limit:
                first = not used.get(told[counter.scope])
                if first:
                    await self._store.add_usage({told[counter.scope]: 1})
                wait = _until_window_ends(now, counter.window)
                message = f"{counter.refusal} Try again in {wait}."
                return Refusal(counter.scope.split(":")[1], message, first)
        if turns:
            await self._store.add_usage({counter.scope: 1 for counter in turns})
        return None

    async def spent(self, incoming: Incoming, tokens: int) -> None:
        """Count a finished turn's tokens against the daily budgets."""
        if tokens <= 0:
            return
        _, budgets = self._counters(incoming, self._clock())
        if budgets:
            await self._store.add_usage({counter.scope: tokens for counter in budgets})

    def _counters(self, incoming: Incoming, now: float) -> tuple[list[_Counter], list[_Counter]]:
        policy, key = self._policy, incoming.key
        minute, day = int(now // MINUTE), int(now // DAY)
        user = f"{key.platform}:{incoming.author.id}"
        turns, tokens = [], []
        if policy.user_turns_per_minute:
            turns.append(
                _Counter(
                    f"turns:user:{user}:{minute}",
                    policy.user_turns_per_minute,
                    MINUTE,
                    "You're sending messages faster than I can take them.",
                )
            )
        if policy.conversation_turns_per_minute:
            turns.append(
                _Counter(
                    f"turns:conversation:{key}:{minute}",
                    policy.conversation_turns_per_minute,
                    MINUTE,
                    "This conversation is very busy right now.",
                )
            )
        if policy.user_daily_tokens:
            tokens.append(
                _Counter(
                    f"tokens:user:{user}:{day}",
                    policy.user_daily_tokens,
                    DAY,
                    "You've used your share of the model for today.",
                )
            )
        if policy.space_daily_tokens and incoming.space is not None:
            tokens.append(
                _Counter(
                    f"tokens:space:{key.platform}:{incoming.space}:{day}",
                    policy.space_daily_tokens,
                    DAY,
                    "This team has used its share of the model for today.",
                )
            )
        return turns, tokens


def _told(incoming: Incoming, counter: _Counter) -> str:
    """The counter of refusals told to this user by this limit in this window (the counter's
    scope names its window), shared by replicas like the limits themselves."""
    return f"told:{incoming.key.platform}:{incoming.author.id}:{counter.scope}"


def _until_window_ends(now: float, window: int) -> str:
    seconds = math.ceil(window - now % window)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} min"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours} h {minutes} min"
