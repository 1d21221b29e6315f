"""What a test tells the model peer to do: its answers, tool calls, and faults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def echo_answer(request: dict[str, Any]) -> str:
    """Repeat the last user message, so tests can see what reached the model."""
    last = request["messages"][-1]["content"]
    if isinstance(last, list):
        last = " ".join(part.get("text", "") for part in last)
    return f"echo: {last}"


@dataclass(frozen=True)
class CallTools:
    """An answer that is tool calls: (wire function name, arguments) each, streamed as OpenAI
    does (index, id and name first, then argument fragments), ending with "tool_calls"."""

    calls: tuple[tuple[str, dict[str, Any]], ...]


@dataclass
class Fault:
    """What the next request meets: an HTTP status, a hang, or a stream cut after some chunks."""

    status: int | None = None
    retry_after: float | None = None
    hang: float | None = None
    cut_after_chunks: int | None = None
    error_after_chunks: int | None = None
    """Then an error event, as OpenAI ends a stream that fails on its side."""
