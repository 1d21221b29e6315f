"""Graceful shutdown: turns in flight finish within the grace period; nothing is half-stored."""

from __future__ import annotations

import asyncio

from bot.dialogue import RESTARTED
from bot.replies import INTERRUPTED_MARK
from bot.types import Role
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


async def test_a_turn_past_the_grace_period_is_marked_interrupted_and_its_question_kept(
    peer_settings, openai_peer
):
    openai_peer.answer = lambda request: "word " * 500
    openai_peer.chunk_delay = 0.02
    sink = RecordingSink()
    queued = RecordingSink()
    async with open_runtime(peer_settings) as runtime:
        turn = runtime.dialogue.submit(message("endless"), sink)
        behind = runtime.dialogue.submit(message("behind it", event_id="e-behind"), queued)
        await sink.updated.wait()
        await runtime.dialogue.shutdown(0.2)
        assert turn.done() and not turn.cancelled()
        assert behind.cancelled()
        stored = await runtime.store.load(message("").key, 100_000)
    assert sink.final is not None and sink.final.startswith("word word")
    assert sink.final.endswith(INTERRUPTED_MARK)
    assert [m.role for m in stored] == [Role.USER, Role.ASSISTANT]
    assert stored[0].content == "endless"
    assert stored[1].content.startswith("word") and INTERRUPTED_MARK not in stored[1].content
    assert queued.failure == RESTARTED, "a turn still waiting is told, not left in silence"


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
