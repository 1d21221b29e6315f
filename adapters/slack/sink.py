"""Where an answer appears in Slack: a chat stream, a message kept up to date, or a response_url."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import approvals
from adapters.slack.format import neutralise, settled, to_mrkdwn
from bot.pacing import ChannelWrites
from bot.replies import ApprovalOutcome, ApprovalRequest, DeliveryFailed, Record, split_message

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

FINAL_DEADLINE_SECONDS = 60.0
"""How long an answer's final text is retried before the answer is reported undelivered."""
_FINAL_BACKOFF = (0.5, 8.0)
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "message_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "cant_update_message",
        "message_not_in_streaming_state",
        "invalid_auth",
        "token_revoked",
        "account_inactive",
        "no_permission",
        "restricted_action",
    }
)
"""Errors that no retry can fix."""


FEEDBACK_ACTION = "parley_feedback"
"""The action_id of the thumbs on every answer; a click arrives as block_actions with it."""
LIKED, DISLIKED = "good", "bad"


def answer_id(channel: str, ts: str) -> str:
    """What a rating click names: the channel and ts of a message showing the answer."""
    return f"slack:{channel}:{ts}"


def feedback_controls() -> dict[str, Any]:
    """The thumbs up / down under an answer, as a block."""

    def button(label: str, value: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": label}, "value": value}

    return {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": button("Good answer", LIKED),
                "negative_button": button("Bad answer", DISLIKED),
            }
        ],
    }


def markdown_block(markdown: str) -> dict[str, Any]:
    return {"type": "markdown", "text": markdown}


def feedback_blocks(markdown: str) -> list[dict[str, Any]]:
    """The answer's last message as blocks: its Markdown, then thumbs up / down under it."""
    return [markdown_block(markdown), feedback_controls()]


async def _offer_rating(
    client: AsyncWebClient, channel: str, shown: list[str], markdown: str
) -> tuple[str, ...]:
    """Put the thumbs under the last of an answer's messages; their ids, () if that failed."""
    if not shown or not markdown:
        return ()
    blocks = feedback_blocks(markdown)
    # With blocks, `text` is only the notification's fallback: mrkdwn, as chat.update needs.
    update = client.chat_update(
        channel=channel, ts=shown[-1], text=to_mrkdwn(markdown), blocks=blocks
    )
    if await _quietly(update, "adding the feedback buttons") is None:
        return ()
    return tuple(answer_id(channel, ts) for ts in shown)


