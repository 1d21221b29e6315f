"""The circuit breaker's states: closed, open, trial after the cooldown."""

from __future__ import annotations

import pytest

from bot.llm.base import BackendError, FailureKind
from bot.llm.breaker import CircuitBreaker


def test_it_opens_after_consecutive_outages_and_retries_after_the_cooldown():
    now = [0.0]
    breaker = CircuitBreaker(failures=3, cooldown=30, clock=lambda: now[0])
    outage = BackendError(FailureKind.UNAVAILABLE)
    for _ in range(2):
        breaker.record(outage)
    breaker.check()  # two failures: still closed
    breaker.record(outage)
    with pytest.raises(BackendError):
        breaker.check()
    now[0] = 31.0
    breaker.check()  # the cooldown is over: one trial call may go
    breaker.record(outage)
    with pytest.raises(BackendError):
        breaker.check()  # the trial failed: open again
    now[0] = 62.0
    breaker.record(None)
    assert not breaker.is_open


def test_errors_that_are_not_outages_do_not_count():
    breaker = CircuitBreaker(failures=1, cooldown=30)
    breaker.record(BackendError(FailureKind.CONTEXT_TOO_LONG))
    breaker.record(BackendError(FailureKind.AUTH))
    breaker.check()
