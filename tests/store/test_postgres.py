"""What only the PostgreSQL store promises: turns stay ordered across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.store.base import TurnRecord
from bot.store.errors import StoreError
from bot.store.postgres import PostgresStore
from bot.types import ChatMessage, ConversationKey, Role
from tests.support.postgres import postgres_schema

KEY = ConversationKey("slack", "T1", "C1", "1700000000.000100")


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores with their own pools on one database: two replicas."""
    async with postgres_schema() as dsn:
        first, second = PostgresStore(dsn, max_pool=3), PostgresStore(dsn, max_pool=3)
        await first.open()
        await second.open()
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()


async def test_replicas_take_turns_on_one_conversation(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = replicas
    log: list[str] = []
    held = asyncio.Event()
    release = asyncio.Event()

    async def long_turn() -> None:
        async with first.turn_lock(KEY):
            log.append("first in")
            held.set()
            await release.wait()
            log.append("first out")

    async def other_replica_turn() -> None:
        async with second.turn_lock(KEY):
            log.append("second in")

    holder = asyncio.create_task(long_turn())
    await held.wait()
    waiter = asyncio.create_task(other_replica_turn())
    await asyncio.sleep(0.3)
    assert not waiter.done()
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(holder, waiter)
    assert log == ["first in", "first out", "second in"]


async def test_replicas_do_not_block_other_conversations(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = replicas
    async with (
        first.turn_lock(KEY),
        asyncio.timeout(10),
        second.turn_lock(ConversationKey("slack", "T1", "C2")),
    ):
        assert await second.claim_event("evt")


async def test_a_cancelled_turn_gives_its_lock_back(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = replicas
    held = asyncio.Event()

    async def doomed_turn() -> None:
        async with first.turn_lock(KEY):
            held.set()
            await asyncio.Event().wait()

    doomed = asyncio.create_task(doomed_turn())
    await held.wait()

    async def blocked_turn() -> None:
        async with second.turn_lock(KEY):
            raise AssertionError("got a lock another replica holds")

    blocked = asyncio.create_task(blocked_turn())
    await asyncio.sleep(0.1)
    blocked.cancel()
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    with pytest.raises(asyncio.CancelledError):
        await blocked
    async with asyncio.timeout(10):
        async with second.turn_lock(KEY):
            pass
        async with first.turn_lock(KEY):
            pass


async def test_a_pool_smaller_than_the_number_of_turns_does_not_deadlock() -> None:
    async with postgres_schema() as dsn:
        store = PostgresStore(dsn, min_pool=1, max_pool=2)
        await store.open()
        try:

            async def turn(number: int) -> None:
                key = ConversationKey("discord", "g", f"c{number}")
                async with store.turn_lock(key):
                    await store.load(key, 100)
                    await asyncio.sleep(0.01)
                    await store.append(key, [ChatMessage(Role.USER, "hi", tokens=1)])

            async with asyncio.timeout(20):
                await asyncio.gather(*(turn(n) for n in range(30)))
            assert (await store.stats(ConversationKey("discord", "g", "c29"))).turns == 1
        finally:
            await store.close()


async def test_an_unreachable_database_is_one_clear_line_without_the_password() -> None:
    store = PostgresStore("postgresql://parley:hunter2@127.0.0.1:9/parley", min_pool=1)
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert "PARLEY_DATABASE_URL" in message
    assert "hunter2" not in message
    assert "\n" not in message


async def test_a_live_replica_keeps_its_turns_from_the_others(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = replicas
    question = (ChatMessage(Role.USER, "still thinking?", author_id="u1", tokens=3),)
    assert await first.claim_event("evt-live", KEY)
    await first.begin_turn(TurnRecord("evt-live", KEY, question))
    await first.show_progress("evt-live", '{"ts": "1"}', "half")
    assert await second.orphaned_turns("slack") == []
    assert await second.claim_event("evt-live", KEY) is False, "a redelivery waits for the owner"
    await first.end_turn("evt-live")
