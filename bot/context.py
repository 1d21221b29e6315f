"""What of a conversation fits the model: the token budget, applied oldest-first (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.history import History
from bot.types import ChatMessage

CUT_MARKER = "\n[… cut here: the message was too long for the model's context]"

TokenCounter = Callable[[ChatMessage], int]


def build(
    system: ChatMessage,
    history: History | Sequence[ChatMessage],
    current: ChatMessage,
    budget: int,
    count: TokenCounter,
) -> list[ChatMessage]:
    """The messages to send: system prompt, the newest history that fits, the current message.

    `budget` covers everything sent. The system prompt and the current message always stay; the
    current message is cut with a visible marker when it alone does not fit. The history kept
    starts at a question, so a tool call and the tool messages answering it go together.
    """
    if not isinstance(history, History):
        history = History.of(history)
    room = budget - system.tokens
    if current.tokens > room:
        current = cut_to_fit(current, room, count)
    return [system, *history.newest_fitting(room - current.tokens), current]


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
