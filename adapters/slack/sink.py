"""Where an answer appears in Slack: a chat stream, a message kept up to date, or a response_url."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.format import neutralise, settled, to_mrkdwn
from bot.replies import split_message

log = logging.getLogger(__name__)

THINKING = "_thinking…_"
UPDATE_PIECE = 3_600
"""Markdown per message when the text goes through chat.update: 4,000 after conversion, with room
for the entities that escaping adds."""
STREAM_PIECE = 12_000
"""Markdown per streamed message: the most one markdown_text may hold."""
RESPONSE_URL_LIMIT = 5
"""A response_url takes at most five messages."""
STOPPED_BY_USER = "stopped_by_user"

OnStart = Callable[[], Awaitable[object]]
PLATFORM_HICCUPS = (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""What a Web API call may raise that an answer survives."""


def _error_code(error: Exception) -> str:
    return str(error.response.get("error", "")) if isinstance(error, SlackApiError) else ""


class MessageSink:
    """Post a placeholder, then chat.update it with the answer so far; continue in new messages.

    Everything goes out as mrkdwn `text`, because chat.update takes no Markdown; a piece first
    posted when the answer is already final goes out as `markdown_text` instead.
    """

    max_len = UPDATE_PIECE

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        *,
        edit_interval: float,
        on_start: OnStart | None = None,
    ) -> None:
        self.min_edit_interval = edit_interval
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._on_start = on_start
        self._messages: list[tuple[str, str]] = []
        """(ts, the text it shows) of each message of this answer, in order."""

    async def start(self) -> None:
        if self._on_start is not None:
            await _quietly(self._on_start(), "showing the thinking status")
        await self._post(text=THINKING)

    async def update(self, text: str) -> None:
        await self._show(text, final=False)

    async def finish(self, text: str) -> None:
        await self._show(text, final=True)

    async def fail(self, message: str) -> None:
        await self._show(f"_{message}_", final=True)

    async def _show(self, text: str, *, final: bool) -> None:
        for index, piece in enumerate(split_message(text, self.max_len)):
            if index >= len(self._messages):
                if final:
                    await self._post(markdown_text=neutralise(piece))
                else:
                    await self._post(text=to_mrkdwn(piece))
                continue
            ts, shown = self._messages[index]
            rendered = to_mrkdwn(piece)
            if rendered != shown:
                edited = self._client.chat_update(channel=self._channel, ts=ts, text=rendered)
                if await _quietly(edited, "updating an answer"):
                    self._messages[index] = (ts, rendered)

    async def _post(self, **content: str) -> None:
        posted = self._client.chat_postMessage(
            channel=self._channel, thread_ts=self._thread_ts, **content
        )
        response = await _quietly(posted, "posting an answer")
        if response is not None:
            self._messages.append((response["ts"], content.get("text", "")))


