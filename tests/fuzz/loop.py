"""A live async world kept open across hypothesis examples, which run synchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeVar

T = TypeVar("T")


class LoopHarness:
    """Owns an event loop; what `enter` opens stays open until `close`."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._stack = AsyncExitStack()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def enter(self, context: AbstractAsyncContextManager[T]) -> T:
        return self.run(self._stack.enter_async_context(context))

    def on_close(self, callback: Any) -> None:
        self._stack.push_async_callback(callback)

    def close(self) -> None:
        self.run(self._stack.aclose())
        self._runner.close()
