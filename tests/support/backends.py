"""An in-process Backend for adapter tests and benchmarks: streams a scripted answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from bot.llm.base import BackendError, Capabilities, GenerationOptions
from bot.types import ChatMessage, Delta, Usage


def echo(messages: Sequence[ChatMessage]) -> str:
    """Answer with the last user message, so a test can see what reached the model."""
    return f"echo: {messages[-1].content}"


class ScriptedBackend:
    """Implements the Backend protocol without a server: `answer(messages)` decides the text.

    The text streams in `chunks` pieces spread over `duration` seconds. Every call's messages
    are kept in `calls` so tests can assert what the model was shown.
    """

    capabilities = Capabilities(listed_prices=True, price_provider="openai")
    """Priced as OpenAI's models, as the stand-in for them in door tests."""

    def __init__(
        self,
        answer: Callable[[Sequence[ChatMessage]], str] = echo,
        *,
        chunks: int = 5,
        duration: float = 0.0,
        window: int = 8192,
        fail_with: BackendError | None = None,
    ) -> None:
        self.answer = answer
        self.chunks = chunks
        self.duration = duration
        self.window = window
        self.fail_with = fail_with
        self.calls: list[list[ChatMessage]] = []

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        self.calls.append(list(messages))
        if self.fail_with is not None:
            raise self.fail_with
        text = self.answer(messages)
        size = max(1, -(-len(text) // self.chunks))
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        pause = self.duration / len(pieces)
        for piece in pieces:
            if pause:
                await asyncio.sleep(pause)
            yield Delta(piece)
        yield Delta(
            "", finish_reason="stop", usage=Usage(self.count_tokens(messages, ""), len(pieces))
        )

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return sum(len(m.content) // 4 + 4 for m in messages)

    def context_window(self, model: str) -> int:
        return self.window

    async def ping(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def aclose(self) -> None:
        return None
