"""A conversation's messages with running sums, so the newest that fit a budget are found by
bisection and new messages are added at the end: a turn in a long conversation costs what is
new since the last turn, not what its window holds."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice

from bot.types import ChatMessage, Role

_ANSWERS = (Role.ASSISTANT, Role.TOOL)
"""Roles a kept history never starts with: an answer (or a tool exchange) without its question
confuses models."""
_FEW = 8
"""Messages up to which `Timeline.extend` adds one at a time."""
MESSAGE_BYTES = 256
"""About what a message held in memory costs besides its text (measured with tracemalloc: the
message object, its strings' headers, its timestamp, its place in the running sums)."""


def weight(tokens: int) -> int:
    """What a message costs in the store's token window: at least 1, so a window of N tokens holds
    at most N messages and loading stays bounded even when token counts are missing."""
    return max(tokens, 1)


def _running(values: Iterable[int], start: int) -> Iterator[int]:
    """Running sums of `values` after `start` (not `start` itself)."""
    return islice(accumulate(values, initial=start), 1, None)


def _fitting(weights: array[int], start: int, end: int, max_weight: int) -> int:
    """Where the newest messages of [start, end) whose weights fit `max_weight` begin, given
    the running sums of their weights."""
    if max_weight <= 0:
        return end
    return bisect_left(weights, weights[end] - max_weight, start, end)


def footprint(message: ChatMessage) -> int:
    """Approximate bytes a message held in memory takes."""
    size = MESSAGE_BYTES + len(message.content) + len(message.name or "")
    size += len(message.author_id or "")
    if message.images:  # most messages have none: no generator for them
        size += sum(len(image) for image in message.images)
    if message.tool_calls:
        size += sum(len(call.arguments) + len(call.name) + 40 for call in message.tool_calls)
    return size


@dataclass(frozen=True, slots=True)
class History:
    """An immutable view of a Timeline: messages[start:end], oldest first."""

    _messages: list[ChatMessage]
    _weights: array[int]
    """Running sums of the messages' weights: _weights[i] sums messages[:i]."""
    _tokens: array[int]
    """Running sums of the messages' tokens, in the same way."""
    _askers: array[int]
    """Where the messages that are not answers are, ascending."""
    start: int
    end: int

    @classmethod
    def of(cls, messages: Iterable[ChatMessage]) -> History:
        return Timeline(messages).view()

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[ChatMessage]:
        return iter(self._messages[self.start : self.end])

    def messages(self) -> list[ChatMessage]:
        return self._messages[self.start : self.end]

    def followed_by(self, messages: Sequence[ChatMessage]) -> History:
        return History.of([*self.messages(), *messages]) if messages else self

    def within(self, max_weight: int) -> History:
        """The newest messages whose weights fit `max_weight` (what Store.load returns)."""
        start = _fitting(self._weights, self.start, self.end, max_weight)
        if start == self.start:  # all of it fits (a turn's window mostly does): no new view
            return self
        return History(self._messages, self._weights, self._tokens, self._askers, start, self.end)

    def newest_fitting(self, room: int) -> list[ChatMessage]:
        """The newest messages whose tokens fit `room`, starting at a question.

        Starting at a question (a user or system message) keeps a tool call with the tool
        messages answering it: they are dropped together, never split.
        """
        if room < 0:
            return []
        floor = self._tokens[self.end] - room
        fits = bisect_left(self._tokens, floor, self.start, self.end)
        first = bisect_left(self._askers, fits)
        if first == len(self._askers) or self._askers[first] >= self.end:
            return []
        return self._messages[self._askers[first] : self.end]


class Timeline:
    """A conversation's recent messages, growing at the end and trimmed at the front; its views
    stay valid while it changes (a trimmed timeline copies itself, never edits in place)."""

    __slots__ = ("_askers", "_messages", "_start", "_tokens", "_weights", "bytes")

    def __init__(self, messages: Iterable[ChatMessage] = ()) -> None:
        self._messages: list[ChatMessage] = []
        self._weights = array("q", (0,))
        self._tokens = array("q", (0,))
        self._askers = array("q")
        self._start = 0
        self.bytes = 0
        """Approximate memory the held messages take."""
        self.extend(messages)

    def __len__(self) -> int:
        return len(self._messages) - self._start

    def extend(self, messages: Iterable[ChatMessage]) -> None:
        added = list(messages)
        if len(added) <= _FEW:
            self._extend_by_few(added)
            return
        first = len(self._messages)
        self._askers.extend(
            first + index for index, m in enumerate(added) if m.role not in _ANSWERS
        )
        self._messages.extend(added)
        tokens = [message.tokens for message in added]
        self._weights.extend(_running(map(weight, tokens), self._weights[-1]))
        self._tokens.extend(_running(tokens, self._tokens[-1]))
        self.bytes += sum(map(footprint, added))

    def _extend_by_few(self, added: list[ChatMessage]) -> None:
        """`extend` one message at a time: what a turn adds (its question and answer) costs less
        so than through the iterators that serve a whole window."""
        messages, weights, tokens = self._messages, self._weights, self._tokens
        for message in added:
            if message.role not in _ANSWERS:
                self._askers.append(len(messages))
            messages.append(message)
            weights.append(weights[-1] + weight(message.tokens))
            tokens.append(tokens[-1] + message.tokens)
            self.bytes += footprint(message)

    def keep_within(self, max_weight: int) -> None:
        """Drop the oldest messages beyond the newest whose weights fit `max_weight`."""
        start = _fitting(self._weights, self._start, len(self._messages), max_weight)
        self.bytes -= sum(footprint(m) for m in self._messages[self._start : start])
        self._start = start
        if start > 64 and start * 2 > len(self._messages):
            self._compact()

    def view(self) -> History:
        end = len(self._messages)
        return History(self._messages, self._weights, self._tokens, self._askers, self._start, end)

    def within(self, max_weight: int) -> History:
        """`view().within(max_weight)` without the intermediate view."""
        end = len(self._messages)
        start = _fitting(self._weights, self._start, end, max_weight)
        return History(self._messages, self._weights, self._tokens, self._askers, start, end)

    def _compact(self) -> None:
        """Let the dropped messages go: new storage, so existing views keep the old."""
        start = self._start
        self._messages = self._messages[start:]
        self._weights = self._weights[start:]
        self._tokens = self._tokens[start:]
        first = bisect_left(self._askers, start)
        self._askers = array("q", (index - start for index in self._askers[first:]))
        self._start = 0
