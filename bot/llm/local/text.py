"""Turn a growing list of token ids into clean text pieces, and stop at stop strings.

Decoding token by token breaks text: byte-level BPE splits UTF-8 characters across
tokens, and SentencePiece decoders drop or add spaces depending on neighbours. So each
step decodes a short window of ids twice (with and without the newest tokens) and emits
the difference, holding back while the tail is an incomplete character.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]
INCOMPLETE = "\ufffd"


class IncrementalDecoder:
    """Text of generated ids, released as it becomes final (the offset-diff method)."""

    def __init__(self, decode: Decode) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0

    def add(self, token_id: int) -> str:
        """Take one more id; return the text it completes (often "", sometimes several chars)."""
        self._ids.append(token_id)
        before = self._decode(self._ids[self._prefix_offset : self._read_offset])
        after = self._decode(self._ids[self._prefix_offset :])
        if len(after) <= len(before) or after.endswith(INCOMPLETE):
            return ""
        self._prefix_offset = self._read_offset
        self._read_offset = len(self._ids)
        return after[len(before) :]

    def flush(self) -> str:
        """Whatever is still held back (bytes that never became a character), at the end."""
        before = self._decode(self._ids[self._prefix_offset : self._read_offset])
        after = self._decode(self._ids[self._prefix_offset :])
        self._prefix_offset = self._read_offset = len(self._ids)
        return after[len(before) :]


class StopFilter:
    """Releases text up to the first stop string; holds back a tail that may begin one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(stop for stop in stops if stop)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what is now safe to show. Sets `stopped` once a stop string appears."""
        if self.stopped:
            return ""
        self._pending += text
        cut = min((i for i in map(self._pending.find, self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            released, self._pending = self._pending[:cut], ""
            return released
        keep = partial_length(self._pending, self._stops)
        released = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(released) :]
        return released

    def flush(self) -> str:
        """The held-back tail, once generation has ended without completing a stop string."""
        released, self._pending = ("" if self.stopped else self._pending), ""
        return released


def partial_length(text: str, marks: Sequence[str]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of one of `marks` (what to
    hold back: the next piece may complete it)."""
    longest = 0
    for mark in marks:
        for size in range(min(len(mark) - 1, len(text)), longest, -1):
            if text.endswith(mark[:size]):
                longest = size
                break
    return longest
