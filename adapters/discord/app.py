"""The Discord door: the discord.py client, its event handlers, slash commands and start-up."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from functools import partial
from typing import Any

import discord
from discord import app_commands

from adapters.discord import adapter
from adapters.discord.approvals import Approvals
from adapters.discord.attachments import read_attachments
from adapters.discord.catchup import (
    add_catch_up_commands,
    history_item,
    history_of,
    place_history,
)
from adapters.discord.endpoints import Endpoints, point_client, webhooks_to
from adapters.discord.feedback import FeedbackView
from adapters.discord.history import missed_reply, reply_chain, thread_history
from adapters.discord.members import Memberships
from adapters.discord.settings import DiscordSettings
from adapters.discord.sink import (
    NO_MENTIONS,
    ChannelReply,
    InteractionReply,
    ThreadReply,
    restored,
)
from adapters.discord.slash import add_commands
from adapters.discord.translate import (
    ANSWERABLE_TYPES,
    PLATFORM,
    author_of,
    chain_key,
    conversation_key,
    incoming_click,
    incoming_command,
    incoming_message,
    is_chain,
    message_alias,
    replied_message,
    trigger,
)
from bot import commands
from bot.attachments import FileLimits
from bot.config import ConfigError
from bot.pacing import ChannelWrites
from bot.types import (
    Attachment,
    ChatMessage,
    ConversationKey,
    History,
    HistoryMessage,
    Incoming,
    Kind,
)
from bot.wiring import Runtime

log = logging.getLogger(__name__)

"""Answered so that only the user who asked sees the answer."""
THREAD_NAME_CHARS = 80
NOT_ENABLED_HERE = "Parley is not enabled here."


def discord_endpoints(settings: DiscordSettings) -> AbstractContextManager[None]:
    """Interaction responses made within go to the configured REST URL too (build_client points
    each client's own requests and gateway connections)."""
    return webhooks_to(_endpoints(settings))


def _endpoints(settings: DiscordSettings) -> Endpoints:
    return Endpoints.of(settings.api_url, settings.gateway_url)


def build_client(settings: DiscordSettings) -> discord.Client:
    """A client with the Message Content intent (needed for follow-ups in threads without a
    mention), no mentions allowed by default, sharded when a shard count is configured, talking
    to the configured endpoints."""
    intents = discord.Intents.default()
    intents.message_content = True
    if settings.shard_count is None:
        client = discord.Client(intents=intents, allowed_mentions=NO_MENTIONS)
    else:
        client = discord.AutoShardedClient(
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_ids or None,
        )
    point_client(client, _endpoints(settings))
    return client


def skip_malformed_events(client: discord.Client) -> None:
    """Make every gateway event parser log a payload it cannot parse (once) and skip it.

    discord.py calls `ConnectionState.parsers[event](data)` inside its websocket receive loop, so
    an exception there would end `connect()`; the parsers dict is read at each connect.
    """
    parsers = client._connection.parsers
    for event, parse in list(parsers.items()):
        parsers[event] = _skipping(event, parse)


def _skipping(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def parse_or_skip(data: Any) -> None:
        try:
            parse(data)
        except Exception as error:
            # The type and id only: an exception's message can quote the payload's content.
            log.warning(
                "skipped a malformed %s event (id %s): %s",
                event,
                _event_id(data),
                type(error).__name__,
            )

    return parse_or_skip


def _event_id(data: Any) -> str | None:
    """The payload's snowflake id, if it has a well-formed one."""
    value = data.get("id") if isinstance(data, dict) else None
    return str(value) if str(value).isdigit() else None


def _log_handler_error(what: str, subject_id: object, error: BaseException | None) -> None:
    log.error(
        "error handling %s (id %s): %s\n%s",
        what,
        subject_id,
        type(error).__name__,
        # Code lines only: the exception's own message may quote what a user wrote.
        "".join(traceback.format_tb(error.__traceback__ if error else None)).rstrip(),
    )


class DiscordDoor:
    """Turns gateway events into core turns and renders the answers back."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        sync_guild: str | None = None,
    ) -> None:
        self._runtime = runtime
        self._settings = runtime.settings.of(DiscordSettings)
        self._sync_guild = sync_guild or self._settings.sync_guild
        self._access = adapter.access_policy(runtime.settings)
        self._members = Memberships()
        self._edits = ChannelWrites(self._settings.channel_edits)
        self._files = FileLimits.of(runtime.settings)
        self._feedback: FeedbackView | None = None
        """Made once the client is logged in (a view needs the running loop)."""
        self._approvals = Approvals(self._judge_click)
        self.client = build_client(self._settings)
        skip_malformed_events(self.client)
        self.tree = app_commands.CommandTree(self.client)
        add_commands(self.tree, self._on_command)
        add_catch_up_commands(self.tree, self._on_command)
        self.client.event(self.on_message)
        self.client.event(self.on_raw_message_edit)
        self.client.event(self.on_raw_message_delete)
        self.client.event(self.on_error)
        self.tree.error(self._on_command_error)

    async def serve(self) -> None:
        """Log in, sync the slash commands, and serve the gateway until cancelled."""
        token = self._settings.token
        if token is None:
            raise ConfigError("DISCORD_TOKEN is not set: create a bot token and set DISCORD_TOKEN")
        self._runtime.ops.add_ready_check("discord", self.client.is_ready)
        with discord_endpoints(self._settings):
            async with self.client:
                try:
                    await self.client.login(token.get_secret_value())
                except discord.LoginFailure:
                    raise ConfigError(
                        "Discord rejected DISCORD_TOKEN: reset the token under Bot in the "
                        "Developer Portal and set DISCORD_TOKEN to it"
                    ) from None
                await self.sync_commands()
                self._feedback = FeedbackView(self._rate)
                self.client.add_view(self._feedback)  # clicks on earlier answers, too
                self._approvals.register(self.client)
                await self._runtime.dialogue.recover(PLATFORM, self.repair)
                try:
                    await self.client.connect()
                except discord.PrivilegedIntentsRequired:
                    raise ConfigError(
                        "Discord refused the Message Content intent: enable it under Bot > "
                        "Privileged Gateway Intents in the Developer Portal"
                    ) from None
                except asyncio.CancelledError:
                    # Let answers in flight finish while the REST session is still open.
                    await self._runtime.dialogue.shutdown(
                        self._runtime.settings.shutdown_grace_seconds
                    )
                    raise

    async def _rate(self, answer: str, interaction: discord.Interaction, liked: bool) -> str:
        click = await self._judged(incoming_click(interaction))
        return await self._runtime.dialogue.rate(answer, click, liked)

    async def _judge_click(
        self, interaction: discord.Interaction, request_id: str, approved: bool
    ) -> str:
        """An Approve or Deny click counts only from someone who may talk to Parley here (the
        core then checks that it is the asker)."""
        clicker = await self._judged(incoming_click(interaction))
        if not self._runtime.dialogue.admits(clicker):
            return NOT_ENABLED_HERE
        return await self._runtime.dialogue.decide(request_id, str(interaction.user.id), approved)

    async def repair(self, receipt: str, text: str) -> None:
        """Show `text` as the final text of the answer a reply's receipt names (one a restart
        cut short)."""
        await restored(self.client, receipt).finish(text)

    async def on_error(self, event: str, *args: Any, **kwargs: Any) -> None:
        """A handler raised (discord.py goes on): log where, once, without the message's content."""
        subject = args[0] if args else None
        _log_handler_error(event, getattr(subject, "id", None), sys.exc_info()[1])

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """A slash command raised: logged the same way (the command tree's own handler would
        print the exception's message, which may quote the user)."""
        _log_handler_error("slash command", interaction.id, error.__cause__ or error)

    async def sync_commands(self) -> None:
        """Register the slash commands: in one guild at once when PARLEY_DISCORD_SYNC_GUILD is
        set (for development), else globally (Discord may take a while to show changes)."""
        if self._sync_guild:
            guild = discord.Object(id=int(self._sync_guild))
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d slash commands", len(synced))

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if me is None or message.author.bot:
            return
        kind = trigger(message, me.id) or await self._followed(message)
        if kind is not None:
            await self._take_message(message, kind, me.id)
        await self._overhear(message)  # after: keeping never delays a turn

    async def _overhear(self, message: discord.Message) -> None:
        """Every person's message in a server channel or public thread goes to the core, which
        keeps it if the channel's memory is on (a private thread's never: the channel's people
        could not read it)."""
        channel = message.channel
        if (
            message.guild is None
            or getattr(channel, "type", None) is discord.ChannelType.private_thread
        ):
            return
        item = history_item(message)
        if item is not None:
            key = conversation_key(channel)
            await self._runtime.dialogue.overhear(key, author_of(message.author), item)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edit replaces the kept text (uncached messages too: the raw event carries it)."""
        if not payload.message.author.bot:
            await self._overhear(payload.message)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted message leaves the channel's memory too."""
        if payload.guild_id is None:
            return
        channel = self.client.get_channel(payload.channel_id)
        parent = channel.parent_id if isinstance(channel, discord.Thread) else payload.channel_id
        key = ConversationKey(PLATFORM, str(payload.guild_id), str(parent))
        await self._runtime.dialogue.retract(key, str(payload.message_id))

    async def _followed(self, message: discord.Message) -> Kind | None:
        """Why a message that neither mentions Parley nor replies to it is still addressed to it:
        it is in a user's thread Parley was called into, or replies to a message of a chain."""
        channel = message.channel
        if message.type not in ANSWERABLE_TYPES or message.guild is None:
            return None
        if isinstance(channel, discord.Thread):
            key = conversation_key(channel)
            followed = self._settings.follow_threads and await self._knows(key)
            return Kind.THREAD if followed else None
        if self._chains and await self._chain_of(message) is not None:
            return Kind.MENTION
        return None

    @property
    def _chains(self) -> bool:
        return self._settings.conversation == "chain"

    def _starts_chain(self, key: ConversationKey) -> bool:
        """Whether a question asked in this place starts a reply chain of its own: in chain
        mode, in a server channel (threads and DMs are one conversation each)."""
        return self._chains and key.thread is None and not key.is_direct

    async def _chain_of(self, message: discord.Message) -> ConversationKey | None:
        """The reply chain the message this one replies to belongs to, if Parley keeps one."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        found = await self._runtime.store.resolve(message_alias(reference.message_id))
        replied = replied_message(message)
        bot_id = self.client.user.id if self.client.user else 0
        if found is None and replied is not None and replied.author.id == bot_id:
            # An answer just posted may not be linked yet; the question it replies to already is.
            asked = replied.reference.message_id if replied.reference else None
            found = await self._runtime.store.resolve(message_alias(asked)) if asked else None
        return found

    async def _knows(self, key: ConversationKey) -> bool:
        return await self._runtime.dialogue.knows(key)

    async def _take_message(self, message: discord.Message, kind: Kind, bot_id: int) -> None:
        """Hand the message to the core. What may happen only once per event (a thread opened,
        history or files read) waits in the sink and the Incoming until the core claims it."""
        channel = message.channel
        incoming = await self._judged(
            incoming_message(message, bot_id=bot_id, kind=kind, key=conversation_key(channel))
        )
        options = self._reply_options()
        opens_thread = (
            kind is Kind.MENTION
            and self._settings.threads == "auto"
            and isinstance(channel, discord.TextChannel)
        )
        starts_chain = kind is Kind.MENTION and self._starts_chain(incoming.key)
        # A reply into a conversation kept in the channel (a chain, or one whose thread Discord
        # refused) continues it there.
        continued = await self._chain_of(message) if opens_thread or starts_chain else None
        opens_thread = opens_thread and continued is None
        if continued is not None:
            incoming = replace(incoming, key=continued)
        elif opens_thread:  # a thread opened from a message has the message's id
            thread_key = replace(incoming.key, thread=str(message.id))
            incoming = replace(incoming, key=thread_key, kind=Kind.THREAD)
        elif starts_chain and commands.parse(incoming) is None:
            # A command typed to start a chain is meant for the channel (its settings, say).
            incoming = replace(incoming, key=chain_key(incoming.key, message.id))
        linked = continued is not None or is_chain(incoming.key)
        if linked:
            await self._link(incoming.key, message.id)
        sink: ChannelReply
        if opens_thread:
            name = " ".join(incoming.text.split())[:THREAD_NAME_CHARS] or "Parley"
            sink = ThreadReply(message, name, link=partial(self._link, incoming.key), **options)
        else:
            sink = ChannelReply(
                channel,
                reply_to=message,
                on_posted=partial(self._link, incoming.key) if linked else None,
                **options,
            )
        if not opens_thread and continued is None:  # the store is a continued chain's memory
            whole_chain = is_chain(incoming.key)
            incoming = replace(
                incoming, missed=partial(self._missed, channel, message, whole_chain=whole_chain)
            )
        if message.attachments:
            incoming = replace(incoming, files=partial(self._read_files, message))
        if commands.parse(incoming) is None:  # a typed command (summarize) reads nothing more
            incoming = replace(incoming, history=_answer_place_history(message, sink))
        self._runtime.dialogue.submit(incoming, sink)

    def _reply_options(self) -> dict[str, Any]:
        return {
            "min_edit_interval": self._settings.edit_interval,
            "link_previews": self._settings.link_previews,
            "edits": self._edits,
            "feedback": self._feedback,
            "approvals": self._approvals,
        }

    async def _read_files(self, message: discord.Message) -> tuple[Attachment, ...]:
        attachments, left_out = await read_attachments(message.attachments, self._files)
        if left_out:
            await _tell(message, left_out)
        return attachments

    async def _link(self, key: ConversationKey, message_id: int) -> None:
        """Note that a question or a message of its answer belongs to this chain, so a reply to
        it continues the chain."""
        try:
            await self._runtime.store.link(key, [message_alias(message_id)])
        except Exception:
            log.warning("could not note which chain a message belongs to", exc_info=True)

    async def _judged(self, incoming: Incoming) -> Incoming:
        """A DM with the allowed server its sender belongs to (and their roles there) when the
        server or role allowlists need one to judge it; anything else as it is."""
        if not self._access.wants_home(incoming):
            return incoming
        for guild in self._allowed_guilds():
            roles = await self._members.roles(guild, int(incoming.author.id))
            if roles is None:
                continue
            judged = replace(
                incoming, home=str(guild.id), author=replace(incoming.author, roles=roles)
            )
            if self._access.allows(judged):
                return judged
        return incoming

    def _allowed_guilds(self) -> list[discord.Guild]:
        """This process's servers that are listed (when servers are) and hold an allowed role
        (when roles are): the only ones whose members a DM could be let in for."""
        spaces, roles = self._access.spaces, self._access.roles
        return [
            guild
            for guild in self.client.guilds
            if (not spaces or str(guild.id) in spaces)
            and (not roles or any(role.isdigit() and guild.get_role(int(role)) for role in roles))
        ]

    async def _missed(
        self,
        channel: object,
        message: discord.Message | None,
        first_here: bool,
        *,
        whole_chain: bool = False,
    ) -> tuple[ChatMessage, ...]:
        """What Parley missed, read once: a thread it is first addressed in (up to `message`, or
        all of it for `/ask`), or the chain of a reply to a message it never saw. A new chain
        (`whole_chain`) reads its replies back through Parley's own messages too: an answer
        that is in no chain Parley keeps (say, from before chains). Later turns read nothing:
        the store is the memory."""
        bot_id = self.client.user.id if self.client.user else 0
        try:
            if isinstance(channel, discord.Thread) and first_here:
                return await thread_history(channel, message, bot_id)
            if message is not None and (whole_chain or missed_reply(message, bot_id)):
                return await reply_chain(message, bot_id, through_seen=whole_chain)
        except discord.HTTPException as error:
            log.warning("could not read earlier messages (HTTP %s)", error.status)
        return ()

    async def _on_command(
        self,
        interaction: discord.Interaction,
        command: str | None,
        argument: str,
        history: History | None = None,
    ) -> None:
        incoming = await self._judged(incoming_command(interaction, command, argument, history))
        if not self._runtime.dialogue.admits(incoming):  # told before the answer is deferred
            await interaction.response.send_message(NOT_ENABLED_HERE, ephemeral=True)
            return
        chained = command is None and self._starts_chain(incoming.key)
        if chained:  # `/ask` in a channel is a new question: its own chain, as a mention is
            incoming = replace(incoming, key=chain_key(incoming.key, interaction.id))
        sink = InteractionReply(
            interaction,
            ephemeral=command is not None and commands.SPECS[command].private,
            min_edit_interval=self._settings.edit_interval,
            link_previews=self._settings.link_previews,
            on_posted=partial(self._link, incoming.key) if chained else None,
            approvals=self._approvals,
        )
        await sink.acknowledge()
        if command is None:  # /ask is a turn like a mention: it may need to catch up too
            incoming = replace(incoming, missed=partial(self._missed, interaction.channel, None))
        self._runtime.dialogue.submit(incoming, sink)


def _answer_place_history(message: discord.Message, sink: ChannelReply) -> History | None:
    """The history of where the answer is (a thread opened for it, once open), when the asker
    and Parley may read the channel the message was sent in."""
    if place_history(message, message.channel) is None:
        return None

    async def read(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
        async for item in history_of(sink.channel)(since, limit):
            yield item

    return read


async def _tell(message: discord.Message, line: str) -> None:
    """A short line about the asker's message, before its answer."""
    try:
        await message.reply(line, mention_author=False)
    except discord.HTTPException as error:
        log.info("could not tell the asker about their files: HTTP %s", error.status)
