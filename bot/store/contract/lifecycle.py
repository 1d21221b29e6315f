"""Opening, closing and probing a store, and keeping it tidy (retention, expiry, forgetting)."""

from __future__ import annotations

from typing import Protocol


class Lifecycle(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when several processes start at once)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect."""
        ...

    async def ping(self) -> None:
        """Raise when the store is unreachable."""
        ...


class Housekeeping(Protocol):
    async def forget(self, author_id: str) -> int:
        """Delete every turn this author asked (their messages and the answers to them), what
        they viewed, their ratings and their messages kept as a channel's memory."""
        ...

    async def purge(self, older_than: float) -> int:
        """Delete messages (and message links) created before this Unix time (retention); return
        how many messages."""
        ...

    async def expire(self, before: float) -> None:
        """Delete processed-event records and usage counters last touched before this time."""
        ...

    async def purge_place_messages(self, older_than: float) -> int:
        """Delete channels' kept messages sent before this Unix time; return how many."""
        ...
