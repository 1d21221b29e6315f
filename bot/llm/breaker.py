"""A circuit breaker around any backend: during an outage, answer fast instead of timing out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from bot.llm.base import Backend, BackendError, FailureKind, GenerationOptions
from bot.types import ChatMessage, Delta

log = logging.getLogger(__name__)

OUTAGE_KINDS = frozenset({FailureKind.UNAVAILABLE, FailureKind.TIMEOUT, FailureKind.INTERRUPTED})
SHORT_RETRY_AFTER = 5.0
"""Seconds: a 429 asking for no longer a wait than this is pacing, not an outage."""


def is_outage(error: BackendError) -> bool:
    """Whether the error says the backend is down (a 429 does unless it names a short wait)."""
    if error.kind is FailureKind.RATE_LIMITED:
        return error.retry_after is None or error.retry_after > SHORT_RETRY_AFTER
    return error.kind in OUTAGE_KINDS


class CircuitBreaker:
    """Opens after `failures` outage errors in a row; after `cooldown` seconds it is half-open
    and lets exactly one trial call through, which closes it or opens it again."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at < self._cooldown

    def check(self) -> None:
        """Raise at once while open or while the one trial call is under way; else admit the
        call (after the cooldown, as the trial)."""
        if self.is_open or self._trial:
            raise BackendError(FailureKind.UNAVAILABLE, "circuit breaker open")
        self._trial = self._opened_at is not None

    def record(self, error: BackendError | None) -> None:
        """The outcome of an admitted call."""
        self._trial = False
        if error is None or not is_outage(error):
            if self._opened_at is not None:
                log.info("model backend recovered: circuit breaker closed")
            self._consecutive, self._opened_at = 0, None
            return
        self._consecutive += 1
        if self._consecutive >= self._threshold:
            if not self.is_open:
                log.warning("model backend failing (%s): circuit breaker open", error.kind)
            self._opened_at = self._clock()

    def abandon(self) -> None:
        """An admitted call ended without an outcome (stopped, cancelled): the next may try."""
        self._trial = False


class GuardedBackend:
    """A Backend that passes calls through a CircuitBreaker."""

    def __init__(self, inner: Backend, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker
        self.capabilities = inner.capabilities

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        self.breaker.check()
        answered, failure = False, None
        try:
            stream = self.inner.stream(messages, options)
            try:  # `aclosing`, without its object each call
                async for delta in stream:
                    answered = True
                    yield delta
            finally:
                await stream.aclose()
            answered = True
        except BackendError as error:
            failure = error
            raise
        finally:
            # A stopped or cancelled call that never got an answer says nothing about the
            # backend, but must not keep the trial slot taken for good.
            if failure is not None or answered:
                self.breaker.record(failure)
            else:
                self.breaker.abandon()

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return self.inner.count_tokens(messages, model)

    def context_window(self, model: str) -> int:
        return self.inner.context_window(model)

    async def ping(self) -> None:
        await self.inner.ping()

    async def aclose(self) -> None:
        await self.inner.aclose()
