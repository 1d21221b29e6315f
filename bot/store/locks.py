"""Per-key FIFO locks for one process: turns of a conversation run in arrival order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from types import TracebackType


class KeyedLock:
    """One lock per key, held while an entry exists and dropped when nobody holds or awaits it.

    Written by hand rather than as an asyncio.Lock per key: every turn takes two of these, and
    an uncontended hold here is a dict entry, no lock object and no generator (a third of the
    cost). A release hands the lock to the oldest waiter directly, so nobody can barge in.
    """

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: dict[Hashable, deque[asyncio.Future[None]]] = {}
        """Per key held: who waits for it, oldest first."""

    def lock(self, key: Hashable) -> _Hold:
        return _Hold(self, key)

    def __len__(self) -> int:
        """How many keys are held or awaited right now."""
        return len(self._waiters)

    async def _acquire(self, key: Hashable) -> None:
        # Nothing is awaited before the key is taken or the waiter queued: arrival order holds.
        waiters = self._waiters.get(key)
        if waiters is None:
            self._waiters[key] = deque()
            return
        turn = asyncio.get_running_loop().create_future()
        waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.cancelled():
                if turn in waiters:
                    waiters.remove(turn)
            else:  # handed the lock just as it was cancelled: pass it on
                self._release(key)
            raise

    def _release(self, key: Hashable) -> None:
        waiters = self._waiters[key]
        while waiters:
            turn = waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._waiters[key]


class _Hold:
    """`async with locks.lock(key)`: a class, not a generator, for what it saves per turn."""

    __slots__ = ("_key", "_locks")

    def __init__(self, locks: KeyedLock, key: Hashable) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        await self._locks._acquire(self._key)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._locks._release(self._key)
