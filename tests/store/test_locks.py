"""KeyedLock: FIFO per key, independent keys, and no entries left behind."""

from __future__ import annotations

import asyncio

from bot.store.locks import KeyedLock


async def test_waiters_enter_in_arrival_order_and_leave_nothing_behind() -> None:
    locks = KeyedLock()
    order: list[int] = []

    async def enter(number: int) -> None:
        async with locks.lock("k"):
            order.append(number)
            await asyncio.sleep(0)

    await asyncio.gather(*(enter(n) for n in range(50)))
    assert order == list(range(50))
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_the_queue_intact() -> None:
    locks = KeyedLock()
    order: list[str] = []
    release = asyncio.Event()

    async def enter(name: str, hold: bool = False) -> None:
        async with locks.lock("k"):
            order.append(name)
            if hold:
                await release.wait()

    first = asyncio.create_task(enter("first", hold=True))
    second = asyncio.create_task(enter("second"))
    third = asyncio.create_task(enter("third"))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    await asyncio.gather(first, third)
    assert second.cancelled()
    assert order == ["first", "third"]
    assert len(locks) == 0


async def test_keys_are_independent() -> None:
    locks = KeyedLock()
    async with locks.lock("a"), asyncio.timeout(5), locks.lock("b"):
        assert len(locks) == 2
    assert len(locks) == 0