def retry_handlers() -> list[RetryHandler]:
    """slack_sdk's own retries: connection errors, and 429s after their Retry-After."""
    return [
        AsyncConnectionErrorRetryHandler(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
    ]


def _error_code(error: Exception) -> str:
    return str(error.response.get("error", "")) if isinstance(error, SlackApiError) else ""


async def _must(call: Callable[[], Awaitable[Any]], doing: str) -> Any:
    """A call that must land (an answer's final text): retried with backoff past what slack_sdk
    retries, until FINAL_DEADLINE_SECONDS; then DeliveryFailed. A user's stop is raised as is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FINAL_DEADLINE_SECONDS
    wait = _FINAL_BACKOFF[0]
    while True:
        try:
            return await call()
        except PLATFORM_HICCUPS as error:
            code = _error_code(error)
            if code == STOPPED_BY_USER:
                raise
            if code in PERMANENT_ERRORS or loop.time() + wait > deadline:
                raise DeliveryFailed(f"{doing}: {code or type(error).__name__}") from error
            log.info("%s failed (%s); trying again in %.1f s", doing, code or error, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, _FINAL_BACKOFF[1])


class _AsksApproval:
    """Posts a tool call's request with Approve / Deny buttons in the answer's thread, and
    replaces the buttons with the outcome once it is known."""

    _client: AsyncWebClient
    _channel: str
    _thread_ts: str | None

    def _init_approvals(self) -> None:
        self._requests: dict[str, str] = {}
        """The ts of the message showing each request still waiting, by request id."""

    async def ask_approval(self, request: ApprovalRequest) -> None:
        post = self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread_ts,
            # With blocks, `text` is only the notification's fallback.
            text=approvals.request_text(request),
            blocks=approvals.request_blocks(request),
        )
        response = await _quietly(post, "asking for approval")
        if response is not None:
            self._requests[request.id] = response["ts"]

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        ts = self._requests.pop(request.id, None)
        if ts is None:
            return
        line = approvals.settled_line(request, outcome, by)
        update = self._client.chat_update(
            channel=self._channel, ts=ts, text=line, blocks=approvals.settled_blocks(line)
        )
        await _quietly(update, "settling a request")


class MessageSink(_AsksApproval):
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
        writes: ChannelWrites | None = None,
    ) -> None:
        self.min_edit_interval = edit_interval
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._on_start = on_start
        self._writes = writes
        """The channel's budget shared with the other answers streaming there."""
        self._init_approvals()
        self._messages: list[tuple[str, str]] = []
        """(ts, the text it shows) of each message of this answer, in order."""
        self._last_piece = ""
        """The Markdown of the final text's last message, for the feedback blocks."""

    @classmethod
    def restore(cls, client: AsyncWebClient, saved: dict[str, Any]) -> MessageSink:
        """The sink a receipt describes, to finish its answer from another process."""
        sink = cls(client, saved["channel"], saved["thread_ts"], edit_interval=1.0)
        sink._messages = [(ts, shown) for ts, shown in saved["messages"]]
        return sink

    def receipt(self) -> str | None:
        if not self._messages:
            return None
        return json.dumps(
            {
                "sink": "message",
                "channel": self._channel,
                "thread_ts": self._thread_ts,
                "messages": self._messages,
            }
        )

    async def start(self) -> None:
        if self._on_start is not None:
            await _quietly(self._on_start(), "showing the thinking status")
        await self._post(final=False, text=THINKING)

    async def update(self, text: str) -> None:
        await self._show(text, final=False)

    async def finish(self, text: str) -> None:
        await self._show(text, final=True)

    async def fail(self, message: str) -> None:
        await self._show(f"_{message}_", final=True)

    async def finish_rated(self, text: str, record: Record) -> bool:
        """The final text, its last message's Markdown in a block over the feedback buttons, in
        the same chat.update, when that message already shows; else (a new last message)
        `finish`."""
        pieces = split_message(text, self.max_len)
        if len(pieces) > len(self._messages):
            await self.finish(text)
            return False
        await record(tuple(answer_id(self._channel, ts) for ts, _ in self._messages))
        await self._show(text, final=True, blocks=feedback_blocks(neutralise(pieces[-1])))
        return True

    async def offer_rating(self) -> tuple[str, ...]:
        shown = [ts for ts, _ in self._messages]
        return await _offer_rating(self._client, self._channel, shown, self._last_piece)

    async def _show(
        self, text: str, *, final: bool, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Bring every message up to the text; the final text must land (or DeliveryFailed).
        `blocks` go on the last message, which shows them (chat.update even if its text is the
        same)."""
        pieces = split_message(text, self.max_len)
        if final:
            self._last_piece = neutralise(pieces[-1]) if pieces else ""
        for index, piece in enumerate(pieces):
            if index >= len(self._messages):
                if final:
                    await self._post(final=True, markdown_text=neutralise(piece))
                else:
                    await self._post(final=False, text=to_mrkdwn(piece))
                continue
            ts, shown = self._messages[index]
            rendered = to_mrkdwn(piece)
            extra = {"blocks": blocks} if blocks is not None and index == len(pieces) - 1 else {}
            if rendered == shown and not extra:
                continue
            edit = partial(
                self._client.chat_update, channel=self._channel, ts=ts, text=rendered, **extra
            )
            if final:
                _spend(self._writes, self._channel)
                await _must(edit, "showing the final text")
            elif not _take(self._writes, self._channel):
                continue  # the channel is busy: a later update or the final text shows this
            elif await _quietly(edit(), "updating an answer") is None:
                continue
            self._messages[index] = (ts, rendered)

    async def _post(self, *, final: bool, **content: str) -> None:
        _spend(self._writes, self._channel)  # a new message goes regardless
        post = partial(
            self._client.chat_postMessage,
            channel=self._channel,
            thread_ts=self._thread_ts,
            **content,
        )
        if final:
            response = await _must(post, "posting the final text")
        else:
            response = await _quietly(post(), "posting an answer")
        if response is not None:
            self._messages.append((response["ts"], content.get("text", "")))


class StreamSink(_AsksApproval):
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
        writes: ChannelWrites | None = None,
    ) -> None:
        self.min_edit_interval = edit_interval
        self._writes = writes
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._init_approvals()
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

    @classmethod
    def restore(cls, client: AsyncWebClient, saved: dict[str, Any]) -> StreamSink:
        """The sink a receipt describes, to finish its answer from another process."""
        sink = cls(
            client,
            saved["channel"],
            saved["thread_ts"],
            edit_interval=1.0,
            on_stopped=lambda: None,
            **saved["recipient"],
        )
        sink._streams = [(ts, sent) for ts, sent in saved["streams"]]
        sink._closed = saved["closed"]
        return sink

    def receipt(self) -> str | None:
        if self._fallback is not None:
            return self._fallback.receipt()
        if not self._streams:
            return None
        return json.dumps(
            {
                "sink": "stream",
                "channel": self._channel,
                "thread_ts": self._thread_ts,
                "recipient": self._recipient,
                "streams": self._streams,
                "closed": self._closed,
            }
        )

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
        await self._close(last, f"{sent}\n\n_{neutralise(message)}_", must=True)

    async def finish_rated(self, text: str, record: Record) -> bool:
        """The final text, the feedback buttons going under it with the last chat.stopStream."""
        if self._fallback is None and not self._stopped_by_user:
            await self._show(text, final=True, record=record)
        if self._fallback is not None:
            return await self._fallback.finish_rated(text, record)
        return not self._stopped_by_user and self._closed == len(self._streams) > 0

    async def offer_rating(self) -> tuple[str, ...]:
        """Only an answer that fell back to a message may take the controls after its text."""
        if self._fallback is not None:
            return await self._fallback.offer_rating()
        return ()

    async def _deliver(self, text: str, *, final: bool) -> None:
        if self._fallback is None and not self._stopped_by_user:
            await self._show(text, final=final)
        if self._fallback is not None:
            await (self._fallback.finish(text) if final else self._fallback.update(text))

    async def _show(self, text: str, *, final: bool, record: Record | None = None) -> None:
        """Stream the text; complete pieces are closed, the last one with the feedback buttons
        when `record` is given (their ids recorded first)."""
        pieces = split_message(text, self.max_len)
        last = len(pieces) - 1
        for index in range(self._closed, len(pieces)):
            piece = pieces[index]
            if not (final or index < last):  # the live end: only what is settled goes out
                await self._send(index, neutralise(settled(piece[: self._live_limit])))
                return
            rated = record if index == last else None
            if not await self._close(index, neutralise(piece), must=final, record=rated):
                return

    async def _send(self, index: int, target: str) -> bool:
        """Bring stream `index` up to `target` (an append waits while the channel is busy; a
        start goes regardless); False when the answer cannot go on streaming."""
        starting = index == len(self._streams)
        try:
            if starting:
                if not target:
                    return True
                # Never retried: a stream that cannot start falls back to a message, which can.
                _spend(self._writes, self._channel)
                response = await self._client.chat_startStream(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    markdown_text=target,
                    **self._recipient,
                )
                self._streams.append((response["ts"], target))
                return True
            ts, sent = self._streams[index]
            # Text that does not continue the stream (after a status line) waits for its end.
            if (
                len(target) > len(sent)
                and target.startswith(sent)
                and _take(self._writes, self._channel)
            ):
                await self._client.chat_appendStream(
                    channel=self._channel, ts=ts, markdown_text=target[len(sent) :]
                )
                self._streams[index] = (ts, target)
            return True
        except PLATFORM_HICCUPS as error:
            return self._handle(error, starting=starting)

    async def _close(
        self, index: int, target: str, *, must: bool = False, record: Record | None = None
    ) -> bool:
        """End stream `index` at `target`, the rest of the text going with chat.stopStream
        (and the feedback buttons under it, after `record` has the streams' ids, if given);
        False when it could not."""
        # A piece not yet streamed: its start carries the text (unless it fell back or failed).
        starting = index == len(self._streams)
        if starting and not (await self._send(index, target) and index < len(self._streams)):
            return False
        ts, sent = self._streams[index]
        # A stream only grows: text that does not continue what it shows (a tool's status line
        # streamed while the tool ran) replaces it once the stream has stopped.
        rest = target[len(sent) :] if target.startswith(sent) else None
        if record is not None:
            await record(tuple(answer_id(self._channel, ts) for ts, _ in self._streams))
        controls = [feedback_controls()] if record is not None else []
        _spend(self._writes, self._channel)  # goes regardless, and counts
        stop = partial(
            self._client.chat_stopStream,
            channel=self._channel,
            ts=ts,
            markdown_text=rest or None,
            blocks=controls if rest is not None and controls else None,
        )
        try:
            await (_must(stop, "stopping a stream") if must else stop())
            if rest is None:
                await self._replace(ts, target, controls, must=must)
        except PLATFORM_HICCUPS as error:
            self._handle(error, starting=False)
            return False
        self._streams[index] = (ts, target)
        self._closed = index + 1
        return True

    async def _replace(
        self, ts: str, markdown: str, controls: list[dict[str, Any]], *, must: bool
    ) -> None:
        """A stopped stream's message shows `markdown` instead (in a block, over `controls`)."""
        _spend(self._writes, self._channel)
        update = partial(
            self._client.chat_update,
            channel=self._channel,
            ts=ts,
            # With blocks, `text` is only the notification's fallback: mrkdwn, as chat.update needs.
            text=to_mrkdwn(markdown),
            blocks=[markdown_block(markdown), *controls],
        )
        await (_must(update, "showing the final text") if must else update())

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
            writes=self._writes,
        )


def _take(writes: ChannelWrites | None, channel: str) -> bool:
    """A slot for an interim write in the channel (always, without a budget)."""
    return writes is None or writes.take(channel)


def _spend(writes: ChannelWrites | None, channel: str) -> None:
    if writes is not None:
        writes.spend(channel)


def restored(client: AsyncWebClient, receipt: str) -> MessageSink | StreamSink | ResponseUrlSink:
    """The sink that showed an answer, from its receipt, to finish that answer."""
    saved = json.loads(receipt)
    if saved["sink"] == "stream":
        return StreamSink.restore(client, saved)
    if saved["sink"] == "response_url":
        return ResponseUrlSink.restore(saved)
    return MessageSink.restore(client, saved)


class ResponseUrlSink:
    """Answer through a slash command's response_url: no edits (five messages at most), so the
    answer goes out once, finished. Used for ephemeral answers and channels Parley is not in."""

    max_len = UPDATE_PIECE

    def __init__(
        self, response_url: str, response_type: str, *, header: str = "", edit_interval: float
    ) -> None:
        self.min_edit_interval = edit_interval
        self._url = response_url
        self._webhook = AsyncWebhookClient(response_url, retry_handlers=retry_handlers())
        self._response_type = response_type
        self._header = header
        """mrkdwn above the answer (the asker's prompt): Parley's own text, so not neutralised."""

    @classmethod
    def restore(cls, saved: dict[str, Any]) -> ResponseUrlSink:
        """The sink a receipt describes, to finish its answer from another process."""
        return cls(saved["url"], saved["response_type"], header=saved["header"], edit_interval=1)

    def receipt(self) -> str | None:
        """The response_url itself (valid for 30 minutes): nothing is shown before the end."""
        return json.dumps(
            {
                "sink": "response_url",
                "url": self._url,
                "response_type": self._response_type,
                "header": self._header,
            }
        )

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
