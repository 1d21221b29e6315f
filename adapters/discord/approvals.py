"""Approve / Deny buttons on a Discord tool call that waits for the asker's click.

The buttons' custom_ids carry the request id, and one DynamicItem class matches them all, so a
click reaches the core even on a request posted before a restart (the core then says it is over).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.replies import ApprovalRequest

PREFIX = "parley:tool:"
TEMPLATE = re.compile(rf"{PREFIX}(?P<verdict>approve|deny):(?P<id>[A-Za-z0-9_-]{{1,64}})")

Judge = Callable[[discord.Interaction, str, bool], Awaitable[str]]
"""(the click, request id, approved) -> the line only the clicker sees."""


def custom_id(request_id: str, approved: bool) -> str:
    """At most 12 + 8 + 64 characters: within Discord's 100."""
    return f"{PREFIX}{'approve' if approved else 'deny'}:{request_id}"


class Approvals:
    """One door's approval buttons: rendered on each request, every click handed to `judge`."""

    def __init__(self, judge: Judge) -> None:
        class ApprovalButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
            def __init__(self, request_id: str, approved: bool) -> None:
                super().__init__(
                    discord.ui.Button(
                        label="Approve" if approved else "Deny",
                        style=discord.ButtonStyle.success
                        if approved
                        else discord.ButtonStyle.danger,
                        custom_id=custom_id(request_id, approved),
                    )
                )
                self.request_id = request_id
                self.approved = approved

            @classmethod
            async def from_custom_id(
                cls, interaction: discord.Interaction, item: Any, match: re.Match[str], /
            ) -> ApprovalButton:
                return cls(match["id"], match["verdict"] == "approve")

            async def callback(self, interaction: discord.Interaction) -> None:
                line = await judge(interaction, self.request_id, self.approved)
                await interaction.response.send_message(
                    line, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )

        self._button = ApprovalButton

    def register(self, client: discord.Client) -> None:
        """Listen for the buttons' clicks, on messages of this process and of earlier ones."""
        client.add_dynamic_items(self._button)

    def view(self, request: ApprovalRequest) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        view.add_item(self._button(request.id, True))
        view.add_item(self._button(request.id, False))
        return view


def decider(by: str | None) -> str | None:
    """Who decided, as a mention that shows their name (sent with no mentions allowed, so it
    never pings); nothing for an id that is not a Discord one."""
    return f"<@{by}>" if by and by.isdigit() else None
