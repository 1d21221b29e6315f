"""Catching up in Slack: `/parley summarize` of a channel, the `parley_summarize` and
`parley_translate` message shortcuts, and "summarize the channel I'm viewing" in the agent view.

History is read once, newest first, paged by cursor (slack_sdk retries 429s after their
Retry-After); private channels, group DMs and DMs are summarized only for their members.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.manifest import SUMMARIZE_SHORTCUT, TRANSLATE_SHORTCUT
from adapters.slack.people import People
from adapters.slack.permalinks import message_link
from adapters.slack.settings import SlackSettings
from adapters.slack.sink import ResponseUrlSink
from adapters.slack.translate import BotIdentity, Payload
from bot.catchup import translation_of
from bot.types import Author, ConversationKey, History, HistoryMessage, Incoming, Kind
from bot.wiring import Runtime

log = logging.getLogger(__name__)

PAGE = 200
"""Messages per history page: Slack's recommended most."""
NOT_A_MEMBER = "That conversation is private and you are not in it, so I won't summarize it."
CANNOT_READ = "I can't read that conversation: invite me to it (/invite @Parley), then ask again."
NO_TEXT = "That message has no text to translate."
NOT_ENABLED_HERE = "Parley is not enabled here."
NOT_ENABLED_THERE = "Parley is not enabled in the channel you are viewing."
DEFAULT_WORKSPACE_URL = "https://slack.com/"
"""Only if auth.test named no workspace URL: Slack redirects its links to the right one."""
WHOLE_THREAD = "all"
"""A thread is summarized from its start, as far as the budgets reach."""
_ASKS_SUMMARY = re.compile(r"^\s*(?:please\s+)?summari[sz]e\b(?P<rest>.*)$", re.I | re.S)
_SINCE = re.compile(r"\b(\d{1,4}\s*[mhdw]|yesterday|today|all)\b", re.I)
_ONLY_POINTING = re.compile(r"\W*(?:(?:this|it|here|please|for me)\W*)*")
_CHANNEL_ENTITY = "slack#/types/channel_id"


