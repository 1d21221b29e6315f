"""ReplySinks for Discord: an answer is a reply that is then edited, continued in new messages.

Everything sent carries `allowed_mentions` none, so model output can never ping anyone, and a
link cannot disguise its target (Discord renders `[text](url)` in bot messages too).
Platform hiccups (a deleted message, an archived thread, lost permissions) are logged, never
raised into the core.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import discord

from adapters.discord.approvals import decider
from adapters.discord.feedback import answer_id
from bot import approval_lines
from bot.links import reveal_links
from bot.pacing import ChannelWrites
from bot.replies import (
    EMPTY_ANSWER,
    ApprovalOutcome,
    ApprovalRequest,
    DeliveryFailed,
    Record,
    split_message,
)

if TYPE_CHECKING:
    from adapters.discord.approvals import Approvals

log = logging.getLogger(__name__)

MAX_LEN = 2000
NO_MENTIONS = discord.AllowedMentions.none()
TYPING_REFRESH_SECONDS = 8.0
"""Discord shows a typing indicator for about 10 s per request."""
TYPING_DELAY_SECONDS = 1.0
"""How long an answer may take to show its first words before the typing indicator goes on:
most show theirs sooner (0.1-0.7 s, under load too)."""
_ARCHIVED_THREAD = 50083
FINAL_DEADLINE_SECONDS = 60.0
"""How long an answer's final text is retried (past discord.py's own 429 and 5xx retries)
before the answer is reported undelivered."""
_FINAL_BACKOFF = (0.5, 8.0)


class _PiecewiseReply:
    """Renders a growing answer as a run of messages of at most MAX_LEN characters.

    `split_message` keeps earlier pieces stable as the text grows, so a finished piece is edited
    once more at most (when it gets its final cut) and only the last piece keeps changing.
    """

    max_len = MAX_LEN

    def __init__(
        self,
        min_edit_interval: float,
        on_posted: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.min_edit_interval = min_edit_interval
        self._handles: list[Any] = []
        self._shown: list[str] = []
        self._gone = False
        self._on_posted = on_posted
        """Told each new message's id, so the door can note which conversation it belongs to."""

    async def _create(self, index: int, text: str) -> Any:
        """Post piece `index`; return what `_edit` needs to change it later."""
        raise NotImplementedError

    async def _edit(
        self, index: int, handle: Any, text: str, view: discord.ui.View | None = None
    ) -> None:
        """Change piece `index`, `view` going under it if given."""
        raise NotImplementedError

    async def _render(
        self, text: str, *, final: bool = False, view: discord.ui.View | None = None
    ) -> None:
        """Show the text (`view` under its last message, which must already show); the final
        text is retried until it lands, else DeliveryFailed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_DEADLINE_SECONDS
        wait = _FINAL_BACKOFF[0]
        while not await self._try_render(text, view) and final:
            if self._gone or loop.time() + wait > deadline:
                raise DeliveryFailed("the final text could not be shown on Discord")
            await asyncio.sleep(wait)
            wait = min(wait * 2, _FINAL_BACKOFF[1])

    async def _try_render(self, text: str, view: discord.ui.View | None = None) -> bool:
        """Bring every message up to the text, `view` going on the last one (edited for it even
        if its text is the same); False after a platform error (logged)."""
        if self._gone or not text.strip():
            return not self._gone
        pieces = split_message(text, self.max_len)
        for index, piece in enumerate(pieces):
            controls = view if index == len(pieces) - 1 else None
            try:
                if index >= len(self._shown):
                    handle = await self._create(index, piece)
                    self._handles.append(handle)
                    self._shown.append(piece)
                    if self._on_posted is not None:
                        await self._on_posted(handle.id)
                elif self._shown[index] != piece or controls is not None:
                    await self._edit(index, self._handles[index], piece, controls)
                    self._shown[index] = piece
            except discord.HTTPException as error:
                self._on_error(error)
                return False
        return True

    def _on_error(self, error: discord.HTTPException) -> None:
        """A message or channel that is gone stays gone: stop sending rather than fail again."""
        gone = isinstance(error, discord.NotFound | discord.Forbidden)
        self._gone = gone or error.code == _ARCHIVED_THREAD
        log.warning(
            "discord reply failed: HTTP %s, code %s%s",
            error.status,
            error.code,
            "; giving up on this answer" if self._gone else "",
        )

    async def update(self, text: str) -> None:
        await self._render(reveal_links(text))

    async def finish(self, text: str) -> None:
        await self._render(reveal_links(text) or EMPTY_ANSWER, final=True)

    async def fail(self, message: str) -> None:
        await self._render(message, final=True)


class _AsksApproval:
    """Posts a tool call's request with Approve / Deny buttons beside the answer, and replaces
    the buttons with the outcome once it is known."""

    _approvals: Approvals | None

    def _init_approvals(self, approvals: Approvals | None) -> None:
        self._approvals = approvals
        self._requests: dict[str, Any] = {}
        """The message showing each request still waiting, by request id."""

    async def _post_request(self, text: str, view: discord.ui.View) -> Any:
        raise NotImplementedError

    async def ask_approval(self, request: ApprovalRequest) -> None:
        if self._approvals is None:  # a door that offers no buttons: the request times out
            log.warning("no approval buttons on this reply; %s will not run", request.tool)
            return
        text = approval_lines.asking(request, MAX_LEN)
        try:
            self._requests[request.id] = await self._post_request(
                text, self._approvals.view(request)
            )
        except discord.HTTPException as error:
            log.warning("could not ask for approval: HTTP %s, code %s", error.status, error.code)

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        message = self._requests.pop(request.id, None)
        if message is None:
            return
        text = approval_lines.settled(request, outcome, decider(by))
        try:
            await message.edit(
                content=text,
                view=None,
                allowed_mentions=NO_MENTIONS,
                **_previews_kept(message, True),
            )
        except discord.HTTPException as error:
            log.warning("could not settle a request: HTTP %s, code %s", error.status, error.code)


class ChannelReply(_AsksApproval, _PiecewiseReply):
    """An answer in a channel, DM or thread: typing, then a reply to the user's message, edited."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        *,
        reply_to: discord.Message | discord.PartialMessage | None,
        min_edit_interval: float,
        link_previews: bool = False,
        on_posted: Callable[[int], Awaitable[None]] | None = None,
        edits: ChannelWrites | None = None,
        feedback: discord.ui.View | None = None,
        approvals: Approvals | None = None,
        typing_delay: float = TYPING_DELAY_SECONDS,
    ) -> None:
        super().__init__(min_edit_interval, on_posted)
        self._init_approvals(approvals)
        self._typing_delay = typing_delay
        self._channel = channel
        self._reply_to = reply_to
        self._feedback = feedback
        self._suppress_embeds = not link_previews
        self._typing: asyncio.Task[None] | None = None
        self._edits = edits
        """The channel's budget shared with the other answers streaming there."""

    @property
    def channel(self) -> discord.abc.Messageable:
        """Where the answer goes."""
        return self._channel

    @classmethod
    def restore(cls, client: discord.Client, saved: dict[str, Any]) -> ChannelReply:
        """The reply a receipt describes, to finish its answer from another process."""
        channel = client.get_partial_messageable(saved["channel"])
        reply_to = saved["reply_to"]
        sink = cls(
            channel,
            reply_to=channel.get_partial_message(reply_to) if reply_to else None,
            min_edit_interval=1.0,
        )
        sink._handles = [channel.get_partial_message(id) for id in saved["messages"]]
        sink._shown = list(saved["shown"])
        return sink

    def receipt(self) -> str | None:
        return json.dumps(
            {
                "sink": "channel",
                "channel": self._channel.id,
                "reply_to": self._reply_to.id if self._reply_to is not None else None,
                "messages": [handle.id for handle in self._handles],
                "shown": self._shown,
            }
        )

    async def finish_rated(self, text: str, record: Record) -> bool:
        """The final text with the feedback buttons under its last message, in the same edit,
        when that message already shows; else (a new last message) `finish`."""
        final = reveal_links(text) or EMPTY_ANSWER
        if self._feedback is None or len(split_message(final, self.max_len)) > len(self._shown):
            await self.finish(text)
            return False
        self._spend()
        await record(self._answer_ids())
        await self._render(final, final=True, view=self._feedback)
        return True

    async def offer_rating(self) -> tuple[str, ...]:
        """The feedback buttons under the answer's last message; the ids of all its messages."""
        if self._feedback is None or not self._handles:
            return ()
        try:
            handle = self._handles[-1]
            await handle.edit(
                view=self._feedback,
                allowed_mentions=NO_MENTIONS,
                **_previews_kept(handle, self._suppress_embeds),
            )
        except discord.HTTPException as error:
            log.info("could not add the feedback buttons: HTTP %s", error.status)
            return ()
        return self._answer_ids()

    def _answer_ids(self) -> tuple[str, ...]:
        return tuple(answer_id(self._channel.id, handle.id) for handle in self._handles)

    async def start(self) -> None:
        # In the background: the first words must not wait for the typing request.
        self._typing = asyncio.create_task(self._keep_typing())

    async def _keep_typing(self) -> None:
        # Only for an answer slow to show its first words (a slow model, a tool step): a quick
        # one needs no indicator, and the request costs Parley as much CPU as an edit.
        await asyncio.sleep(self._typing_delay)
        while True:
            try:
                await self._channel.typing()
            except discord.HTTPException as error:
                log.info("typing indicator failed: HTTP %s", error.status)
                return
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    async def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            with suppress(asyncio.CancelledError):
                await self._typing
            self._typing = None

    async def _try_render(self, text: str, view: discord.ui.View | None = None) -> bool:
        await self._stop_typing()
        return await super()._try_render(text, view)

    async def _post_request(self, text: str, view: discord.ui.View) -> discord.Message:
        """In the answer's place: a reply to the question (or in its thread); no typing while
        the request waits."""
        await self._stop_typing()
        self._spend()
        return await self._channel.send(
            text,
            reference=self._reference(),
            view=view,
            allowed_mentions=NO_MENTIONS,
            suppress_embeds=True,
        )

    def _reference(self) -> discord.MessageReference | None:
        """A reply to the question, if there is one to reply to (in a thread there is not)."""
        if self._reply_to is None:
            return None
        return self._reply_to.to_reference(fail_if_not_exists=False)

    async def update(self, text: str) -> None:
        if self._edits is not None:
            if not self._shown:
                self._edits.spend(self._channel.id)  # the first words go regardless
            elif not self._edits.take(self._channel.id):
                return  # the channel is busy: a later update or the final text shows this text
        await super().update(text)

    async def finish(self, text: str) -> None:
        self._spend()
        await super().finish(text)

    async def fail(self, message: str) -> None:
        self._spend()
        await super().fail(message)

    def _spend(self) -> None:
        if self._edits is not None:
            self._edits.spend(self._channel.id)

    async def _create(self, index: int, text: str) -> discord.Message:
        if index:  # the first message is counted by update or finish, later ones here
            self._spend()
        return await self._channel.send(
            text,
            reference=self._reference() if index == 0 else None,
            allowed_mentions=NO_MENTIONS,
            suppress_embeds=self._suppress_embeds,  # kept by later edits
        )

    async def _edit(
        self, index: int, handle: discord.Message, text: str, view: discord.ui.View | None = None
    ) -> None:
        await handle.edit(
            content=text,
            allowed_mentions=NO_MENTIONS,
            **_previews_kept(handle, self._suppress_embeds),
            **_with_view(view),
        )