class StreamSink:
    """Stream the answer with chat.startStream / appendStream / stopStream (threads only).

    Streams only grow, so text is sent once it is settled: neutralised for good, and inside the part
    of a piece that split_message will never move to the next message. A user who presses stop in
    Slack (`stopped_by_user`) stops the generation through `on_stopped`. When the stream cannot
    start (an older workspace, a surface without streaming) the answer falls back to a MessageSink.
    """

    max_len = STREAM_PIECE

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        edit_interval: float,
        on_stopped: Callable[[], object],
        recipient_user_id: str | None = None,
        recipient_team_id: str | None = None,
        on_start: OnStart | None = None,
    ) -> None:
        self.min_edit_interval = edit_interval
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._recipient = {
            key: value
            for key, value in (
                ("recipient_user_id", recipient_user_id),
                ("recipient_team_id", recipient_team_id),
            )
            if value
        }
        self._on_stopped = on_stopped
        self._on_start = on_start
        self._streams: list[tuple[str, str]] = []
        """(ts, neutralised text sent) of each streamed message of this answer, in order."""
        self._closed = 0
        self._stopped_by_user = False
        self._fallback: MessageSink | None = None
        # split_message cuts a piece no earlier than half its room, so this much never moves on.
        self._live_limit = (self.max_len - 32) // 2

    async def start(self) -> None:
        if self._on_start is not None:
            await _quietly(self._on_start(), "showing the thinking status")

    async def update(self, text: str) -> None:
        await self._deliver(text, final=False)

    async def finish(self, text: str) -> None:
        await self._deliver(text, final=True)

    async def fail(self, message: str) -> None:
        if self._stopped_by_user:
            return
        if self._fallback is None and self._closed == len(self._streams):
            self._fall_back()
        if self._fallback is not None:
            await self._fallback.fail(message)
            return
        last = len(self._streams) - 1
        _, sent = self._streams[last]
        await self._send(last, f"{sent}\n\n_{neutralise(message)}_")
        await self._close(last)

    async def _deliver(self, text: str, *, final: bool) -> None:
        if self._fallback is None and not self._stopped_by_user:
            await self._show(text, final=final)
        if self._fallback is not None:
            await (self._fallback.finish(text) if final else self._fallback.update(text))

    async def _show(self, text: str, *, final: bool) -> None:
        pieces = split_message(text, self.max_len)
        for index in range(self._closed, len(pieces)):
            complete = final or index < len(pieces) - 1
            piece = pieces[index]
            target = neutralise(piece if complete else settled(piece[: self._live_limit]))
            if not await self._send(index, target):
                return
            if complete:
                await self._close(index)

    async def _send(self, index: int, target: str) -> bool:
        """Bring stream `index` up to `target`; False when the answer cannot go on streaming."""
        try:
            if index == len(self._streams):
                if not target:
                    return True
                response = await self._client.chat_startStream(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    markdown_text=target,
                    **self._recipient,
                )
                self._streams.append((response["ts"], target))
                return True
            ts, sent = self._streams[index]
            if len(target) > len(sent):
                await self._client.chat_appendStream(
                    channel=self._channel, ts=ts, markdown_text=target[len(sent) :]
                )
                self._streams[index] = (ts, target)
            return True
        except PLATFORM_HICCUPS as error:
            return self._handle(error, starting=index == len(self._streams))

    async def _close(self, index: int) -> None:
        ts, _ = self._streams[index]
        self._closed = index + 1
        try:
            await self._client.chat_stopStream(channel=self._channel, ts=ts)
        except PLATFORM_HICCUPS as error:
            self._handle(error, starting=False)

    def _handle(self, error: Exception, *, starting: bool) -> bool:
        if _error_code(error) == STOPPED_BY_USER:
            self._stopped_by_user = True
            self._on_stopped()
            return False
        if starting and not self._streams:
            log.warning("chat stream unavailable (%s); updating a message instead", error)
            self._fall_back()
            return False
        log.warning("streaming an answer failed: %s", error)
        return True

    def _fall_back(self) -> None:
        self._fallback = MessageSink(
            self._client,
            self._channel,
            self._thread_ts,
            edit_interval=self.min_edit_interval,
        )


class ResponseUrlSink:
    """Answer through a slash command's response_url: no edits (five messages at most), so the
    answer goes out once, finished. Used for ephemeral answers and channels Parley is not in."""

    max_len = UPDATE_PIECE

    def __init__(
        self, response_url: str, response_type: str, *, header: str = "", edit_interval: float
    ) -> None:
        self.min_edit_interval = edit_interval
        self._webhook = AsyncWebhookClient(response_url)
        self._response_type = response_type
        self._header = header
        """mrkdwn above the answer (the asker's prompt): Parley's own text, so not neutralised."""

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        pieces = split_message(text, self.max_len)[:RESPONSE_URL_LIMIT]
        for index, piece in enumerate(pieces):
            rendered = to_mrkdwn(piece)
            await self._send(
                f"{self._header}\n{rendered}" if index == 0 and self._header else rendered
            )

    async def fail(self, message: str) -> None:
        await self._send(to_mrkdwn(f"_{message}_"), response_type="ephemeral")

    async def _send(self, text: str, response_type: str | None = None) -> None:
        try:
            response = await self._webhook.send(
                text=text, response_type=response_type or self._response_type
            )
        except PLATFORM_HICCUPS as error:
            log.warning("response_url unreachable: %s", error)
            return
        if response.status_code != 200:
            log.warning(
                "response_url refused the answer: %s %s", response.status_code, response.body
            )


async def _quietly(call: Awaitable[Any], doing: str) -> Any:
    """Await a Web API call; a platform hiccup is logged, never raised into the core."""
    try:
        return await call
    except PLATFORM_HICCUPS as error:
        log.warning("%s failed: %s", doing, error)
    return None
