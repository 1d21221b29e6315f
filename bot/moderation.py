"""Optional moderation of questions and answers through OpenAI's moderation endpoint.

PARLEY_MODERATION=input checks each question before the model sees it; output checks each answer
before anyone sees it, so an answer is not streamed while output moderation is on: the whole
answer is written, checked, then shown (or replaced by a notice). Any OpenAI-compatible server
answering /v1/moderations at OPENAI_BASE_URL works.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from bot.types import Delta

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

WITHHELD = "I wrote an answer, but moderation flagged it ({reason}), so it is withheld."
REFUSED = "I can't answer that: moderation flagged the message ({reason})."
UNCHECKED = "I couldn't check this with moderation right now; please try again."


class ModerationUnavailable(Exception):
    """The moderation endpoint could not give an answer."""


class Moderator(Protocol):
    async def flagged(self, text: str) -> str | None:
        """The flagged categories, comma-separated; None when the text passes."""
        ...


class OpenAIModerator:
    """Asks /v1/moderations of OpenAI or a compatible server."""

    def __init__(self, api_key: str | None, base_url: str | None, model: str, timeout: float):
        from openai import AsyncOpenAI

        # A compatible server may need no key; the client insists on one.
        self._client: AsyncOpenAI = AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=1
        )
        self._model = model

    async def flagged(self, text: str) -> str | None:
        import openai

        try:
            response = await self._client.moderations.create(input=text, model=self._model)
        except openai.OpenAIError as error:
            log.warning("moderation failed: %s", error)
            raise ModerationUnavailable(str(error)) from error
        flagged = [result for result in response.results if result.flagged]
        if not flagged:
            return None
        categories = [result.categories.model_dump(by_alias=True) for result in flagged]
        hits = [name for found in categories for name, hit in found.items() if hit]
        return ", ".join(dict.fromkeys(hits)) or "flagged"

    async def aclose(self) -> None:
        await self._client.close()


async def checked_answer(
    stream: AsyncIterator[Delta], moderator: Moderator, on_flagged: Callable[[], Awaitable[None]]
) -> AsyncIterator[Delta]:
    """The answer held back until it is whole and has passed moderation, else a notice.

    Usage and the finish reason of the held answer stay, so the turn is still counted and priced.
    """
    deltas = [delta async for delta in stream]
    text = "".join(delta.text for delta in deltas)
    try:
        reason = await moderator.flagged(text) if text.strip() else None
    except ModerationUnavailable:
        reason, notice = None, UNCHECKED
    else:
        notice = WITHHELD.format(reason=reason) if reason else None
    if notice is None:
        for delta in deltas:
            yield delta
        return
    if reason:
        await on_flagged()
    usage = next((delta.usage for delta in reversed(deltas) if delta.usage), None)
    finish = next((d.finish_reason for d in reversed(deltas) if d.finish_reason), "stop")
    yield Delta(notice, finish_reason=finish, usage=usage)
