"""Graceful shutdown: turns in flight finish within the grace period; nothing is half-stored."""

from __future__ import annotations

import asyncio

from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.sinks import RecordingSink


async def test_a_turn_in_flight_finishes_and_is_stored_then_new_events_are_refused(
    peer_settings, openai_peer
):
    openai_peer.chunk_delay = 0.02
    settings = peer_settings.model_copy(update={"shutdown_grace_seconds": 10})
    in_flight = RecordingSink()
    late = RecordingSink()
    async with open_runtime(settings) as runtime:
        runtime.dialogue.submit(message("a slow one"), in_flight)
        await in_flight.updated.wait()
        await runtime.dialogue.shutdown(settings.shutdown_grace_seconds)
        await runtime.dialogue.handle(message("too late"), late)
        stored = await runtime.store.load(message("").key, 10_000)
    assert in_flight.final == "echo: Ann: a slow one"
    assert [m.content for m in stored] == ["a slow one", "echo: Ann: a slow one"]
    assert late.shown is None and late.started == 0


async def test_a_turn_past_the_grace_period_is_cancelled_and_not_stored(peer_settings, openai_peer):
    openai_peer.answer = lambda request: "word " * 500
    openai_peer.chunk_delay = 0.02
    sink = RecordingSink()
    async with open_runtime(peer_settings) as runtime:
        turn = runtime.dialogue.submit(message("endless"), sink)
        await sink.updated.wait()
        await runtime.dialogue.shutdown(0.2)
        assert turn.cancelled()
        stats = await runtime.store.stats(message("").key)
    assert stats.messages == 0
    assert sink.final is None


async def test_a_cancelled_turn_leaves_the_store_usable(peer_settings, openai_peer):
    openai_peer.chunk_delay = 0.05
    async with open_runtime(peer_settings) as runtime:
        turn = runtime.dialogue.submit(message("interrupted"), RecordingSink())
        await asyncio.sleep(0.1)
        turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)
        openai_peer.chunk_delay = 0.0
        after = RecordingSink()
        await runtime.dialogue.handle(message("next"), after)
        stored = await runtime.store.load(message("").key, 10_000)
    assert after.final == "echo: Ann: next"
    assert [m.content for m in stored] == ["next", "echo: Ann: next"]
