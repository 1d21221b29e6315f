"""Catching up in Discord: `/summarize`, `/translate`, and the "Summarize thread" and
"Translate" message commands; the history a summary reads, once, as the core's HistoryMessages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import discord
from discord import app_commands

from adapters.discord.history import starter_message
from adapters.discord.permalinks import message_link
from adapters.discord.translate import ANSWERABLE_TYPES
from bot.catchup import translation_of
from bot.commands import SPECS
from bot.types import History, HistoryMessage

CatchUpHandler = Callable[[discord.Interaction, str, str, History | None], Awaitable[None]]
"""(interaction, command name, argument text, the history to summarize)"""

ASKER_CANNOT_READ = "You can't read this channel's history, so I won't summarize it for you."
BOT_CANNOT_READ = "I can't read this channel's history: give me Read Message History here."
NO_THREAD = "That message is in no thread and starts none: there is no thread to summarize."
NO_TEXT = "That message has no text to translate."
SUMMARIZE_THREAD = "Summarize thread"
TRANSLATE = "Translate"
WHOLE_THREAD = "all"
"""A thread is summarized from its start, as far as the budgets reach."""


def add_catch_up_commands(tree: app_commands.CommandTree, handle: CatchUpHandler) -> None:
    """The slash and message commands of catching up, passing what they read to `handle`."""

    @app_commands.command(name="summarize", description=SPECS["summarize"].summary)
    @app_commands.describe(since=_described("summarize"))
    async def summarize(interaction: discord.Interaction, since: str | None = None) -> None:
        channel = interaction.channel
        if await _refused_reading(interaction) or channel is None:
            return
        starter = await starter_message(channel) if isinstance(channel, discord.Thread) else None
        await handle(interaction, "summarize", since or "", history_of(channel, starter))

    @app_commands.command(name="translate", description=SPECS["translate"].summary)
    @app_commands.describe(text=_described("translate"), to="the language; empty: yours")
    async def translate(interaction: discord.Interaction, text: str, to: str | None = None) -> None:
        language = to or str(interaction.locale)
        await handle(interaction, "translate", translation_of(text, language), None)

    async def summarize_thread(interaction: discord.Interaction, message: discord.Message) -> None:
        thread = await _thread_of(message)
        if thread is None:
            await interaction.response.send_message(NO_THREAD, ephemeral=True)
            return
        if await _refused_reading(interaction):
            return
        starter = await starter_message(thread)
        await handle(interaction, "summarize", WHOLE_THREAD, history_of(thread, starter))

    async def translate_message(interaction: discord.Interaction, message: discord.Message) -> None:
        if not message.content.strip():
            await interaction.response.send_message(NO_TEXT, ephemeral=True)
            return
        arguments = translation_of(message.clean_content, str(interaction.locale))
        await handle(interaction, "translate", arguments, None)

    tree.add_command(summarize)
    tree.add_command(translate)
    tree.add_command(app_commands.ContextMenu(name=SUMMARIZE_THREAD, callback=summarize_thread))
    tree.add_command(app_commands.ContextMenu(name=TRANSLATE, callback=translate_message))


def _described(command: str) -> str:
    argument = SPECS[command].argument
    return argument.description if argument else ""


async def _thread_of(message: discord.Message) -> discord.Thread | None:
    """The thread a message is in, or the one it starts (which has the message's id): from the
    cache, else asked once (an archived thread is not cached)."""
    if isinstance(message.channel, discord.Thread):
        return message.channel
    if message.thread is not None or message.guild is None:
        return message.thread
    try:
        channel = await message.guild.fetch_channel(message.id)
    except discord.HTTPException:
        return None
    return channel if isinstance(channel, discord.Thread) else None


async def _refused_reading(interaction: discord.Interaction) -> bool:
    """Only what the asker can read: their permissions in this channel as Discord resolved
    them (overwrites included; a thread has its parent's). Refused: told, in one line."""
    if interaction.guild is None:  # a DM with Parley: the asker is in it
        return False
    asker, bot = interaction.permissions, interaction.app_permissions
    line = None
    if not (asker.view_channel and asker.read_message_history):
        line = ASKER_CANNOT_READ
    elif not (bot.view_channel and bot.read_message_history):
        line = BOT_CANNOT_READ
    if line is not None:
        await interaction.response.send_message(line, ephemeral=True)
    return line is not None


def history_of(channel: object, starter: discord.Message | None = None) -> History:
    """A channel's or thread's messages, newest first (then a thread's starter message in its
    parent channel), as discord.py pages them: each read once, rate limits handled."""

    async def read(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
        assert isinstance(channel, discord.abc.Messageable)
        async for message in channel.history(limit=limit):
            if (item := history_item(message)) is not None:
                yield item
        if starter is not None and (item := history_item(starter)) is not None:
            yield item

    return read


def place_history(message: discord.Message, channel: object) -> History | None:
    """The history of the place a message asks in (for the place.recent tool), when both its
    author and Parley may read it there; nothing is read until it is called."""
    if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        me = channel.guild.me
        for reader in (message.author, me):
            if not isinstance(reader, discord.Member):
                return None
            allowed = channel.permissions_for(reader)
            if not (allowed.view_channel and allowed.read_message_history):
                return None
    return history_of(channel)


def history_item(message: discord.Message) -> HistoryMessage | None:
    """A person's or bot's message with text, as the core reads it (summaries, memory)."""
    if message.type not in ANSWERABLE_TYPES or not message.content.strip():
        return None
    guild_id = message.guild.id if message.guild else None
    return HistoryMessage(
        id=str(message.id),
        author=message.author.display_name,
        text=message.clean_content,
        at=message.created_at.timestamp(),
        link=message_link(guild_id, message.channel.id, message.id),
    )