class ThreadReply(ChannelReply):
    """An answer in a thread opened from the question once the core claimed the event (so a
    redelivery opens none); in the channel, as a reply, when Discord refuses the thread. Then
    `link` notes the question and the answer's messages as the conversation's, so a reply to
    them continues it in the channel."""

    def __init__(
        self,
        question: discord.Message,
        name: str,
        *,
        link: Callable[[int], Awaitable[None]],
        **options: Any,
    ) -> None:
        super().__init__(question.channel, reply_to=question, **options)
        self._question = question
        self._name = name
        self._link = link

    async def claimed(self) -> None:
        try:
            thread = await self._question.create_thread(name=self._name)
        except discord.HTTPException as error:
            log.warning("could not open a thread (HTTP %s); answering in the channel", error.status)
            self._on_posted = self._link
            await self._link(self._question.id)
            return
        self._channel, self._reply_to = thread, None


class InteractionReply(_AsksApproval, _PiecewiseReply):
    """An answer to a slash command: deferred at once, then the original response is edited and
    long answers continue as follow-ups."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        ephemeral: bool,
        min_edit_interval: float,
        link_previews: bool = False,
        on_posted: Callable[[int], Awaitable[None]] | None = None,
        approvals: Approvals | None = None,
    ) -> None:
        super().__init__(min_edit_interval, on_posted)
        self._init_approvals(approvals)
        self._interaction = interaction
        self._ephemeral = ephemeral
        self._suppress_embeds = not link_previews

    async def acknowledge(self) -> None:
        """Defer within Discord's 3 s deadline ("thinking..."), before the turn is queued."""
        try:
            await self._interaction.response.defer(thinking=True, ephemeral=self._ephemeral)
        except discord.HTTPException as error:
            self._on_error(error)

    async def start(self) -> None:
        """Deferring already shows that Parley is thinking."""

    def receipt(self) -> str | None:
        """The interaction's webhook (its token lives 15 minutes) and the answer's message ids,
        once the original response shows text; before that only Discord's "thinking…" shows."""
        if not self._handles:
            return None
        return json.dumps(
            {
                "sink": "interaction",
                "application_id": self._interaction.application_id,
                "token": self._interaction.token,
                "ephemeral": self._ephemeral,
                "messages": [handle.id for handle in self._handles],
                "shown": self._shown,
            }
        )

    async def _create(
        self, index: int, text: str
    ) -> discord.InteractionMessage | discord.WebhookMessage:
        if index == 0:
            return await self._interaction.edit_original_response(
                content=text, allowed_mentions=NO_MENTIONS
            )
        return await self._interaction.followup.send(
            text,
            wait=True,
            ephemeral=self._ephemeral,
            allowed_mentions=NO_MENTIONS,
            suppress_embeds=self._suppress_embeds,
        )

    async def _edit(
        self,
        index: int,
        handle: discord.InteractionMessage | discord.WebhookMessage,
        text: str,
        view: discord.ui.View | None = None,
    ) -> None:
        await handle.edit(content=text, allowed_mentions=NO_MENTIONS, **_with_view(view))

    async def _post_request(self, text: str, view: discord.ui.View) -> discord.WebhookMessage:
        """A follow-up to the command, as private as its answer."""
        return await self._interaction.followup.send(
            text,
            view=view,
            wait=True,
            ephemeral=self._ephemeral,
            allowed_mentions=NO_MENTIONS,
            suppress_embeds=True,
        )


