"""The slash commands: `/ask` plus the core's conversation commands, declared from its specs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.commands import SPECS

CommandHandler = Callable[[discord.Interaction, str | None, str], Awaitable[None]]
"""(interaction, command name or None for /ask, argument text)"""

_WITH_ARGUMENT = {"system", "model", "remember", "summarize", "translate"}
"""Declared with their arguments (summarize and translate in adapters/discord/catchup.py)."""


def add_commands(tree: app_commands.CommandTree, handle: CommandHandler) -> None:
    tree.add_command(_ask(handle))
    tree.add_command(_system(handle))
    tree.add_command(_model(handle))
    tree.add_command(_remember(handle))
    for name, spec in SPECS.items():
        if name not in _WITH_ARGUMENT:
            tree.add_command(
                app_commands.Command(
                    name=name,
                    description=spec.summary[:100],
                    callback=_without_argument(name, handle),
                )
            )


def _without_argument(name: str, handle: CommandHandler) -> Callable[..., Awaitable[None]]:
    async def callback(interaction: discord.Interaction) -> None:
        await handle(interaction, name, "")

    return callback


def _ask(handle: CommandHandler) -> app_commands.Command:
    @app_commands.command(name="ask", description="ask Parley; the conversation continues here")
    @app_commands.describe(prompt="what to ask")
    async def ask(interaction: discord.Interaction, prompt: str) -> None:
        await handle(interaction, None, prompt)

    return ask


def _system(handle: CommandHandler) -> app_commands.Command:
    @app_commands.command(name="system", description=SPECS["system"].summary)
    @app_commands.describe(
        prompt="the new system prompt, or 'default'; empty shows the current one"
    )
    async def system(interaction: discord.Interaction, prompt: str | None = None) -> None:
        await handle(interaction, "system", prompt or "")

    return system


def _model(handle: CommandHandler) -> app_commands.Command:
    @app_commands.command(name="model", description=SPECS["model"].summary)
    @app_commands.describe(name="the model to use, or 'default'; empty shows the current one")
    async def model(interaction: discord.Interaction, name: str | None = None) -> None:
        await handle(interaction, "model", name or "")

    return model


def _remember(handle: CommandHandler) -> app_commands.Command:
    @app_commands.command(name="remember", description=SPECS["remember"].summary)
    @app_commands.describe(state="on or off (admins); empty shows whether it is on")
    @app_commands.choices(
        state=[app_commands.Choice(name=word, value=word) for word in ("on", "off")]
    )
    async def remember(interaction: discord.Interaction, state: str | None = None) -> None:
        await handle(interaction, "remember", state or "")

    return remember
