"""Who is speaking: users.info, remembered for a while, as core Authors."""

from __future__ import annotations

import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.sink import PLATFORM_HICCUPS
from adapters.slack.translate import author_from_user
from bot.types import Author

log = logging.getLogger(__name__)


class People:
    """A bounded cache of users.info, so a conversation costs one lookup per person, not per turn.

    Entries expire so that a name change or a revoked admin right is seen within `ttl` seconds.
    """

    def __init__(self, client: AsyncWebClient, *, ttl: float = 600.0, size: int = 10_000) -> None:
        self._client = client
        self._ttl = ttl
        self._size = size
        self._known: dict[str, tuple[float, Author]] = {}

    async def author(self, user_id: str) -> Author:
        now = time.monotonic()
        cached = self._known.get(user_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await self._client.users_info(user=user_id, include_locale=True)
        except PLATFORM_HICCUPS as error:
            log.warning("users.info failed, speaking to %s by id: %s", user_id, error)
            return Author(id=user_id, name=user_id)
        author = author_from_user(response["user"])
        self._known.pop(user_id, None)
        if len(self._known) >= self._size:
            del self._known[next(iter(self._known))]
        self._known[user_id] = (now, author)
        return author