class RestoredInteractionReply(_PiecewiseReply):
    """The answer to a slash command that another process began, finished through the
    interaction's webhook (so within the 15 minutes its token lives)."""

    def __init__(self, client: discord.Client, saved: dict[str, Any]) -> None:
        super().__init__(min_edit_interval=1.0)
        self._webhook = discord.Webhook.partial(
            saved["application_id"], saved["token"], client=client
        )
        self._ephemeral = saved["ephemeral"]
        self._handles = list(saved["messages"])
        self._shown = list(saved["shown"])

    async def start(self) -> None:
        """Nothing to start: the answer is already under way."""

    async def _create(self, index: int, text: str) -> int:
        if self._ephemeral:  # a plain webhook cannot post privately: do not post publicly
            raise DeliveryFailed("an interrupted private answer needs a new message")
        message = await self._webhook.send(
            text, wait=True, allowed_mentions=NO_MENTIONS, suppress_embeds=True
        )
        return message.id

    async def _edit(
        self, index: int, handle: int, text: str, view: discord.ui.View | None = None
    ) -> None:
        await self._webhook.edit_message(
            handle, content=text, allowed_mentions=NO_MENTIONS, **_with_view(view)
        )


def _previews_kept(message: discord.PartialMessage, suppress: bool) -> dict[str, Any]:
    """`suppress=` for an edit of a channel message, which otherwise sends suppress=False and
    turns link previews back on; a partial, webhook or interaction message's edit takes no such
    flag and leaves the message's own as it is."""
    other = (discord.WebhookMessage, discord.InteractionMessage)
    channel = isinstance(message, discord.Message) and not isinstance(message, other)
    return {"suppress": suppress} if channel else {}


def _with_view(view: discord.ui.View | None) -> dict[str, Any]:
    """`view=` for a discord.py call, left out without one (None would remove any controls)."""
    return {} if view is None else {"view": view}


def restored(client: discord.Client, receipt: str) -> ChannelReply | RestoredInteractionReply:
    """The reply that showed an answer, from its receipt, to finish that answer."""
    saved = json.loads(receipt)
    if saved["sink"] == "interaction":
        return RestoredInteractionReply(client, saved)
    return ChannelReply.restore(client, saved)
