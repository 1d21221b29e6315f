"""Discord messages and interactions -> the core's types. No I/O: reading happens in app.py.

Conversation scope: a DM channel is one conversation (space "dm"); a thread is its own, keyed
under its parent channel so channel allowlists cover its threads:
ConversationKey("discord", guild_id, parent_channel_id, thread_id). In a guild text channel each
reply chain is its own, in the thread slot ("chain-<first message id>"), or with
PARLEY_DISCORD_CONVERSATION=channel the channel is one.
"""

from __future__ import annotations

import re
from dataclasses import replace

import discord

from bot.types import (
    DIRECT_MESSAGES,
    Attachment,
    Author,
    ChatMessage,
    ConversationKey,
    History,
    Incoming,
    Kind,
    Role,
)

PLATFORM = "discord"
ANSWERABLE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
CHAIN = "chain-"
"""Starts the thread slot of a reply chain's key; thread ids are digits, so none is mistaken."""


def strip_mention(text: str, bot_id: int) -> str:
    """The text without the bot's own mention (`<@id>` or the legacy nickname form `<@!id>`).

    Repeated until nothing changes: removing one mention can join its neighbours into another.
    """
    mention = re.compile(rf"<@!?{bot_id}>\s*")
    while True:
        text, removed = mention.subn("", text)
        if not removed:
            return text.strip()


def conversation_key(channel: object) -> ConversationKey:
    """Where a conversation lives: a DM, a guild channel, or a thread under its parent."""
    guild = getattr(channel, "guild", None)
    channel_id = str(getattr(channel, "id", ""))
    if guild is None:
        return ConversationKey(PLATFORM, DIRECT_MESSAGES, channel_id)
    if isinstance(channel, discord.Thread):
        return ConversationKey(PLATFORM, str(guild.id), str(channel.parent_id), channel_id)
    return ConversationKey(PLATFORM, str(guild.id), channel_id)


def chain_key(channel: ConversationKey, root_id: int) -> ConversationKey:
    """A reply chain in a guild channel: its own conversation under the channel (whose settings
    it inherits), named after the first message Parley answered in it."""
    return ConversationKey(PLATFORM, channel.space, channel.channel, f"{CHAIN}{root_id}")


def is_chain(key: ConversationKey) -> bool:
    return key.thread is not None and key.thread.startswith(CHAIN)


def message_alias(message_id: int) -> str:
    """How the store names a Discord message linked to the chain it belongs to."""
    return f"{PLATFORM}-message-{message_id}"


def author_of(user: discord.User | discord.Member) -> Author:
    """Who spoke; in a guild, their role ids and whether they may manage the server."""
    if isinstance(user, discord.Member):
        return Author(
            id=str(user.id),
            name=user.display_name,
            is_bot=user.bot,
            roles=frozenset(str(role.id) for role in user.roles if not role.is_default()),
            is_admin=user.guild_permissions.manage_guild,
        )
    return Author(id=str(user.id), name=user.display_name, is_bot=user.bot)


def trigger(message: discord.Message, bot_id: int) -> Kind | None:
    """Why this message is addressed to the bot, or None when it is not.

    A DM, a message in a thread the bot opened, a mention, or a reply to one of the bot's messages.
    """
    if message.author.bot or message.type not in ANSWERABLE_TYPES:
        return None
    if message.guild is None:
        return Kind.DM
    channel = message.channel
    if isinstance(channel, discord.Thread) and channel.owner_id == bot_id:
        return Kind.THREAD
    if any(user.id == bot_id for user in message.mentions):
        return Kind.MENTION
    replied = replied_message(message)
    if replied is not None and replied.author.id == bot_id:
        return Kind.MENTION
    return None


def replied_message(message: discord.Message) -> discord.Message | None:
    """The message this one replies to, when Discord sent it along."""
    reference = message.reference
    if reference is not None and isinstance(reference.resolved, discord.Message):
        return reference.resolved
    return None


def prior_message(message: discord.Message, bot_id: int) -> ChatMessage:
    """An earlier message of a thread or reply chain, as the model should see it."""
    if message.author.id == bot_id:
        return ChatMessage(Role.ASSISTANT, message.content)
    return ChatMessage(
        Role.USER,
        strip_mention(message.content, bot_id),
        name=message.author.display_name,
        author_id=str(message.author.id),
    )


def incoming_message(
    message: discord.Message,
    *,
    bot_id: int,
    kind: Kind,
    key: ConversationKey,
    attachments: tuple[Attachment, ...] = (),
    prior: tuple[ChatMessage, ...] = (),
) -> Incoming:
    return Incoming(
        key=key,
        author=author_of(message.author),
        text=strip_mention(message.content, bot_id),
        event_id=str(message.id),
        kind=kind,
        attachments=attachments,
        prior=prior,
    )


def incoming_click(interaction: discord.Interaction) -> Incoming:
    """A button press, to be judged by the allowlists like a message from its presser."""
    return Incoming(
        key=conversation_key(interaction.channel),
        author=author_of(interaction.user),
        text="",
        event_id=str(interaction.id),
        kind=Kind.CLICK,
    )


def incoming_command(
    interaction: discord.Interaction,
    command: str | None,
    argument: str,
    history: History | None = None,
) -> Incoming:
    """A slash command; `/ask` (command None) is an ordinary turn whose text is the prompt.
    The asker's locale is their Discord client's language."""
    author = replace(author_of(interaction.user), locale=str(interaction.locale))
    return Incoming(
        key=conversation_key(interaction.channel),
        author=author,
        history=history,
        text=argument if command is None else f"/{command} {argument}".strip(),
        event_id=str(interaction.id),
        kind=Kind.COMMAND,
        command=command,
        args=argument if command is not None else "",
    )
