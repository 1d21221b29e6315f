"""The Slack door: a bolt AsyncApp whose listeners translate events and hand them to the core.

Bolt acknowledges every event before its listener runs (and /commands ack first thing), so Slack
gets its answer within milliseconds; the model runs in `dialogue.submit` tasks, which the runtime
tracks for a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncAssistant, AsyncBoltContext, AsyncSetStatus
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import approvals, manifest, translate
from adapters.slack.catchup import NOT_ENABLED_HERE, SlackCatchUp
from adapters.slack.files import SlackFiles
from adapters.slack.format import asked, neutralise
from adapters.slack.people import People
from adapters.slack.permalinks import message_link
from adapters.slack.settings import SlackSettings
from adapters.slack.sink import (
    DISLIKED,
    FEEDBACK_ACTION,
    LIKED,
    PLATFORM_HICCUPS,
    MessageSink,
    OnStart,
    ResponseUrlSink,
    StreamSink,
    answer_id,
    restored,
    retry_handlers,
)
from adapters.slack.translate import BotIdentity, Payload
from bot.attachments import FileLimits
from bot.dialogue import Rated
from bot.pacing import ChannelWrites
from bot.replies import ReplySink
from bot.types import (
    Attachment,
    Author,
    ChatMessage,
    ConversationKey,
    HistoryMessage,
    Incoming,
    Kind,
)
from bot.wiring import Runtime

log = logging.getLogger(__name__)


EVENTS_PATH = manifest.EVENTS_PATH  # the manifest tells Slack this path: one definition
STARTING_RETRY_AFTER = "2"
"""Seconds Slack is asked to wait before redelivering an event that came while Parley started."""
THREAD_READ_LIMIT = 50
"""Messages read, once, from a thread Parley is first called into; the core trims to the budget."""
THINKING_STATUS = "is thinking…"
TITLE_LENGTH = 60
"""Characters of a thread's first message that become its title in the Messages tab."""
SUGGESTED_PROMPTS = (
    {"title": "Summarise", "message": "Summarise what I paste next in five bullet points."},
    {"title": "Explain", "message": "Explain a concept to me step by step."},
    {"title": "Draft", "message": "Help me draft a short, friendly message."},
)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _what(body: bytes) -> str:
    """An Events API payload's event type and id, for logs (never its content)."""
    try:
        payload = json.loads(body)
        event = payload.get("event")
        kind = event.get("type") if isinstance(event, dict) else payload.get("type")
        return f"{str(kind)[:40]} event (id {str(payload.get('event_id'))[:40]})"
    except (ValueError, AttributeError):
        return "request"


def _configured(
    client: AsyncWebClient, api_url: str, session: aiohttp.ClientSession
) -> AsyncWebClient:
    """Bolt's client (the one its listeners' clients copy) at the API URL, with the door's
    session and slack_sdk's retries."""
    client.base_url = api_url
    client.session = session
    client.retry_handlers = retry_handlers()
    return client


def _identity(context: AsyncBoltContext) -> BotIdentity:
    return BotIdentity(user_id=context.bot_user_id or "", bot_id=context.bot_id)


def _asker(command: Payload) -> Author:
    """Who ran a slash command, enough for the allowlists before the ack (no lookup yet)."""
    return Author(id=str(command.get("user_id", "")), name="")


