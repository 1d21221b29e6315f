"""Rate limits and daily token and money budgets, read from the store so every replica sees the
same totals.

Windows are fixed (this minute, this UTC day, this UTC calendar month). A turn's counters are
read and counted with its claim, in one step (`CounterCheck`); replicas racing at the edge can
still each count one turn past a limit, never more.
Money is summed from the per-turn usage records (micro-dollars), so no counter can drift from them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.prices import MICROS_PER_USD
from bot.store.base import Counter, CounterCheck, SpentQuery, UsageLedger
from bot.types import Incoming

MINUTE = 60
DAY = 86_400


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    user_turns_per_minute: int | None = None
    conversation_turns_per_minute: int | None = None
    user_daily_tokens: int | None = None
    space_daily_tokens: int | None = None
    user_daily_usd: float | None = None
    user_monthly_usd: float | None = None
    space_daily_usd: float | None = None
    space_monthly_usd: float | None = None
    frugal_at: float = 0.8
    """The share of a money budget past which a turn is near it (see `admit_turn`)."""

    @property
    def active(self) -> bool:
        return self.counted or self.priced

    @property
    def counted(self) -> bool:
        """Whether any turn or token limit is set."""
        return _any_set(
            self.user_turns_per_minute,
            self.conversation_turns_per_minute,
            self.user_daily_tokens,
            self.space_daily_tokens,
        )

    @property
    def priced(self) -> bool:
        """Whether any money budget is set."""
        return _any_set(
            self.user_daily_usd, self.user_monthly_usd, self.space_daily_usd, self.space_monthly_usd
        )


def _any_set(*limits: float | None) -> bool:
    return any(limit is not None for limit in limits)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A turn over a limit: the limit's name, the line for the user, and whether to say it."""

    limit: str
    message: str
    first: bool
    """The user's first refusal by this limit in its window: later ones are not posted, so a
    flood of messages gets one answer, not one each."""


@dataclass(frozen=True, slots=True)
class _Limit:
    scope: str
    limit: int
    ends: float
    """When its window ends (Unix time): the refusal says how long until then."""
    refusal: str


@dataclass(frozen=True, slots=True)
class CountedLimits:
    """A turn's turn and token limits at one moment, and the counters its claim reads for them."""

    now: float
    capped: tuple[_Limit, ...]
    check: CounterCheck


