"""A ReplySink that records what the core asked it to show."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class RecordingSink:
    max_len: int = 2000
    min_edit_interval: float = 0.0
    started: int = 0
    updates: list[str] = field(default_factory=list)
    final: str | None = None
    failure: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.started += 1

    async def update(self, text: str) -> None:
        self.updates.append(text)
        self.updated.set()

    async def finish(self, text: str) -> None:
        self.final = text
        self.done.set()

    async def fail(self, message: str) -> None:
        self.failure = message
        self.done.set()

    @property
    def shown(self) -> str | None:
        """What the user ended up seeing: the final text or the failure line."""
        return self.final if self.final is not None else self.failure
