"""Small helpers shared by the local-model tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.llm.base import GenerationOptions
from bot.types import ChatMessage, Delta, Role

GREEDY = GenerationOptions(model="", max_tokens=24, temperature=0.0)


async def collect(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [delta async for delta in stream]


def text_of(deltas: list[Delta]) -> str:
    return "".join(delta.text for delta in deltas)


def conversation(question: str, *, name: str | None = None) -> list[ChatMessage]:
    return [
        ChatMessage(Role.SYSTEM, "You are a tiny test model."),
        ChatMessage(Role.USER, question, name=name),
    ]
