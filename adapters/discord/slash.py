"""The slash commands: `/ask` plus the core's conversation commands, rendered from their specs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.commands import SPECS, CommandSpec

CommandHandler = Callable[[discord.Interaction, str | None, str], Awaitable[None]]
"""(interaction, command name or None for /ask, argument text)"""


def add_commands(tree: app_commands.CommandTree, handle: CommandHandler) -> None:
    """`/ask` and every command the core answers itself; the ones the model answers (summarize,
    translate) read Discord history first and are declared in adapters/discord/catchup.py."""
    tree.add_command(_ask(handle))
    for spec in SPECS.values():
        if not spec.asks_model:
            tree.add_command(slash_command(spec, handle))


def slash_command(spec: CommandSpec, handle: CommandHandler) -> app_commands.Command:
    """The spec as a slash command: its argument, when it has one, is an option."""
    if spec.argument is None:

        async def bare(interaction: discord.Interaction) -> None:
            await handle(interaction, spec.name, "")

        return app_commands.Command(name=spec.name, description=spec.summary, callback=bare)

    async def optional(interaction: discord.Interaction, option: str | None = None) -> None:
        await handle(interaction, spec.name, option or "")

    async def required(interaction: discord.Interaction, option: str) -> None:
        await handle(interaction, spec.name, option)

    argument = spec.argument
    callback = app_commands.rename(option=argument.name)(
        required if argument.required else optional
    )
    callback = app_commands.describe(option=argument.description)(callback)
    if argument.choices:
        choices = [app_commands.Choice(name=word, value=word) for word in argument.choices]
        callback = app_commands.choices(option=choices)(callback)
    return app_commands.Command(name=spec.name, description=spec.summary, callback=callback)


def _ask(handle: CommandHandler) -> app_commands.Command:
    @app_commands.command(name="ask", description="ask Parley; the conversation continues here")
    @app_commands.describe(prompt="what to ask")
    async def ask(interaction: discord.Interaction, prompt: str) -> None:
        await handle(interaction, None, prompt)

    return ask
