"""The model backend fails 30% of calls (500, 429, timeouts, streams cut mid-way): every turn is
answered or told clearly, and the store holds whole turns only, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.llm.base import USER_MESSAGES, FailureKind
from bot.types import Role
from bot.wiring import open_runtime
from tests.peers.openai_peer import Fault, OpenAIPeer
from tests.scale.harness import Event, script, sqlite_url
from tests.scale.replica import conversation_key, incoming
from tests.support.settings import make_settings
from tests.support.sinks import RecordingSink

REQUEST_TIMEOUT = 0.5
FAULTS = {
    "500": Fault(status=500),
    "429": Fault(status=429, retry_after=0),
    "timeout": Fault(hang=REQUEST_TIMEOUT * 2),
    "cut": Fault(cut_after_chunks=2),
}
EXPECTED_FAILURE = {
    "500": USER_MESSAGES[FailureKind.UNAVAILABLE],
    "429": USER_MESSAGES[FailureKind.RATE_LIMITED],
    "timeout": USER_MESSAGES[FailureKind.TIMEOUT],
}
INTERRUPTED_NOTE = f"\n\n_({USER_MESSAGES[FailureKind.INTERRUPTED]})_"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "parley.db")
    return request.getfixturevalue("postgres_url")


def settings_for(
    database_url: str, peer: OpenAIPeer, tmp_path: Path, **changes: object
) -> Settings:
    defaults: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "openai_base_url": peer.base_url,
        "model": "peer-model",
        "request_timeout": REQUEST_TIMEOUT,
        "user_turns_per_minute": None,
        "conversation_turns_per_minute": None,
    }
    return make_settings(**{**defaults, **changes})


def expected_answer(event: Event) -> str:
    return f"echo: {event['user'].title()}: {event['text']}"


def bot_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name.split(".")[0] in ("bot", "asyncio")
    ]


async def test_every_turn_is_answered_or_told_and_only_whole_turns_are_stored(
    tmp_path: Path, database_url: str, slow_peer: OpenAIPeer, caplog: pytest.LogCaptureFixture
) -> None:
    conversations = script(40, 3)
    rng = random.Random(30)
    planned = [
        rng.choice(list(FAULTS)) if rng.random() < 0.3 else "ok"
        for _ in range(sum(map(len, conversations.values())))
    ]
    slow_peer.faults.extend(FAULTS.get(name, Fault()) for name in planned)
    # No retries and a breaker that never opens: every fault reaches the user unmasked.
    settings = settings_for(database_url, slow_peer, tmp_path, max_retries=0, breaker_failures=1000)
    sinks: dict[str, RecordingSink] = {}
    async with open_runtime(settings) as runtime:
        tasks = []
        for turn in range(3):
            for events in conversations.values():
                sink = sinks[events[turn]["text"]] = RecordingSink(min_edit_interval=0.02)
                tasks.append(runtime.dialogue.submit(incoming(events[turn]), sink))
        await asyncio.gather(*tasks)

        # Requests and faults pair up in arrival order: the fault each turn met.
        met = {
            request["messages"][-1]["content"].split(": ", 1)[1]: fault
            for request, fault in zip(slow_peer.requests, planned, strict=True)
        }
        assert set(met) == set(sinks), "every turn reached the model exactly once"
        for events in conversations.values():
            whole_turns = []
            for event in events:
                sink, fault = sinks[event["text"]], met[event["text"]]
                answer = expected_answer(event)
                if fault == "ok":
                    assert (sink.final, sink.failure) == (answer, None)
                    whole_turns.append(event)
                elif fault == "cut":
                    assert sink.failure is None and sink.final is not None
                    shown = sink.final.removesuffix(INTERRUPTED_NOTE)
                    assert shown != sink.final and shown and answer.startswith(shown)
                else:
                    assert (sink.final, sink.failure) == (None, EXPECTED_FAILURE[fault])
            stored = await runtime.store.load(conversation_key(events[0]["conversation"]), 10**9)
            assert [(m.role, m.content) for m in stored] == [
                pair
                for event in whole_turns
                for pair in ((Role.USER, event["text"]), (Role.ASSISTANT, expected_answer(event)))
            ]
    assert sorted(set(planned)) == ["429", "500", "cut", "ok", "timeout"]
    assert not bot_errors(caplog)


async def test_with_the_breaker_on_an_outage_is_answered_fast(
    tmp_path: Path, openai_peer: OpenAIPeer, caplog: pytest.LogCaptureFixture
) -> None:
    request_timeout = 1.0
    openai_peer.faults.extend([Fault(hang=request_timeout * 1.5)] * 20)
    settings = settings_for(
        sqlite_url(tmp_path / "parley.db"),
        openai_peer,
        tmp_path,
        request_timeout=request_timeout,
        max_retries=0,
        breaker_failures=3,
        breaker_cooldown_seconds=60,
    )
    conversations = script(13, 1)
    events = [turns[0] for turns in conversations.values()]
    async with open_runtime(settings) as runtime:
        first = [RecordingSink() for _ in range(3)]
        await asyncio.gather(
            *(runtime.dialogue.handle(incoming(e), s) for e, s in zip(events, first, strict=False))
        )
        assert all(sink.failure == USER_MESSAGES[FailureKind.TIMEOUT] for sink in first)

        later = [RecordingSink() for _ in events[3:]]
        started = time.monotonic()
        await asyncio.gather(
            *(
                runtime.dialogue.handle(incoming(e), s)
                for e, s in zip(events[3:], later, strict=False)
            )
        )
        elapsed = time.monotonic() - started
    assert all(sink.failure == USER_MESSAGES[FailureKind.UNAVAILABLE] for sink in later)
    assert len(openai_peer.requests) == 3, "no call after the breaker opened reached the model"
    assert elapsed < request_timeout, "ten turns failed faster than one model call times out"
    assert not bot_errors(caplog)
