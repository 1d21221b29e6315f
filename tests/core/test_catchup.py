"""Catching up in the core: `since`, translation arguments, citations turned into links (also
across streamed chunks), the budgets that bound a summary's reading, map-reduce, and a summary
limited, streamed and counted like a turn, against the real openai client."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.catchup import (
    COMBINE_RULES,
    NOTHING_SAID,
    CatchUpRefused,
    cite,
    link_citations,
    parse_since,
    parse_translation,
    translation_of,
)
from bot.config import Settings
from bot.store.base import UsageQuery
from bot.types import Delta, HistoryMessage
from bot.wiring import open_runtime
from tests.peers.openai_peer import OpenAIPeer
from tests.support.events import message
from tests.support.sinks import RecordingSink

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "back"),
    [("2h", 7200), ("3d", 3 * 86_400), ("1w", 7 * 86_400), ("30m", 1800), (" 2H ", 7200)],
)
def test_since_counts_back_from_now(text: str, back: float) -> None:
    assert parse_since(text, NOW, "24h") == NOW - back


def test_since_yesterday_all_and_the_default() -> None:
    assert parse_since("yesterday", NOW, "24h") == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert parse_since("all", NOW, "24h") == 0
    assert parse_since("", NOW, "3d") == NOW - 3 * 86_400


@pytest.mark.parametrize("text", ["soon", "2 weeks ago", "-3d", "99999h", "2026-01-01"])
def test_a_bad_since_is_one_line_naming_it(text: str) -> None:
    with pytest.raises(CatchUpRefused) as refused:
        parse_since(text, NOW, "24h")
    line = str(refused.value)
    assert line.startswith(f"`{text}` is not a time") and "\n" not in line


def test_translation_goes_into_the_named_language_else_the_askers() -> None:
    assert parse_translation("to French good night", "de-DE") == ("French", "good night")
    assert parse_translation("good night", "de-DE") == (
        "the language of the locale de-DE",
        "good night",
    )
    assert parse_translation("good night", None) == ("English", "good night")
    # A whole message is handed over with its language explicit: "to be" is no language.
    assert parse_translation(translation_of("to be or not", None), "de") == (
        "English",
        "to be or not",
    )
    for empty in ("", "to French", "  "):
        with pytest.raises(CatchUpRefused, match="Usage"):
            parse_translation(empty, None)


LINKS = {1: "https://chat.example/m/1", 2: "https://chat.example/m/2", 7: "https://x.example/7"}


def test_citations_become_links_and_unknown_numbers_stay_text() -> None:
    text = "Shipped [1]; moved [2, 7]; see [9] and [1, 9]; a list [x]."
    assert link_citations(text, LINKS) == (
        "Shipped [1](https://chat.example/m/1); moved [2](https://chat.example/m/2) "
        "[7](https://x.example/7); see [9] and [1, 9]; a list [x]."
    )


async def test_citations_split_across_stream_chunks_are_linked_whole() -> None:
    async def chunks() -> AsyncGenerator[Delta, None]:
        for piece in ("Decided [", "1", "] and [2,", " 7] then", " [1"):
            yield Delta(piece)
        yield Delta("]", finish_reason="stop")

    shown = "".join([delta.text async for delta in cite(chunks(), LINKS)])
    assert shown == (
        "Decided [1](https://chat.example/m/1) and [2](https://chat.example/m/2) "
        "[7](https://x.example/7) then [1](https://chat.example/m/1)"
    )


def said(count: int, *, every: float = 60.0, start: float | None = None) -> list[HistoryMessage]:
    """`count` messages, oldest first, one a minute up to now."""
    start = start if start is not None else time.time() - count * every
    return [
        HistoryMessage(str(i), "Ann", f"message {i}", start + i * every, f"https://m/{i}")
        for i in range(count)
    ]


class Place:
    """A door's history reader over `messages`, newest first, counting what it hands out."""

    def __init__(self, messages: list[HistoryMessage]) -> None:
        self.messages = messages
        self.read = 0
        self.asked: list[tuple[float, int]] = []

    async def __call__(self, since: float, limit: int) -> AsyncIterator[HistoryMessage]:
        self.asked.append((since, limit))
        for item in reversed(self.messages):
            self.read += 1
            yield item


def summarize(place: Place, args: str = "", **kwargs: Any) -> Any:
    return replace(message("/summarize " + args, **kwargs), history=place)


