"""Three replica processes share PostgreSQL and all get the same duplicated event stream:
every event is answered exactly once, and every conversation's turns happen in order."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

from bot.store.postgres import PostgresStore
from bot.types import Role
from tests.peers.openai_peer import OpenAIPeer
from tests.scale.harness import Replica, delivery, read_answers, script, write_events
from tests.scale.replica import conversation_key

REPLICAS = 3
CONVERSATIONS = 50
TURNS = 4


def user_text(content: str) -> str:
    """The user's words in a model-bound message, without the author's name prefixed to them."""
    return content.split(": ", 1)[-1]


async def test_three_replicas_answer_each_event_once_in_order(
    tmp_path: Path, postgres_url: str, slow_peer: OpenAIPeer
) -> None:
    conversations = script(CONVERSATIONS, TURNS)
    replicas = []
    for index in range(REPLICAS):
        events = write_events(
            tmp_path / f"events-{index}.jsonl", delivery(conversations, random.Random(index))
        )
        replicas.append(
            Replica.start(
                f"r{index}",
                database_url=postgres_url,
                openai_base_url=slow_peer.base_url,
                events=events,
                answers=tmp_path / f"answers-{index}.jsonl",
            )
        )
    # All at once: they also race each other through the schema migration.
    started = await asyncio.gather(*replicas)
    errors = await asyncio.gather(*(replica.finish() for replica in started))

    assert all("Traceback" not in text and "ERROR" not in text for text in errors), errors
    answers = [answer for replica in started for answer in read_answers(replica.answers)]
    every_event = {event["event_id"] for events in conversations.values() for event in events}
    assert Counter(answer["event_id"] for answer in answers) == Counter(every_event)
    assert all(answer.get("final", "").startswith("echo: ") for answer in answers), answers

    # The model saw each turn with exactly the earlier turns of its conversation, in order.
    assert len(slow_peer.requests) == len(every_event)
    seen = {}
    for request in slow_peer.requests:
        asked = [user_text(m["content"]) for m in request["messages"] if m["role"] == "user"]
        seen[asked[-1]] = asked
    for events in conversations.values():
        texts = [event["text"] for event in events]
        for turn, text in enumerate(texts):
            assert seen[text] == texts[: turn + 1]

    store = PostgresStore(postgres_url, min_pool=1, max_pool=2)
    await store.open()
    try:
        for name, events in conversations.items():
            stored = await store.load(conversation_key(name), 10**9)
            assert [message.role for message in stored] == [Role.USER, Role.ASSISTANT] * TURNS
            assert [m.content for m in stored[::2]] == [event["text"] for event in events]
            answers = zip(stored[1::2], events, strict=True)
            assert all(m.content.endswith(event["text"]) for m, event in answers)
    finally:
        await store.close()


async def test_several_people_in_one_conversation_across_replicas(
    tmp_path: Path, postgres_url: str, slow_peer: OpenAIPeer
) -> None:
    people, turns = 5, 3
    conversations = {
        name: [
            {
                "conversation": name,
                "event_id": f"{name}-p{person}-t{turn}",
                "text": f"{name} p{person} turn {turn}",
                "user": f"person{person}",
            }
            for turn in range(turns)
            for person in range(people)
        ]
        for name in ("shared0", "shared1")
    }
    started = await asyncio.gather(
        *(
            Replica.start(
                f"r{index}",
                database_url=postgres_url,
                openai_base_url=slow_peer.base_url,
                events=write_events(
                    tmp_path / f"events-{index}.jsonl",
                    delivery(conversations, random.Random(index)),
                ),
                answers=tmp_path / f"answers-{index}.jsonl",
            )
            for index in range(2)
        )
    )
    errors = await asyncio.gather(*(replica.finish() for replica in started))

    assert all("Traceback" not in text and "ERROR" not in text for text in errors), errors
    answers = [answer for replica in started for answer in read_answers(replica.answers)]
    every_event = {event["event_id"] for events in conversations.values() for event in events}
    assert Counter(answer["event_id"] for answer in answers) == Counter(every_event)

    # Each person's turn saw their own earlier turns there, in order (others' as they completed).
    assert len(slow_peer.requests) == len(every_event)
    for request in slow_peer.requests:
        asked = [user_text(m["content"]) for m in request["messages"] if m["role"] == "user"]
        name, person, _, turn = asked[-1].split()
        own = [text for text in asked if text.startswith(f"{name} {person} ")]
        assert own == [f"{name} {person} turn {t}" for t in range(int(turn) + 1)]

    store = PostgresStore(postgres_url, min_pool=1, max_pool=2)
    await store.open()
    try:
        for name, events in conversations.items():
            stored = await store.load(conversation_key(name), 10**9)
            # Every turn stored whole: each question directly followed by its own answer.
            assert [message.role for message in stored] == [Role.USER, Role.ASSISTANT] * len(events)
            pairs = zip(stored[::2], stored[1::2], strict=True)
            assert all(answer.content.endswith(question.content) for question, answer in pairs)
            assert sorted(m.content for m in stored[::2]) == sorted(e["text"] for e in events)
    finally:
        await store.close()
