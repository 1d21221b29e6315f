"""One channel's write budget, shared by every answer streaming there.

Chat platforms limit message writes per channel (about 5 per 5 s, or one post a second with
short bursts) and their clients wait or retry when a channel's bucket is empty, so ten answers
editing at their own pace in one channel would queue each other's final texts behind interim
edits. Interim edits therefore take a slot of this budget or are skipped (the next update, or
the final text, shows the newer text anyway); posts and final texts never wait for it, but
count. Written here because the platform clients only react to a full bucket (429s); none
shares one among concurrent answers.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_SECONDS = 5.0
MAX_CHANNELS = 1024
"""Channels tracked before the quiet ones are forgotten."""


class ChannelWrites:
    """At most `capacity` writes per WINDOW_SECONDS in one channel, interim edits yielding."""

    def __init__(self, capacity: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._clock = clock
        self._writes: dict[Hashable, deque[float]] = {}

    def take(self, channel: Hashable) -> bool:
        """A slot for an interim edit in this channel, if the window has one left."""
        writes = self._recent(channel)
        if len(writes) >= self._capacity:
            return False
        writes.append(self._clock())
        return True

    def spend(self, channel: Hashable) -> None:
        """Count a write that goes regardless: a new message, a final text."""
        self._recent(channel).append(self._clock())

    def _recent(self, channel: Hashable) -> deque[float]:
        horizon = self._clock() - WINDOW_SECONDS
        if len(self._writes) > MAX_CHANNELS:  # forget quiet channels, keep memory bounded
            for quiet in [
                key for key, seen in self._writes.items() if not seen or seen[-1] <= horizon
            ]:
                del self._writes[quiet]
        # Only after forgetting: a channel seen for the first time is quiet too.
        writes = self._writes.setdefault(channel, deque())
        while writes and writes[0] <= horizon:
            writes.popleft()
        return writes