def answering(request: dict[str, Any]) -> str:
    user = request["messages"][-1]["content"]
    if request["messages"][0]["content"] == COMBINE_RULES:
        return "Combined " + " ".join(re.findall(r"\[\d+\]", user))
    numbers = re.findall(r"^\[(\d+)\]", user, re.MULTILINE)
    return f"About [{numbers[0]}] to [{numbers[-1]}]."


def settings_for(peer_settings: Settings, **changes: Any) -> Settings:
    return peer_settings.model_copy(update={"context_window": 2048, **changes})


async def test_reading_stops_at_since_and_at_the_message_budget(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = answering
    settings = settings_for(peer_settings, summary_max_messages=30)
    place = Place(said(100))
    async with open_runtime(settings) as runtime:
        by_budget = RecordingSink()
        await runtime.dialogue.handle(summarize(place, "all"), by_budget)
        assert place.read == 30 and place.asked == [(0.0, 30)]
        by_time = RecordingSink()
        place.read = 0
        await runtime.dialogue.handle(summarize(place, "15m"), by_time)  # about 15 messages
    assert place.read <= 17, "the first message older than since ends the reading"
    assert by_budget.final is not None and "[30](https://m/99)" in by_budget.final
    assert by_budget.final.startswith("About [1](https://m/70)")
    assert by_time.final is not None and by_time.final.startswith("About [1](https://m/8")


async def test_reading_stops_at_the_token_budget(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = answering
    place = Place(said(2000))
    async with open_runtime(
        settings_for(peer_settings, summary_max_messages=5000, summary_max_tokens=1000)
    ) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(summarize(place, "all"), sink)
    assert 20 < place.read < 200
    assert sink.final is not None and sink.final.endswith("(https://m/1999).")


async def test_a_long_history_is_summarized_in_parts_then_combined_and_counted_once(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = answering
    place = Place(said(400))
    async with open_runtime(settings_for(peer_settings)) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(summarize(place, "all"), sink)
        (row,) = await runtime.store.usage_report(UsageQuery(0, "user"))
    systems = [request["messages"][0]["content"] for request in openai_peer.requests]
    assert len(systems) >= 3 and systems[-1] == COMBINE_RULES
    assert all("This is part" in system for system in systems[:-1])
    assert place.read == 400
    assert row.turns == 1, "one summary, one usage record"
    assert row.input_tokens > 0 and row.output_tokens > 0
    assert sink.final is not None and "[1](https://m/0)" in sink.final
    assert "[400](https://m/399)" in sink.final


async def test_nothing_said_is_one_line_and_asks_no_model(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    old = Place(said(3, start=time.time() - 10 * 86_400))
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(summarize(old), sink)
    assert sink.failure == NOTHING_SAID
    assert not openai_peer.requests


async def test_a_summary_is_limited_like_a_turn(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = answering
    place = Place(said(3))
    async with open_runtime(settings_for(peer_settings, user_turns_per_minute=1)) as runtime:
        first, second = RecordingSink(), RecordingSink()
        await runtime.dialogue.handle(summarize(place), first)
        await runtime.dialogue.handle(summarize(place), second)
    assert first.final is not None
    assert second.failure is not None and second.final is None
    assert len(openai_peer.requests) == 1


async def test_a_summary_can_be_stopped_like_an_answer(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = lambda request: "word " * 400
    openai_peer.chunk_delay = 0.01
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        incoming = summarize(Place(said(3)))
        task = asyncio.create_task(runtime.dialogue.handle(incoming, sink))
        await sink.updated.wait()
        assert runtime.dialogue.stop(incoming.key)
        await task
    assert sink.final is not None and sink.final.endswith("_(stopped)_")


async def test_a_text_to_translate_is_moderated_like_a_question(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    settings = peer_settings.model_copy(update={"moderation": "input"})
    async with open_runtime(settings) as runtime:
        refused, passed = RecordingSink(), RecordingSink()
        await runtime.dialogue.handle(message("/translate to French FLAGME now"), refused)
        await runtime.dialogue.handle(message("/translate to French good night"), passed)
    assert refused.failure == "I can't answer that: moderation flagged the message (violence)."
    assert openai_peer.moderated == ["FLAGME now", "good night"]
    (request,) = openai_peer.requests
    assert request["messages"][-1]["content"] == "good night"
    assert passed.final == "echo: good night"
