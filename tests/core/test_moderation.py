"""Moderation through the openai client against the peer's /v1/moderations."""

from __future__ import annotations

from dataclasses import replace

from bot.moderation import UNCHECKED
from bot.store.base import UsageQuery
from bot.types import Kind
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.metrics import sample
from tests.support.settings import changed
from tests.support.sinks import RecordingSink


async def ask(runtime, text: str, **kwargs) -> RecordingSink:
    sink = RecordingSink()
    await runtime.dialogue.handle(message(text, **kwargs), sink)
    return sink


def moderated(runtime, direction: str) -> float:
    page = runtime.dialogue.metrics.render().decode()
    return sample(page, "parley_moderated_turns_total", platform="test", direction=direction)


async def test_flagged_input_is_refused_before_the_model_sees_it(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"moderation": "input"})
    async with open_runtime(settings) as runtime:
        refused = await ask(runtime, "please FLAGME now")
        passed = await ask(runtime, "a kind question")
        stored = await runtime.store.load(message("").key, 10_000)
        count = moderated(runtime, "input")
        per_place = await runtime.store.moderation_counts(0)
        admin = RecordingSink()
        command = replace(message("", is_admin=True), kind=Kind.COMMAND, command="usage")
        await runtime.dialogue.handle(command, admin)
    assert per_place == {("test:space", "input"): 1}
    assert "Moderation this month: 1 question refused, 0 answers withheld." in admin.final
    assert refused.failure == "I can't answer that: moderation flagged the message (violence)."
    assert passed.final and "a kind question" in passed.final
    assert len(openai_peer.requests) == 1, "the flagged question never reached the model"
    assert openai_peer.moderated == ["please FLAGME now", "a kind question"]
    assert all("FLAGME" not in m.content for m in stored) and count == 1


async def test_flagged_output_is_withheld_and_never_shown(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"moderation": "output"})
    async with open_runtime(settings) as runtime:
        withheld = await ask(runtime, "repeat FLAGME")
        fine = await ask(runtime, "repeat hello")
        stored = await runtime.store.load(message("").key, 10_000)
        (usage,) = await runtime.store.usage_report(UsageQuery(0))
        count = moderated(runtime, "output")
        per_place = await runtime.store.moderation_counts(0)
    assert per_place == {("test:space", "output"): 1}
    assert withheld.final.startswith("I wrote an answer, but moderation flagged it (violence)")
    assert not any("FLAGME" in text for text in withheld.updates), "never glimpsed"
    assert fine.final and "repeat hello" in fine.final
    assert next(m.content for m in stored if m.role == "assistant") == withheld.final
    assert usage.turns == 2 and count == 1  # the withheld answer was still paid for
    assert len(openai_peer.moderated) == 2 and "FLAGME" in openai_peer.moderated[0]


async def test_an_unreachable_moderation_endpoint_refuses_rather_than_lets_through(
    peer_settings, openai_peer
):
    settings = changed(peer_settings, moderation="both", openai_base_url="http://127.0.0.1:9/v1")
    async with open_runtime(settings) as runtime:
        sink = await ask(runtime, "hello")
    assert sink.failure == UNCHECKED
