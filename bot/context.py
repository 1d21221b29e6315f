"""What of a conversation fits the model: the token budget, applied oldest-first (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.types import ChatMessage, Role

CUT_MARKER = "\n[… cut here: the message was too long for the model's context]"

TokenCounter = Callable[[ChatMessage], int]


def build(
    system: ChatMessage,
    history: Sequence[ChatMessage],
    current: ChatMessage,
    budget: int,
    count: TokenCounter,
) -> list[ChatMessage]:
    """The messages to send: system prompt, the newest history that fits, the current message.

    `budget` covers everything sent. The system prompt and the current message always stay; the
    current message is cut with a visible marker when it alone does not fit.
    """
    room = budget - system.tokens
    if current.tokens > room:
        current = cut_to_fit(current, room, count)
    room -= current.tokens
    units: list[list[ChatMessage]] = []
    for unit in reversed(_units(history)):
        tokens = sum(message.tokens for message in unit)
        if tokens > room:
            break
        units.append(unit)
        room -= tokens
    kept = [message for unit in reversed(units) for message in unit]
    while kept and kept[0].role in (Role.ASSISTANT, Role.TOOL):
        kept.pop(0)  # an answer (or a tool exchange) without its question confuses models
    return [system, *kept, current]


def _units(history: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """The history in pieces that are kept or dropped whole: an assistant message with tool
    calls goes with the tool messages answering them (a call left unanswered is refused)."""
    units: list[list[ChatMessage]] = []
    for message in history:
        if message.role is Role.TOOL and units and units[-1][0].tool_calls:
            units[-1].append(message)
        else:
            units.append([message])
    return units


def cut_to_fit(message: ChatMessage, max_tokens: int, count: TokenCounter) -> ChatMessage:
    """Shorten a message's content to fit max_tokens, ending it with CUT_MARKER."""
    text = message.content
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits, by bisection on characters
        middle = (low + high + 1) // 2
        candidate = replace(message, content=text[:middle] + CUT_MARKER)
        if count(candidate) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    cut = replace(message, content=text[:low] + CUT_MARKER)
    return replace(cut, tokens=count(cut))