class SlackDoor:
    """The bolt app with Parley's listeners; `handle_http` is its Events API endpoint."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings.of(SlackSettings)
        self._runtime = runtime
        self._settings = settings
        # One session for every Web API call: without it slack_sdk opens (and closes) a session,
        # and so a TCP and TLS connection, per call: most of a streamed answer's CPU at scale.
        self._session = aiohttp.ClientSession()
        secret = _secret(settings.signing_secret)
        # The token, not a client: given a client too, bolt warns at every start that the token
        # (SLACK_BOT_TOKEN, which it reads from the environment itself) goes unused.
        self.bolt = AsyncApp(
            name="parley", token=_secret(settings.bot_token), signing_secret=secret
        )
        self.client = _configured(self.bolt.client, settings.api_url, self._session)
        self._first_dispatch = asyncio.Lock()
        self._dispatched = False
        self._verifier = SignatureVerifier(secret) if secret else None  # None: Socket Mode
        self._people = People(self.client)
        self._files = SlackFiles(
            _secret(settings.bot_token), settings.api_url, FileLimits.of(runtime.settings)
        )
        self._writes = ChannelWrites(settings.channel_edits)
        self._catch_up = SlackCatchUp(runtime, self.client, self._people)
        self._agent = settings.surface == "agent"
        self.subscribed: set[str] = set()
        """The event types the door listens to (`message` stands for its channel-type events)."""
        self.ready = False
        """Set once Slack accepted the token: until then events get 503 and Slack redelivers."""
        self._register()

    async def close(self) -> None:
        """Release the Web API and file-download sessions."""
        await self._files.close()
        await self._session.close()

    async def repair(self, receipt: str, text: str) -> None:
        """Show `text` as the final text of the answer a sink's receipt names (one a restart
        cut short)."""
        await restored(self.client, receipt).finish(text)

    async def handle_http(self, request: web.Request) -> web.Response:
        """One request from Slack: 401 unless signed within five minutes, 503 while starting."""
        body = await request.read()
        if not self._signed(request, body):
            # Anyone can reach this port: a refusal is routine, not worth more than DEBUG.
            log.debug("refused a Slack request without a valid signature")
            return web.json_response({"error": "invalid request"}, status=401)
        if not self.ready:
            return web.Response(status=503, headers={"Retry-After": STARTING_RETRY_AFTER})
        try:
            response = await self._dispatch(await to_bolt_request(request))
        except Exception as error:
            # Bolt reads a payload's shape before any listener runs (e.g. a `user` that is not a
            # string): skip what it cannot read. A 200, since a redelivery would fail the same way.
            log.warning("skipped a malformed Slack %s: %s", _what(body), type(error).__name__)
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    async def _dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        """Bolt's dispatch, the first request alone: bolt authorizes with auth.test until one
        answer has come back (then keeps it), so a first burst of 200 events made 201 calls."""
        if not self._dispatched:
            async with self._first_dispatch:
                if not self._dispatched:  # the first: the others wait for it, not each other
                    response = await self.bolt.async_dispatch(request)
                    self._dispatched = True
                    return response
        return await self.bolt.async_dispatch(request)

    def _signed(self, request: web.Request, body: bytes) -> bool:
        """Checked before bolt, which fails with a 500 on a non-numeric timestamp."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if self._verifier is None or not (timestamp.isascii() and timestamp.isdigit()):
            return False
        return self._verifier.is_valid(body, timestamp, request.headers.get("X-Slack-Signature"))

    def _register(self) -> None:
        self._listen("app_mention", self._on_mention)
        self._listen("message", self._on_message)
        self.bolt.command(self._settings.ask_command)(self._on_ask)
        self.bolt.command(self._settings.command)(self._on_parley)
        self.bolt.action(FEEDBACK_ACTION)(self._on_feedback)
        self._catch_up.register(self.bolt)
        self.bolt.action(approvals.ACTIONS)(self._on_approval)
        if self._agent:
            self._listen("app_home_opened", self._on_home_opened)
            self._listen("app_context_changed", self._on_app_context_changed)
            return
        self.subscribed |= {"assistant_thread_started", "assistant_thread_context_changed"}
        assistant = AsyncAssistant()
        assistant.thread_started(self._on_assistant_thread_started)
        # Bolt's default keeps the thread context by reading the thread back: not needed here.
        assistant.thread_context_changed(self._on_assistant_context_changed)
        assistant.user_message(self._on_assistant_message)
        self.bolt.use(assistant)

    def _listen(self, event_type: str, listener: Any) -> None:
        self.bolt.event(event_type)(listener)
        self.subscribed.add(event_type)

    async def _on_mention(self, event: Payload, context: AsyncBoltContext) -> None:
        bot = _identity(context)
        if not translate.is_from_person(event, bot):
            return
        author = await self._people.author(event["user"])
        incoming = translate.mention(event, context.team_id or "", author, bot)
        await self._converse(incoming, event, context, may_join_thread=True)

    async def _on_message(self, event: Payload, context: AsyncBoltContext) -> None:
        """DMs, and replies in threads Parley already answered in (mentions have their listener;
        a twin `message` of a mention maps to the same event id and the core answers once)."""
        await self._answer_message(event, context)
        await self._overhear(event, context, _identity(context))  # after: never delays a turn

    async def _answer_message(self, event: Payload, context: AsyncBoltContext) -> None:
        bot = _identity(context)
        if not translate.is_from_person(event, bot):
            return
        kind = translate.message_kind(event)
        if kind is None:
            return
        team_id = context.team_id or ""
        if kind is Kind.THREAD:
            key = translate.message_key(event, team_id)
            if not self._settings.follow_threads or not await self._knows(key):
                return
        author = await self._people.author(event["user"])
        incoming = translate.message(event, team_id, author, bot, dm_threads=self._agent)
        on_start = None
        if self._agent and kind is Kind.DM:
            # Agent view: the DM thread is the conversation, shown with a status and a title.
            on_start = self._status_setter(event["channel"], incoming.key.thread or event["ts"])
            if not event.get("thread_ts"):
                await self._set_title(event["channel"], event["ts"], incoming.text)
        await self._converse(incoming, event, context, may_join_thread=False, on_start=on_start)

    async def _overhear(self, event: Payload, context: AsyncBoltContext, bot: BotIdentity) -> None:
        """A person's message in a channel (threads included), its edit or its deletion, to the
        core, which keeps it if the channel's memory is on."""
        team = context.team_id or ""
        deleted = translate.deleted_message(event)
        if deleted is not None:
            await self._runtime.dialogue.retract(translate.message_key(event, team), deleted)
            return
        said = translate.said_in_channel(event, bot)
        if said is None:
            return
        author = await self._people.author(said["user"])
        channel, ts = said["channel"], said["ts"]
        link = message_link(
            await self._catch_up.workspace_url(context), channel, ts, said.get("thread_ts")
        )
        message = HistoryMessage(
            id=translate.event_id(channel, ts),
            author=author.name,
            text=translate.plain_text(said.get("text", ""), bot),
            at=float(ts),
            link=link,
        )
        await self._runtime.dialogue.overhear(translate.message_key(said, team), author, message)

    def _status_setter(self, channel: str, thread_ts: str) -> OnStart:
        async def set_status() -> None:
            await self.client.assistant_threads_setStatus(
                channel_id=channel, thread_ts=thread_ts, status=THINKING_STATUS
            )

        return set_status

    async def _set_title(self, channel: str, thread_ts: str, text: str) -> None:
        title = " ".join(text.split())[:TITLE_LENGTH]
        if not title:
            return
        try:
            await self.client.assistant_threads_setTitle(
                channel_id=channel, thread_ts=thread_ts, title=title
            )
        except PLATFORM_HICCUPS as error:
            log.info("could not title the thread: %s", error)

    async def _on_home_opened(self, event: Payload) -> None:
        """The Messages tab opened (agent view): suggest prompts at the top of the DM."""
        if event.get("tab") != "messages" or not isinstance(event.get("channel"), str):
            return
        try:
            await self.client.assistant_threads_setSuggestedPrompts(
                channel_id=event["channel"], prompts=list(SUGGESTED_PROMPTS)
            )
        except PLATFORM_HICCUPS as error:
            log.warning("could not suggest prompts: %s", error)

    async def _on_app_context_changed(self, event: Payload) -> None:
        """Keep what the person is viewing (channel, canvas, list, message) for later prompts."""
        await self._remember_viewing(event.get("user"), event.get("context"))

    async def _remember_viewing(self, user: object, context: object) -> None:
        if isinstance(user, str) and user and isinstance(context, dict):
            await self._runtime.store.remember_viewing(user, json.dumps(context))

    async def _on_assistant_thread_started(
        self, set_suggested_prompts: AsyncSetSuggestedPrompts
    ) -> None:
        try:
            await set_suggested_prompts(prompts=list(SUGGESTED_PROMPTS))
        except PLATFORM_HICCUPS as error:
            log.warning("could not suggest prompts: %s", error)

    async def _on_assistant_context_changed(self, payload: Payload) -> None:
        thread = payload.get("assistant_thread") or {}
        await self._remember_viewing(thread.get("user_id"), thread.get("context"))

    async def _on_assistant_message(
        self, event: Payload, context: AsyncBoltContext, set_status: AsyncSetStatus
    ) -> None:
        """A message in an assistant thread (Slack's AI-app surface, a DM thread): a DM turn that
        shows a thinking status while the model works."""
        bot = _identity(context)
        if not translate.is_from_person(event, bot):
            return
        author = await self._people.author(event["user"])
        incoming = translate.message(event, context.team_id or "", author, bot)
        await self._converse(
            incoming,
            event,
            context,
            may_join_thread=False,
            on_start=lambda: set_status(status=THINKING_STATUS),
        )

    async def _on_feedback(self, ack: AsyncAck, body: Payload) -> None:
        """A thumbs up or down on an answer: kept, one per person per answer."""
        await ack()
        click = translate.click(body)
        ts = (body.get("container") or {}).get("message_ts")
        values = [a.get("value") for a in body.get("actions") or [] if isinstance(a, dict)]
        if click is None or not isinstance(ts, str) or values[:1] not in ([LIKED], [DISLIKED]):
            return
        channel = click.key.channel
        rated = await self._runtime.dialogue.rate(
            answer_id(channel, ts), click, liked=values[0] == LIKED
        )
        if rated is not Rated.KEPT:  # the buttons show a kept rating themselves
            await self._tell(channel, click.author.id, rated)

    async def _on_approval(self, ack: AsyncAck, body: Payload) -> None:
        """An Approve or Deny click on a tool call's request: it counts only from someone who
        may talk to Parley here (the core then checks that it is the asker); the clicker alone
        is told what came of it."""
        await ack()
        clicker = translate.click(body)
        actions = [a for a in body.get("actions") or [] if isinstance(a, dict)]
        if clicker is None or not actions:
            return
        action, request_id = actions[0].get("action_id"), actions[0].get("value")
        if not isinstance(request_id, str):
            return
        user = clicker.author.id
        if self._runtime.dialogue.admits(clicker):
            line = await self._runtime.dialogue.decide(
                request_id, user, approvals.approved(str(action))
            )
        else:
            line = NOT_ENABLED_HERE
        thread_ts = (body.get("container") or {}).get("thread_ts")
        await self._tell(clicker.key.channel, user, line, thread_ts)

    async def _on_ask(self, ack: AsyncAck, command: Payload, context: AsyncBoltContext) -> None:
        """`/ask <prompt>`: the prompt is posted visibly and answered in that message's thread,
        which is the conversation; ephemeral or where Parley may not post, via response_url."""
        prompt = str(command.get("text", "")).strip()
        if not prompt:
            await ack(text=f"Usage: {self._settings.ask_command} <question>")
            return
        bot = _identity(context)
        place = ConversationKey(
            translate.PLATFORM, translate.command_space(command), str(command.get("channel_id"))
        )
        if not self._runtime.dialogue.admits(translate.ask(command, _asker(command), place, bot)):
            await ack(text=NOT_ENABLED_HERE)  # before anything is posted in the channel
            return
        await ack()
        author = await self._people.author(command["user_id"])
        header = asked(command["user_id"], translate.plain_text(prompt, bot))
        key, sink = await self._ask_place(command, context, header)
        self._runtime.dialogue.submit(translate.ask(command, author, key, bot), sink)

    async def _ask_place(
        self, command: Payload, context: AsyncBoltContext, header: str
    ) -> tuple[ConversationKey, ReplySink]:
        channel = command["channel_id"]
        private = translate.private_key(command)
        interval = self._settings.edit_interval
        if self._settings.command_visibility == "ephemeral":
            return private, ResponseUrlSink(
                command["response_url"], "ephemeral", edit_interval=interval
            )
        try:
            posted = await self.client.chat_postMessage(channel=channel, text=header)
        except PLATFORM_HICCUPS as error:
            # not_in_channel (or a DM with someone else): only the response_url reaches the asker.
            log.info("answering /ask through its response_url: %s", error)
            sink = ResponseUrlSink(
                command["response_url"], "in_channel", header=header, edit_interval=interval
            )
            return private, sink
        key = ConversationKey(
            translate.PLATFORM, translate.command_space(command), channel, posted["ts"]
        )
        return key, self._sink(key, context, command["user_id"])

    async def _on_parley(self, ack: AsyncAck, command: Payload, context: AsyncBoltContext) -> None:
        """`/parley reset|stop|...`: about the channel's (or DM's) conversation; only the asker
        sees the reply."""
        if not self._runtime.dialogue.admits(translate.parley_command(command, _asker(command))):
            await ack(text=NOT_ENABLED_HERE)
            return
        await ack()
        author = await self._people.author(command["user_id"])
        sink = ResponseUrlSink(
            command["response_url"], "ephemeral", edit_interval=self._settings.edit_interval
        )
        incoming = await self._catch_up.readable(
            translate.parley_command(command, author), command["channel_id"], context
        )
        if isinstance(incoming, str):
            await sink.fail(incoming)
            return
        self._runtime.dialogue.submit(incoming, sink)

    async def _converse(
        self,
        incoming: Incoming,
        event: Payload,
        context: AsyncBoltContext,
        *,
        may_join_thread: bool,
        on_start: OnStart | None = None,
    ) -> None:
        key = incoming.key
        sink = self._sink(key, context, event["user"], on_start)
        if incoming.kind is Kind.DM:  # the AI surface: "summarize this channel" while viewing it
            summary = await self._catch_up.viewed_summary(incoming, context)
            if isinstance(summary, str):
                await sink.fail(summary)
                return
            incoming = summary or incoming
        if may_join_thread and translate.joins_thread(event):
            incoming = replace(incoming, missed=partial(self._read_thread, event, context))
        files = event.get("files")
        if isinstance(files, list) and files:
            incoming = replace(incoming, files=partial(self._read_files, files, event, key))
        self._runtime.dialogue.submit(incoming, sink)

    async def _read_files(
        self, files: list[Any], event: Payload, key: ConversationKey
    ) -> tuple[Attachment, ...]:
        attachments, left_out = await self._files.read(files)
        if left_out:
            await self._tell(event["channel"], event["user"], left_out, key.thread)
        return attachments

    async def _tell(self, channel: str, user: str, line: str, thread_ts: str | None = None) -> None:
        """A short line only this person sees (a click's outcome, files not read); a failure
        to tell is logged, never raised into the listener."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=neutralise(line)
            )
        except PLATFORM_HICCUPS as error:
            log.info("could not tell %s a private line: %s", user, error)

    def _sink(
        self,
        key: ConversationKey,
        context: AsyncBoltContext,
        user_id: str,
        on_start: OnStart | None = None,
    ) -> ReplySink:
        """Stream in threads when allowed (streams must be replies); else post and update."""
        interval = self._settings.edit_interval
        if key.thread is None or not self._settings.streaming:
            return MessageSink(
                self.client,
                key.channel,
                key.thread,
                edit_interval=interval,
                on_start=on_start,
                writes=self._writes,
            )
        return StreamSink(
            self.client,
            key.channel,
            key.thread,
            edit_interval=interval,
            on_stopped=lambda: self._runtime.dialogue.stop(key, user_id),
            recipient_user_id=user_id,
            recipient_team_id=context.team_id,
            on_start=on_start,
            writes=self._writes,
        )

    async def _knows(self, key: ConversationKey) -> bool:
        return await self._runtime.dialogue.knows(key)

    async def _read_thread(
        self, event: Payload, context: AsyncBoltContext, first_here: bool
    ) -> tuple[ChatMessage, ...]:
        """The thread's earlier messages, read once when Parley is first called into it."""
        if not first_here:
            return ()
        try:
            response = await self.client.conversations_replies(
                channel=event["channel"], ts=event["thread_ts"], limit=THREAD_READ_LIMIT
            )
        except PLATFORM_HICCUPS as error:
            log.warning("could not read the thread Parley joined: %s", error)
            return ()
        return translate.thread_history(
            response.get("messages", []), event["ts"], _identity(context)
        )
