"""Conversations' windows held in memory while active (least recently used go first past a size in
bytes), checked against the store on every read so other replicas' writes are seen.

A read asks only for the messages placed at or after the anchor: the newest message held, whose
place (`tokens_before`, the weights before it) was the anchor. It comes back only when nothing
before it changed: a delete recounts every later place down (each weight is at least 1), and a
reset moves the conversation's marker past it. So a read that returns it gives exactly what is
new, whichever replica wrote it; one that does not is read whole.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.history import History, Timeline
from bot.store.sql import chat_message
from bot.types import ChatMessage

WINDOW_CACHE_BYTES = 64 * 1024 * 1024
"""PARLEY_WINDOW_CACHE_MB's default, in bytes."""
WHOLE = -1
"""The anchor that reads the whole window."""
_EMPTY = History.of(())
_TOTAL, _ID, _PLACE = range(3)
"""Where the conversation's weight total and the message's id and place are in a WINDOW row."""


@dataclass(slots=True)
class _Held:
    timeline: Timeline
    reach: int
    """The most weight a read may ask for: the window was read for this much."""
    last_id: int
    anchor: int


class WindowCache:
    """Windows by conversation key, within `max_bytes` (0 holds none)."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._held)

    def anchor(self, key: str, reach: int) -> int:
        """Where a read of this window of `reach` weight starts (WHOLE unless one is held)."""
        held = self._held.get(key)
        return held.anchor if held is not None and held.reach >= reach else WHOLE

    def window(
        self, key: str, reach: int, anchor: int, rows: Sequence[Sequence[Any]]
    ) -> History | None:
        """The window after a WINDOW read from `anchor`; None when what is held no longer matches
        the store (a reset, a delete, another read moved it meanwhile): then read it WHOLE."""
        if not rows:  # no such conversation
            self.drop(key)
            return _EMPTY
        whole = anchor == WHOLE or rows[0][_TOTAL] - reach >= anchor
        if whole and rows[0][_ID] is None:  # nothing since its reset
            self.drop(key)
            return _EMPTY
        if whole:
            timeline = Timeline(_message(row) for row in rows)
            self._keep(key, _Held(timeline, reach, *_last(rows)))
            return timeline.view()
        held = self._held.get(key)
        if held is None or held.reach < reach:
            return None
        position = _position(rows, held.last_id, held.anchor)
        if position is None:
            return None
        new = [_message(row) for row in rows[position + 1 :]]
        self.bytes -= held.timeline.bytes
        held.timeline.extend(new)
        held.timeline.keep_within(held.reach)
        held.last_id, held.anchor = _last(rows)
        self._keep(key, held)
        return held.timeline.within(reach)

    async def settled(
        self,
        key: str,
        reach: int,
        anchor: int,
        rows: Sequence[Sequence[Any]],
        read_whole: Callable[[], Awaitable[Sequence[Sequence[Any]]]],
    ) -> History:
        """`window`, reading the window whole when what is held no longer matches."""
        history = self.window(key, reach, anchor, rows)
        if history is None:
            history = self.window(key, reach, WHOLE, await read_whole())
        assert history is not None  # a whole read always gives a window
        return history

    def drop(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            self.bytes -= held.timeline.bytes

    def drop_where(self, matches: Callable[[str], bool]) -> None:
        for key in [key for key in self._held if matches(key)]:
            self.drop(key)

    def clear(self) -> None:
        self._held.clear()
        self.bytes = 0

    def _keep(self, key: str, held: _Held) -> None:
        """Hold (or hold again) a window as the most recently used; evict past the bound."""
        if key in self._held and self._held[key] is not held:
            self.drop(key)
        if held.timeline.bytes > self._max_bytes:  # bigger than the whole bound: not held
            self._held.pop(key, None)
            return
        self._held[key] = held
        self._held.move_to_end(key)
        self.bytes += held.timeline.bytes
        while self.bytes > self._max_bytes and self._held:
            self.drop(next(iter(self._held)))


def _message(row: Sequence[Any]) -> ChatMessage:
    return chat_message(row[_PLACE + 1 :])


def _last(rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
    return rows[-1][_ID], rows[-1][_PLACE]


def _position(rows: Sequence[Sequence[Any]], message_id: int, place: int) -> int | None:
    """Where the held window's newest message is among the rows read, if still in its place (a
    read that began from an older anchor, while another moved the window on, may hold it placed
    lower by a delete since)."""
    for position, row in enumerate(rows):
        if row[_ID] == message_id:
            return position if row[_PLACE] == place else None
    return None