class SlackCatchUp:
    """Summaries and translations for the Slack door: what to read, and who may have it read."""

    def __init__(self, runtime: Runtime, client: AsyncWebClient, people: People) -> None:
        self._runtime = runtime
        self._admits = runtime.dialogue.admits
        self._client = client
        self._people = people
        self._workspace_urls: dict[str, str] = {}
        """auth.test's `url` per workspace, asked once: the base of every message link (bolt's
        own single-workspace authorization does not keep it)."""

    def register(self, bolt: AsyncApp) -> None:
        bolt.message_shortcut(SUMMARIZE_SHORTCUT)(self._on_summarize_shortcut)
        bolt.message_shortcut(TRANSLATE_SHORTCUT)(self._on_translate_shortcut)

    async def readable(
        self, incoming: Incoming, channel: str, context: AsyncBoltContext
    ) -> Incoming | str:
        """`summarize` about a channel, with that channel's history, or the refusal line; any
        other command as it is."""
        if incoming.command != "summarize":
            return incoming
        refusal = await self._refusal(channel, incoming.author.id)
        if refusal is not None:
            return refusal
        reader = await self._reader(context)
        return replace(incoming, history=self._channel_history(channel, reader))

    async def viewed_summary(
        self, incoming: Incoming, context: AsyncBoltContext
    ) -> Incoming | str | None:
        """An agent-view message asking to summarize the channel its author is viewing, as a
        `summarize` of that channel (or the refusal line); None for any other message."""
        asked = _ASKS_SUMMARY.match(incoming.text)
        if asked is None or not _about_the_place(asked["rest"]):
            return None
        channel = _viewed_channel(await self._runtime.store.recall_viewing(incoming.author.id))
        if channel is None:
            return None
        since = _SINCE.search(asked["rest"])
        summary = replace(
            incoming, command="summarize", args=since[1] if since else "", kind=Kind.COMMAND
        )
        # The channel's allowlists hold, though the summary is asked for in a DM.
        viewed = ConversationKey(translate.PLATFORM, context.team_id or "", channel)
        if not self._admits(replace(summary, key=viewed)):
            return NOT_ENABLED_THERE
        return await self.readable(summary, channel, context)

    async def _on_summarize_shortcut(
        self, ack: AsyncAck, shortcut: Payload, context: AsyncBoltContext
    ) -> None:
        """The thread of the message the shortcut is on (its own, or the one it starts)."""
        await ack()
        channel, message, _ = _place(shortcut)
        thread_ts = message.get("thread_ts") or message["ts"]
        author = await self._people.author(shortcut["user"]["id"])
        incoming = _shortcut_incoming(shortcut, author, "summarize", WHOLE_THREAD, thread_ts)
        sink = _private_sink(shortcut, self._runtime)
        refusal = NOT_ENABLED_HERE if not self._admits(incoming) else None
        refusal = refusal or await self._refusal(channel, author.id)
        if refusal is not None:
            await sink.fail(refusal)
            return
        history = self._thread_history(channel, thread_ts, await self._reader(context))
        self._runtime.dialogue.submit(replace(incoming, history=history), sink)

    async def _on_translate_shortcut(
        self, ack: AsyncAck, shortcut: Payload, context: AsyncBoltContext
    ) -> None:
        await ack()
        _, message, _ = _place(shortcut)
        author = await self._people.author(shortcut["user"]["id"])
        text = translate.plain_text(str(message.get("text", "")), _identity(context))
        sink = _private_sink(shortcut, self._runtime)
        arguments = translation_of(text, author.locale)
        incoming = _shortcut_incoming(
            shortcut, author, "translate", arguments, message.get("thread_ts")
        )
        refusal = NOT_ENABLED_HERE if not self._admits(incoming) else None
        if refusal or not text:
            await sink.fail(refusal or NO_TEXT)
            return
        self._runtime.dialogue.submit(incoming, sink)

    async def _reader(self, context: AsyncBoltContext) -> _Reader:
        return _Reader(_identity(context), await self.workspace_url(context))

    async def workspace_url(self, context: AsyncBoltContext) -> str:
        """The base of the workspace's message links, asked once."""
        team = context.team_id or ""
        if team not in self._workspace_urls:
            response = await self._client.auth_test()
            self._workspace_urls[team] = str(response.get("url") or DEFAULT_WORKSPACE_URL)
        return self._workspace_urls[team]

    async def _refusal(self, channel: str, user: str) -> str | None:
        """Why this person may not have this conversation summarized, if they may not: it is
        private (a private channel, a DM or group DM) and they are not in it, or Parley cannot
        read it."""
        try:
            info = (await self._client.conversations_info(channel=channel))["channel"]
            if not (info.get("is_private") or info.get("is_im") or info.get("is_mpim")):
                return None if info.get("is_member") else CANNOT_READ
            async for page in await self._client.conversations_members(channel=channel):
                if user in page.get("members", []):
                    return None
        except SlackApiError as error:
            log.info("cannot read %s for a summary: %s", channel, error.response.get("error"))
            return CANNOT_READ
        return NOT_A_MEMBER

    def _channel_history(self, channel: str, reader: _Reader) -> History:
        async def read(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
            pages = await self._client.conversations_history(
                channel=channel, oldest=f"{since:.6f}", limit=min(PAGE, limit)
            )
            async for page in pages:  # newest first, as Slack sends them
                for message in page.get("messages", []):
                    if (item := await self._item(message, channel, reader)) is not None:
                        yield item

        return read

    def _thread_history(self, channel: str, thread_ts: str, reader: _Reader) -> History:
        async def read(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
            replies: list[Payload] = []
            pages = await self._client.conversations_replies(
                channel=channel, ts=thread_ts, oldest=f"{since:.6f}", limit=min(PAGE, limit)
            )
            async for page in pages:  # oldest first: kept, then handed over newest first
                replies.extend(page.get("messages", []))
                if len(replies) >= limit:
                    break
            for message in reversed(replies[:limit]):
                if (item := await self._item(message, channel, reader)) is not None:
                    yield item

        return read

    async def _item(self, message: Payload, channel: str, reader: _Reader) -> HistoryMessage | None:
        if message.get("subtype") not in {*translate.PERSON_SUBTYPES, "bot_message"}:
            return None
        text = translate.plain_text(str(message.get("text", "")), reader.bot)
        if not text:
            return None
        user = message.get("user")
        name = (await self._people.author(user)).name if user else message.get("username")
        ts = str(message["ts"])
        return HistoryMessage(
            id=ts,
            author=str(name or "someone"),
            text=text,
            at=float(ts),
            link=message_link(reader.workspace_url, channel, ts, message.get("thread_ts")),
        )


@dataclass(frozen=True, slots=True)
class _Reader:
    """What turns a workspace's messages into HistoryMessages: Parley's identity there (its
    mention is dropped) and the workspace URL."""

    bot: BotIdentity
    workspace_url: str


def _identity(context: AsyncBoltContext) -> BotIdentity:
    return BotIdentity(user_id=context.bot_user_id or "", bot_id=context.bot_id)


def _place(shortcut: Payload) -> tuple[str, Payload, str]:
    """(channel, message, workspace) a message shortcut was used on."""
    return (
        str(shortcut["channel"]["id"]),
        shortcut["message"],
        str((shortcut.get("team") or {}).get("id", "")),
    )


def _shortcut_incoming(
    shortcut: Payload, author: Author, command: str, args: str, thread: str | None
) -> Incoming:
    channel, _, team = _place(shortcut)
    space = translate.command_space({"channel_id": channel, "team_id": team})
    return Incoming(
        key=ConversationKey(translate.PLATFORM, space, channel, thread),
        author=author,
        text="",
        event_id=f"{translate.PLATFORM}-shortcut:{shortcut['trigger_id']}",
        kind=Kind.COMMAND,
        command=command,
        args=args,
        home=team or None,
    )


def _private_sink(shortcut: Payload, runtime: Runtime) -> ResponseUrlSink:
    """Only the asker sees it: an ephemeral answer through the shortcut's response_url."""
    interval = runtime.settings.of(SlackSettings).edit_interval
    return ResponseUrlSink(shortcut["response_url"], "ephemeral", edit_interval=interval)


def _about_the_place(rest: str) -> bool:
    """Whether "summarize ..." is about the place being viewed ("this channel", "it", "3d"),
    not about something else ("summarize this article: ...")."""
    words = _SINCE.sub(" ", rest.lower())
    return "channel" in words or _ONLY_POINTING.fullmatch(words) is not None


def _viewed_channel(context: str | None) -> str | None:
    """The channel in what a person views (the agent view's entities, or the legacy assistant
    thread's `channel_id`)."""
    try:
        viewed = json.loads(context or "null")
    except ValueError:
        return None
    if not isinstance(viewed, dict):
        return None
    for entity in viewed.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == _CHANNEL_ENTITY:
            return str(entity.get("value")) or None
    channel = viewed.get("channel_id")
    return channel if isinstance(channel, str) and channel else None
