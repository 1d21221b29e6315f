"""One channel's edit budget, shared by every answer streaming there.

Discord limits message writes per channel (historically 5 per 5 s; the real figures come only in
response headers) and discord.py waits when a channel's bucket is empty, so ten answers editing
at their own pace in one channel would queue each other's final texts behind interim edits.
Interim edits therefore take a slot of this budget or are skipped (the next update, or the final
text, shows the newer text anyway); posts and final texts never wait for it, but count.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 5.0


class ChannelEdits:
    """At most `capacity` writes per WINDOW_SECONDS in one channel, interim edits yielding."""

    def __init__(self, capacity: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._clock = clock
        self._writes: dict[int, deque[float]] = {}

    def take(self, channel_id: int) -> bool:
        """A slot for an interim edit in this channel, if the window has one left."""
        writes = self._recent(channel_id)
        if len(writes) >= self._capacity:
            return False
        writes.append(self._clock())
        return True

    def spend(self, channel_id: int) -> None:
        """Count a write that goes regardless: a new message, a final text."""
        self._recent(channel_id).append(self._clock())

    def _recent(self, channel_id: int) -> deque[float]:
        writes = self._writes.setdefault(channel_id, deque())
        horizon = self._clock() - WINDOW_SECONDS
        while writes and writes[0] <= horizon:
            writes.popleft()
        if len(self._writes) > 1024:  # forget quiet channels, keep memory bounded
            for quiet in [key for key, seen in self._writes.items() if not seen]:
                del self._writes[quiet]
        return writes
