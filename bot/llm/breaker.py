"""A circuit breaker around any backend: during an outage, answer fast instead of timing out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing

from bot.llm.base import Backend, BackendError, FailureKind, GenerationOptions
from bot.types import ChatMessage, Delta

log = logging.getLogger(__name__)

OUTAGE_KINDS = frozenset({FailureKind.UNAVAILABLE, FailureKind.TIMEOUT, FailureKind.INTERRUPTED})


class CircuitBreaker:
    """Opens after `failures` outage errors in a row; after `cooldown` seconds lets one call try."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at < self._cooldown

    def check(self) -> None:
        """Raise at once while open; once the cooldown is over, let a trial call through."""
        if self.is_open:
            raise BackendError(FailureKind.UNAVAILABLE, "circuit breaker open")

    def record(self, error: BackendError | None) -> None:
        if error is None or error.kind not in OUTAGE_KINDS:
            if self._opened_at is not None:
                log.info("model backend recovered: circuit breaker closed")
            self._consecutive, self._opened_at = 0, None
            return
        self._consecutive += 1
        if self._consecutive >= self._threshold:
            if not self.is_open:
                log.warning("model backend failing (%s): circuit breaker open", error.kind)
            self._opened_at = self._clock()


class GuardedBackend:
    """A Backend that passes calls through a CircuitBreaker."""

    def __init__(self, inner: Backend, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        self.breaker.check()
        try:
            async with aclosing(self.inner.stream(messages, options)) as stream:
                async for delta in stream:
                    yield delta
        except BackendError as error:
            self.breaker.record(error)
            raise
        self.breaker.record(None)

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return self.inner.count_tokens(messages, model)

    def context_window(self, model: str) -> int:
        return self.inner.context_window(model)

    async def ping(self) -> None:
        await self.inner.ping()

    async def aclose(self) -> None:
        await self.inner.aclose()
