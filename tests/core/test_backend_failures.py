"""A failed model call: one short line for the user, nothing stored."""

from __future__ import annotations

import pytest

from bot.llm.base import USER_MESSAGES, FailureKind
from bot.wiring import open_runtime
from tests.peers.openai_peer import Fault
from tests.support.events import message
from tests.support.settings import changed
from tests.support.sinks import RecordingSink


async def turn_with_fault(settings, peer, fault: Fault) -> tuple[RecordingSink, int]:
    peer.faults.append(fault)
    async with open_runtime(settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("hello"), sink)
        stored = (await runtime.store.stats(message("").key)).messages
    return sink, stored


async def test_a_server_error_is_one_line_and_stores_nothing(peer_settings, openai_peer):
    sink, stored = await turn_with_fault(peer_settings, openai_peer, Fault(status=500))
    assert sink.failure == USER_MESSAGES[FailureKind.UNAVAILABLE]
    assert stored == 0


async def test_rate_limiting_is_explained(peer_settings, openai_peer):
    sink, stored = await turn_with_fault(peer_settings, openai_peer, Fault(status=429))
    assert sink.failure == USER_MESSAGES[FailureKind.RATE_LIMITED]
    assert stored == 0


async def test_a_bad_key_is_explained(peer_settings, openai_peer):
    sink, _ = await turn_with_fault(peer_settings, openai_peer, Fault(status=401))
    assert sink.failure == USER_MESSAGES[FailureKind.AUTH]


async def test_a_timeout_is_explained(peer_settings, openai_peer):
    settings = changed(peer_settings, request_timeout=0.3)
    sink, stored = await turn_with_fault(settings, openai_peer, Fault(hang=1.0))
    assert sink.failure == USER_MESSAGES[FailureKind.TIMEOUT]
    assert stored == 0


@pytest.mark.parametrize(
    "fault",
    [Fault(cut_after_chunks=3), Fault(error_after_chunks=3)],
    ids=["connection cut", "error event"],
)
async def test_a_stream_cut_midway_keeps_what_was_shown_and_stores_nothing(
    peer_settings, openai_peer, fault: Fault
):
    openai_peer.answer = lambda request: "partial answer that will be cut off"
    sink, stored = await turn_with_fault(peer_settings, openai_peer, fault)
    assert sink.final.startswith("partial answ\n")
    assert USER_MESSAGES[FailureKind.INTERRUPTED] in sink.final
    assert stored == 0


async def test_the_request_carries_the_history_and_the_generation_settings(
    peer_settings, openai_peer
):
    settings = peer_settings.model_copy(update={"max_tokens": 123, "temperature": 0.2})
    async with open_runtime(settings) as runtime:
        for text in ("first", "second"):
            await runtime.dialogue.handle(message(text), RecordingSink())
    sent = openai_peer.requests[-1]
    assert [(m["role"], m["content"]) for m in sent["messages"][1:]] == [
        ("user", "Ann: first"),
        ("assistant", "echo: Ann: first"),
        ("user", "Ann: second"),
    ]
    assert (sent["max_tokens"], sent["temperature"], sent["stream"]) == (123, 0.2, True)
    assert sent["stream_options"] == {"include_usage": True}


async def test_the_client_retries_a_transient_error(peer_settings, openai_peer):
    settings = changed(peer_settings, max_retries=2)
    openai_peer.faults.append(Fault(status=503, retry_after=0))
    async with open_runtime(settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("hello"), sink)
    assert sink.final == "echo: Ann: hello"
    assert len(openai_peer.requests) == 2


async def test_an_outage_opens_the_breaker_and_later_answers_fail_fast(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"breaker_failures": 2})
    openai_peer.faults.extend([Fault(status=500), Fault(status=502)])
    async with open_runtime(settings) as runtime:
        sinks = []
        for _ in range(4):
            sink = RecordingSink()
            await runtime.dialogue.handle(message("hello"), sink)
            sinks.append(sink)
    assert all(sink.failure == USER_MESSAGES[FailureKind.UNAVAILABLE] for sink in sinks)
    assert len(openai_peer.requests) == 2  # the last two never reached the server
