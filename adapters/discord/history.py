"""Reading what Parley missed, once: a thread's earlier messages or a reply chain.

Only for the first time Parley is addressed there; afterwards the store is the memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord

from adapters.discord.translate import ANSWERABLE_TYPES, prior_message, replied_message
from bot.types import ChatMessage

HISTORY_LIMIT = 50
"""At most this many earlier messages are read; the core then keeps what fits the token budget."""


async def thread_history(
    thread: discord.Thread, before: discord.Message | None, bot_id: int
) -> tuple[ChatMessage, ...]:
    """The thread's messages before `before` (all when None), oldest first, after the channel
    message the thread was opened from, if any."""
    starter = await starter_message(thread)
    limit = HISTORY_LIMIT - (starter is not None)
    newest_first = [message async for message in thread.history(limit=limit, before=before)]
    return _as_prior([*([starter] if starter else []), *reversed(newest_first)], bot_id)


async def starter_message(thread: discord.Thread) -> discord.Message | None:
    """The message in the parent channel a thread was opened from: it shares the thread's id.

    Read from the cache, else with one GET; a thread opened on its own has none (404).
    """
    parent = thread.parent
    if not isinstance(parent, discord.TextChannel):
        return None  # a forum post's starter message is inside the thread itself
    if thread.starter_message is not None:
        return thread.starter_message
    try:
        return await parent.fetch_message(thread.id)
    except discord.HTTPException:
        return None


def missed_reply(message: discord.Message, bot_id: int) -> bool:
    """Whether this replies to a message Parley never saw: not its own and not addressed to it."""
    reference = message.reference
    if reference is None or reference.message_id is None:
        return False
    replied = replied_message(message)
    return replied is None or not _seen(replied, bot_id)


async def reply_chain(
    message: discord.Message, bot_id: int, *, through_seen: bool = False
) -> tuple[ChatMessage, ...]:
    """The messages this one replies to, back to the first Parley saw (or, `through_seen`, to
    the chain's start), oldest first."""
    chain: list[discord.Message] = []
    current = await _replied(message)
    while (
        current is not None
        and (through_seen or not _seen(current, bot_id))
        and len(chain) < HISTORY_LIMIT
    ):
        chain.append(current)
        current = await _replied(current)
    return _as_prior(reversed(chain), bot_id)


async def _replied(message: discord.Message) -> discord.Message | None:
    resolved = replied_message(message)
    reference = message.reference
    if resolved is not None or reference is None or reference.message_id is None:
        return resolved
    if reference.resolved is not None:  # a deleted message
        return None
    try:
        return await message.channel.fetch_message(reference.message_id)
    except discord.HTTPException:
        return None


def _seen(message: discord.Message, bot_id: int) -> bool:
    return message.author.id == bot_id or any(user.id == bot_id for user in message.mentions)


def _as_prior(messages: Iterable[discord.Message], bot_id: int) -> tuple[ChatMessage, ...]:
    return tuple(
        prior_message(message, bot_id)
        for message in messages
        if message.type in ANSWERABLE_TYPES and message.content.strip()
    )
