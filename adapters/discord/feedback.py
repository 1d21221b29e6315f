"""Thumbs up / down buttons under every Discord answer: one persistent view whose custom_ids
survive restarts, so a click on an old answer is still kept."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

log = logging.getLogger(__name__)

LIKE_ID = "parley:feedback:up"
DISLIKE_ID = "parley:feedback:down"

Rate = Callable[[str, str, bool], Awaitable[bool]]
"""(answer id, person, liked) -> whether the message shows a recorded answer."""


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
        kept = False
        if message is not None and channel_id is not None:
            kept = await self._rate(
                answer_id(channel_id, message.id), str(interaction.user.id), liked
            )
        # Only the person who clicked sees the acknowledgement.
        note = "Thanks for the feedback." if kept else "That message is not an answer I can rate."
        await interaction.response.send_message(note, ephemeral=True)
