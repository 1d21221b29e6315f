"""Thumbs up / down buttons under every Discord answer: one persistent view whose custom_ids
survive restarts, so a click on an old answer is still kept."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bot.dialogue import Rated

log = logging.getLogger(__name__)

LIKE_ID = "parley:feedback:up"
DISLIKE_ID = "parley:feedback:down"

Rate = Callable[[str, discord.Interaction, bool], Awaitable[str]]
"""(answer id, the click, liked) -> the line to show the person who clicked."""


def answer_id(channel_id: int, message_id: int) -> str:
    """What a rating click names: the channel and id of a message showing the answer."""
    return f"discord:{channel_id}:{message_id}"


class FeedbackView(discord.ui.View):
    """The two buttons; registered once with `Client.add_view`, attached to each answer."""

    def __init__(self, rate: Rate) -> None:
        super().__init__(timeout=None)
        self._rate = rate

    @discord.ui.button(emoji="👍", style=discord.ButtonStyle.secondary, custom_id=LIKE_ID)
    async def like(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._clicked(interaction, liked=True)

    @discord.ui.button(emoji="👎", style=discord.ButtonStyle.secondary, custom_id=DISLIKE_ID)
    async def dislike(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._clicked(interaction, liked=False)

    async def _clicked(self, interaction: discord.Interaction, *, liked: bool) -> None:
        message, channel_id = interaction.message, interaction.channel_id
        note: str = Rated.NOT_AN_ANSWER
        if message is not None and channel_id is not None:
            note = await self._rate(answer_id(channel_id, message.id), interaction, liked)
        # Only the person who clicked sees the acknowledgement.
        await interaction.response.send_message(note, ephemeral=True)
