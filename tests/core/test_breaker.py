"""The circuit breaker's states (closed, open, half-open with one trial) and what counts as an
outage, alone and in front of the real openai client and the OpenAI peer."""

from __future__ import annotations

import asyncio

import pytest

from bot.llm.base import USER_MESSAGES, BackendError, FailureKind
from bot.llm.breaker import CircuitBreaker
from bot.wiring import open_runtime
from tests.peers.openai_peer import Fault
from tests.support.events import message
from tests.support.sinks import RecordingSink

UNAVAILABLE = USER_MESSAGES[FailureKind.UNAVAILABLE]


def test_it_opens_after_consecutive_outages_and_retries_after_the_cooldown():
    now = [0.0]
    breaker = CircuitBreaker(failures=3, cooldown=30, clock=lambda: now[0])
    outage = BackendError(FailureKind.UNAVAILABLE)
    for _ in range(2):
        breaker.check()
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
    breaker.check()
    breaker.record(None)
    assert not breaker.is_open
    breaker.check()
    breaker.check()  # closed: calls run side by side again


def test_half_open_admits_one_trial_until_it_ends():
    now = [0.0]
    breaker = CircuitBreaker(failures=1, cooldown=30, clock=lambda: now[0])
    breaker.record(BackendError(FailureKind.TIMEOUT))
    now[0] = 31.0
    breaker.check()
    with pytest.raises(BackendError):
        breaker.check()  # the trial is still under way
    breaker.abandon()  # it was stopped before any answer: the next call is the trial
    breaker.check()
    with pytest.raises(BackendError):
        breaker.check()


def test_errors_that_are_not_outages_do_not_count():
    breaker = CircuitBreaker(failures=1, cooldown=30)
    breaker.record(BackendError(FailureKind.CONTEXT_TOO_LONG))
    breaker.record(BackendError(FailureKind.AUTH))
    breaker.record(BackendError(FailureKind.RATE_LIMITED, retry_after=2))
    breaker.check()


async def _turns(runtime, count: int) -> list[RecordingSink]:
    sinks = [RecordingSink() for _ in range(count)]
    await asyncio.gather(
        *(
            runtime.dialogue.handle(message("hi", conversation=f"c{i}", user=f"u{i}"), sink)
            for i, sink in enumerate(sinks)
        )
    )
    return sinks


async def test_after_the_cooldown_exactly_one_of_eight_concurrent_turns_reaches_the_model(
    peer_settings, openai_peer
):
    settings = peer_settings.model_copy(
        update={"breaker_failures": 2, "breaker_cooldown_seconds": 0.3}
    )
    openai_peer.faults.extend([Fault(status=500), Fault(status=500)])
    async with open_runtime(settings) as runtime:
        await _turns(runtime, 2)
        assert len(openai_peer.requests) == 2  # open now
        await asyncio.sleep(0.4)
        openai_peer.faults.append(Fault(hang=0.5))  # a slow trial that succeeds
        sinks = await _turns(runtime, 8)
        assert len(openai_peer.requests) == 3
        assert sum(sink.final == "echo: Ann: hi" for sink in sinks) == 1
        assert sum(sink.failure == UNAVAILABLE for sink in sinks) == 7
        closed = await _turns(runtime, 3)  # the trial succeeded: closed again
    assert all(sink.final for sink in closed)
    assert len(openai_peer.requests) == 6


async def test_a_failed_trial_opens_the_breaker_for_another_cooldown(peer_settings, openai_peer):
    settings = peer_settings.model_copy(
        update={"breaker_failures": 1, "breaker_cooldown_seconds": 0.3}
    )
    openai_peer.faults.append(Fault(status=500))
    async with open_runtime(settings) as runtime:
        await _turns(runtime, 1)
        await asyncio.sleep(0.4)
        openai_peer.faults.append(Fault(status=503, hang=0.3))
        sinks = await _turns(runtime, 8)
        again = await _turns(runtime, 1)
    assert all(sink.failure == UNAVAILABLE for sink in [*sinks, *again])
    assert len(openai_peer.requests) == 2


@pytest.mark.parametrize(("retry_after", "opens"), [(1.0, False), (None, True), (120.0, True)])
async def test_a_429_opens_the_breaker_only_without_a_short_retry_after(
    peer_settings, openai_peer, retry_after, opens
):
    settings = peer_settings.model_copy(update={"breaker_failures": 2})
    openai_peer.faults.extend([Fault(status=429, retry_after=retry_after)] * 2)
    async with open_runtime(settings) as runtime:
        limited = [RecordingSink() for _ in range(3)]
        for sink in limited:
            await runtime.dialogue.handle(message("hi"), sink)
    assert [sink.failure for sink in limited[:2]] == [USER_MESSAGES[FailureKind.RATE_LIMITED]] * 2
    if opens:
        assert limited[2].failure == UNAVAILABLE
        assert len(openai_peer.requests) == 2
    else:
        assert limited[2].final == "echo: Ann: hi"
        assert len(openai_peer.requests) == 3
