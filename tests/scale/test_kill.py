"""A replica killed with SIGKILL while many turns stream: the SQLite file stays sound, no
conversation holds half a turn, and a restarted replica carries on."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from contextlib import closing
from pathlib import Path

from bot.store.base import ExportFilter
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, Role
from tests.peers.openai_peer import Fault, OpenAIPeer
from tests.scale.harness import Replica, delivery, read_answers, script, sqlite_url, write_events

CONVERSATIONS = 50
TURNS = 6
KILL_AFTER_ANSWERS = 75
"""Half way through the second turn of most conversations."""
STUCK = Fault(hang=60)
"""What every model call after the first KILL_AFTER_ANSWERS meets: turns surely mid-way."""


async def answers_reach(path: Path, count: int, peer: OpenAIPeer) -> None:
    """Until `count` answers are written and later turns are waiting on the model."""
    async with asyncio.timeout(60):
        while True:
            if len(read_answers(path)) >= count and len(peer.requests) > count:
                return
            await asyncio.sleep(0.01)


def integrity(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


async def stored_conversations(path: Path) -> dict[str, list[ChatMessage]]:
    store = SqliteStore(path)
    await store.open()
    try:
        return {key.channel: messages async for key, messages in store.export(ExportFilter())}
    finally:
        await store.close()


def assert_whole_turns(conversation: str, messages: list[ChatMessage]) -> None:
    roles = [message.role for message in messages]
    assert roles == [Role.USER, Role.ASSISTANT] * (len(messages) // 2), (conversation, roles)
    for asked, answered in zip(messages[::2], messages[1::2], strict=True):
        assert answered.author_id == asked.author_id, (conversation, asked, answered)


async def test_a_killed_replica_leaves_no_half_turn(tmp_path: Path, openai_peer: OpenAIPeer):
    openai_peer.chunk_delay = 0.01
    openai_peer.faults.extend([Fault()] * KILL_AFTER_ANSWERS + [STUCK] * CONVERSATIONS * TURNS)
    database = tmp_path / "parley.db"
    conversations = script(CONVERSATIONS, TURNS)
    events = write_events(tmp_path / "events.jsonl", delivery(conversations, random.Random(1)))
    answers = tmp_path / "answers.jsonl"
    replica = await Replica.start(
        "doomed",
        database_url=sqlite_url(database),
        openai_base_url=openai_peer.base_url,
        events=events,
        answers=answers,
    )
    await answers_reach(answers, KILL_AFTER_ANSWERS, openai_peer)
    await replica.kill()
    openai_peer.faults.clear()
    answered = {answer["event_id"] for answer in read_answers(answers)}
    assert len(answered) == KILL_AFTER_ANSWERS
    assert len(openai_peer.requests) > len(answered), "turns were under way at the kill"

    assert integrity(database) == "ok"
    stored = await stored_conversations(database)
    text_of = {
        event["event_id"]: event["text"] for turns in conversations.values() for event in turns
    }
    answered_texts = {text_of[event_id] for event_id in answered}
    for name, messages in stored.items():
        assert_whole_turns(name, messages)
        asked = [message.content for message in messages[::2]]
        script_texts = [event["text"] for event in conversations[name]]
        assert asked == script_texts[: len(asked)], "turns stored in order, none skipped"
        assert set(asked) <= answered_texts, "only turns whose answer was shown are stored"

    # A restarted replica takes new turns in the same conversations, on the same file.
    follow_ups = [
        {**turns[-1], "event_id": f"{name}-after", "text": f"{name} after the restart"}
        for name, turns in conversations.items()
    ][:10]
    restarted = await Replica.start(
        "restarted",
        database_url=sqlite_url(database),
        openai_base_url=openai_peer.base_url,
        events=write_events(tmp_path / "after.jsonl", follow_ups),
        answers=tmp_path / "after-answers.jsonl",
    )
    stderr = await restarted.finish()
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
    after = read_answers(tmp_path / "after-answers.jsonl")
    assert sorted(answer["event_id"] for answer in after) == sorted(
        event["event_id"] for event in follow_ups
    )
    assert all(answer.get("final", "").startswith("echo: ") for answer in after), after
    assert integrity(database) == "ok"
    for name, messages in (await stored_conversations(database)).items():
        assert_whole_turns(name, messages)
        if name in {event["conversation"] for event in follow_ups}:
            assert messages[-2].content == f"{name} after the restart"