class Limits:
    """Admits a turn or says, in one friendly line, when to try again."""

    def __init__(
        self, policy: LimitPolicy, store: UsageLedger, clock: Callable[[], float] = time.time
    ) -> None:
        self._policy = policy
        self._store = store
        self._clock = clock
        self._active, self._counted = policy.active, policy.counted
        """Asked every turn of a policy that never changes: worked out once."""

    async def admit(self, incoming: Incoming) -> Refusal | None:
        """None when the turn may go ahead (and it is counted); else why not, and whether this
        is the first refusal of that limit's window for this user (only that one is told)."""
        refusal, _ = await self.admit_turn(incoming)
        return refusal

    def counted(self, incoming: Incoming) -> CountedLimits | None:
        """The turn and token limits of a turn arriving now (None when none is set): the store
        reads their counters, and counts the turn, as it claims the turn."""
        if not self._counted:
            return None
        now = self._clock()
        turns, tokens = self._counters(incoming, now)
        counters = [
            *(Counter(limit.scope, limit.limit, counts=True) for limit in turns),
            *(Counter(limit.scope, limit.limit) for limit in tokens),
            *(Counter(_told(incoming, limit)) for limit in [*turns, *tokens]),
        ]
        return CountedLimits(now, (*turns, *tokens), CounterCheck(tuple(counters)))

    async def admit_turn(self, incoming: Incoming) -> tuple[Refusal | None, bool]:
        """`admit`, and whether an admitted turn is near a money budget (past the policy's
        `frugal_at` share of it), where a cheaper model may answer."""
        if not self._active:
            return None, False
        limits = self.counted(incoming)
        found: dict[str, int] = {}
        if limits is not None:
            check = limits.check
            found = await self._store.count_usage([c.scope for c in check.counters])
            if check.admits(found):
                await self._store.add_usage(check.raised())
        return await self.judge(incoming, limits, found)

    async def judge(
        self, incoming: Incoming, limits: CountedLimits | None, found: dict[str, int]
    ) -> tuple[Refusal | None, bool]:
        """`admit_turn` for a turn whose claim read (and counted) its `counted` limits: `found`
        holds the counters as they were before."""
        if not self._active:
            return None, False
        now = limits.now if limits is not None else self._clock()
        for counter in limits.capped if limits is not None else ():
            if found.get(counter.scope, 0) >= counter.limit:
                told = found.get(_told(incoming, counter))
                return await self._refuse(incoming, counter, now, told), False
        money = await self._money(incoming, now)
        for counter, spent in money:
            if spent >= counter.limit:
                told_count = await self._store.count_usage([_told(incoming, counter)])
                return await self._refuse(incoming, counter, now, sum(told_count.values())), False
        share = self._policy.frugal_at
        return None, any(spent >= counter.limit * share for counter, spent in money)

    async def _refuse(
        self, incoming: Incoming, counter: _Limit, now: float, told: int | None
    ) -> Refusal:
        first = not told
        if first:
            await self._store.add_usage({_told(incoming, counter): 1})
        # A money budget resets with its day or month; a rate limit or token share passes.
        again = "It resets in" if counter.scope.startswith("usd") else "Try again in"
        message = f"{counter.refusal} {again} {_until(counter.ends - now)}."
        return Refusal(counter.scope.split(":")[1], message, first)

    async def _money(self, incoming: Incoming, now: float) -> list[tuple[_Limit, int]]:
        """The money budgets set, each with what was spent in its window (micro-dollars)."""
        policy = self._policy
        if not policy.priced:
            return []
        day_start, month_start, month_ends = day_and_month(now)
        day, key, space = int(now // DAY), incoming.key, incoming.space
        spent = await self._store.money_spent(
            SpentQuery(key.platform, incoming.author.id, space, day_start, month_start)
        )
        user = f"{key.platform}:{incoming.author.id}"
        place = f"{key.platform}:{space}"
        budgets = [
            (policy.user_daily_usd, f"usd-day:user:{user}:{day}", day_start + DAY, _YOURS, "today"),
            (
                policy.user_monthly_usd,
                f"usd-month:user:{user}:{month_start:.0f}",
                month_ends,
                _YOURS,
                "this month",
            ),
            (
                policy.space_daily_usd,
                f"usd-day:space:{place}:{day}",
                day_start + DAY,
                _TEAMS,
                "today",
            ),
            (
                policy.space_monthly_usd,
                f"usd-month:space:{place}:{month_start:.0f}",
                month_ends,
                _TEAMS,
                "this month",
            ),
        ]
        found = []
        for (limit, scope, ends, whose, when), amount in zip(budgets, spent, strict=True):
            if limit is None or (whose is _TEAMS and space is None):
                continue
            counter = _Limit(scope, round(limit * MICROS_PER_USD), ends, f"{whose} {when}.")
            found.append((counter, amount))
        return found

    async def spent(self, incoming: Incoming, tokens: int) -> None:
        """Count a finished turn's tokens against the daily budgets."""
        if tokens <= 0 or not self._counted:
            return
        _, budgets = self._counters(incoming, self._clock())
        if budgets:
            await self._store.add_usage({counter.scope: tokens for counter in budgets})

    def _counters(self, incoming: Incoming, now: float) -> tuple[list[_Limit], list[_Limit]]:
        policy, key = self._policy, incoming.key
        minute, day = int(now // MINUTE), int(now // DAY)
        minute_ends, day_ends = (minute + 1) * MINUTE, (day + 1) * DAY
        user = f"{key.platform}:{incoming.author.id}"
        turns, tokens = [], []
        if policy.user_turns_per_minute:
            turns.append(
                _Limit(
                    f"turns:user:{user}:{minute}",
                    policy.user_turns_per_minute,
                    minute_ends,
                    "You're sending messages faster than I can take them.",
                )
            )
        if policy.conversation_turns_per_minute:
            turns.append(
                _Limit(
                    f"turns:conversation:{key}:{minute}",
                    policy.conversation_turns_per_minute,
                    minute_ends,
                    "This conversation is very busy right now.",
                )
            )
        if policy.user_daily_tokens:
            tokens.append(
                _Limit(
                    f"tokens:user:{user}:{day}",
                    policy.user_daily_tokens,
                    day_ends,
                    "You've used your share of the model for today.",
                )
            )
        if policy.space_daily_tokens and incoming.space is not None:
            tokens.append(
                _Limit(
                    f"tokens:space:{key.platform}:{incoming.space}:{day}",
                    policy.space_daily_tokens,
                    day_ends,
                    "This team has used its share of the model for today.",
                )
            )
        return turns, tokens


def _told(incoming: Incoming, counter: _Limit) -> str:
    """The counter of refusals told to this user by this limit in this window (the counter's
    scope names its window), shared by replicas like the limits themselves."""
    return f"told:{incoming.key.platform}:{incoming.author.id}:{counter.scope}"


_YOURS = "You've reached your spending limit for the model"
_TEAMS = "This team has reached its spending limit for the model"


def day_and_month(now: float) -> tuple[float, float, float]:
    """The UTC day's start, the UTC month's start and the next month's start (Unix times)."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    return today.timestamp(), month.timestamp(), following.timestamp()


def _until(remaining: float) -> str:
    seconds = max(1, math.ceil(remaining))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} min"
    if seconds < 2 * DAY:
        hours, minutes = divmod(math.ceil(seconds / 60), 60)
        return f"{hours} h {minutes} min"
    return f"{math.ceil(seconds / DAY)} days"
