"""The conversation commands, the same on every platform: help, reset, stop, system, ..."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import Enum

from bot.limits import day_and_month
from bot.place_memory import PlaceMemory, place_of
from bot.prices import dollars
from bot.store.base import PlaceMemoryInfo, Store, UsageLedger, UsageQuery
from bot.types import ConversationKey, Incoming

StopTurn = Callable[[ConversationKey, str | None], bool]
"""Stops answers in a place: only this author's, or (None) everyone's."""


COMMAND_PREFIXES = ("/", "!")


class Who(Enum):
    """Who may run a command (its handler enforces it; doors may show it)."""

    ANYONE = "anyone"
    ADMINS_CHANGE = "anyone may look; only admins change it"


@dataclass(frozen=True, slots=True)
class Argument:
    """A command's one argument, as a door shows it (an option of a slash command, a usage line)."""

    name: str
    description: str
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a command may touch: the store, the defaults, and its conversation's turn."""

    incoming: Incoming
    args: str
    store: Store
    default_model: str
    default_system_prompt: str
    models_allowed: tuple[str, ...]
    is_admin: bool
    stop_turn: StopTurn
    memory: PlaceMemory


def parse(incoming: Incoming) -> tuple[CommandSpec, str] | None:
    """The command an event asks for, with its arguments; None for an ordinary message."""
    if incoming.command is not None:
        spec = SPECS.get(incoming.command.lower())
        return (spec, incoming.args.strip()) if spec else None
    text = incoming.text.strip()
    if not text.startswith(COMMAND_PREFIXES):
        return None
    word, _, args = text[1:].partition(" ")
    spec = SPECS.get(word.lower())
    return (spec, args.strip()) if spec else None


async def run(spec: CommandSpec, context: CommandContext) -> Reply:
    if spec.handler is None:
        raise ValueError(f"{spec.name} is answered by the model, not by a handler")
    return await spec.handler(context)


async def _help(context: CommandContext) -> Reply:
    lines = [f"`{spec.usage}`: {spec.summary}" for spec in SPECS.values()]
    return Reply("Commands (as slash commands, or typed with a leading /):\n" + "\n".join(lines))


async def _reset(context: CommandContext) -> Reply:
    key = context.incoming.key
    # An admin's reset of a whole channel covers its threads and reply chains.
    beneath = context.is_admin and key.thread is None
    await context.store.reset(key, beneath=beneath)
    where = "here and in every conversation under this channel" if beneath else "here"
    return Reply(f"Fresh start: earlier messages {where} no longer shape my answers.")


async def _stop(context: CommandContext) -> Reply:
    asker = None if context.is_admin else context.incoming.author.id
    if context.stop_turn(context.incoming.key, asker):
        return Reply("Stopped.")
    return Reply("Nothing to stop: no answer is being written here.")


async def _system(context: CommandContext) -> Reply:
    key = context.incoming.key
    if not context.args:
        current = (await context.store.get_settings(key)).system_prompt
        origin = "this conversation's" if current else "the default"
        return Reply(f"System prompt ({origin}):\n> {current or context.default_system_prompt}")
    if not context.is_admin and not key.is_direct:  # a DM is its user's own
        return Reply("Only admins can change the system prompt.", ok=False)
    if context.args.lower() == "default":
        await context.store.set_settings(key, system_prompt=None)
        return Reply("System prompt restored to the default.")
    await context.store.set_settings(key, system_prompt=context.args)
    return Reply("System prompt set for this conversation.")


async def _model(context: CommandContext) -> Reply:
    key = context.incoming.key
    allowed = (context.default_model, *context.models_allowed)
    if not context.args:
        current = (await context.store.get_settings(key)).model or context.default_model
        choices = ", ".join(f"`{name}`" for name in dict.fromkeys(allowed))
        return Reply(f"Model: `{current}`. Available: {choices}.")
    if not context.is_admin:
        return Reply("Only admins can change the model.", ok=False)
    wanted = context.args.split()[0]
    if wanted.lower() == "default":
        await context.store.set_settings(key, model=None)
        return Reply(f"Model restored to the default, `{context.default_model}`.")
    if wanted not in allowed:
        choices = ", ".join(f"`{name}`" for name in dict.fromkeys(allowed))
        return Reply(f"`{wanted}` is not available here. Choose one of: {choices}.", ok=False)
    await context.store.set_settings(key, model=wanted)
    return Reply(f"Model set to `{wanted}` for this conversation.")


async def _forget(context: CommandContext) -> Reply:
    deleted = await context.store.forget(context.incoming.author.id)
    return Reply(
        f"Deleted {deleted} stored messages of yours (and my answers to them), and your "
        "messages kept in any channel's memory."
    )


async def _stats(context: CommandContext) -> Reply:
    stats = await context.store.stats(context.incoming.key)
    ratings = await context.store.ratings(context.incoming.key)
    rated = ""
    if ratings:
        likes, dislikes = sum(r.likes for r in ratings), sum(r.dislikes for r in ratings)
        rated = f" Answers rated: {likes} up, {dislikes} down."
    memory = await context.memory.info(place_of(context.incoming.key))
    kept = f"\n{_memory_line(memory)}" if memory is not None else ""
    return Reply(
        f"This conversation: {_counted(stats.turns, 'turn')}, "
        f"{_counted(stats.messages, 'stored message')}, "
        f"{stats.input_tokens} tokens in, {stats.output_tokens} tokens out.{rated}{kept}"
    )


def _memory_line(memory: PlaceMemoryInfo) -> str:
    since = time.strftime("%Y-%m-%d", time.gmtime(memory.since))
    return f"Memory of this channel: on since {since}, {_counted(memory.messages, 'message')} kept."


async def _remember(context: CommandContext) -> Reply:
    """`remember` shows whether this channel's memory is on; admins turn it `on` or `off`."""
    place, choice = place_of(context.incoming.key), context.args.lower()
    if place is None:
        return Reply("Memory is for channels: a direct message has none.", ok=False)
    if choice not in ("", "on", "off"):
        return Reply("Usage: `remember [on|off]`", ok=False)
    if not choice:
        memory = await context.memory.info(place)
        if memory is None:
            return Reply("Memory of this channel is off; an admin can turn it on: `remember on`.")
        return Reply(_memory_line(memory))
    if not context.is_admin:
        return Reply("Only admins can turn the memory of this channel on or off.", ok=False)
    if choice == "off":
        deleted = await context.memory.turn_off(place)
        return Reply(
            f"Memory of this channel is off: I keep nothing more, and deleted the "
            f"{_counted(deleted, 'message')} I had kept."
        )
    await context.memory.turn_on(place, context.incoming.author.id)
    return Reply(
        "Memory of this channel is on: I keep its people's messages (not bots') for "
        f"{context.memory.retention_days} days and answer questions here from them, with links. "
        "`forget` deletes a person's own; `remember off` stops and deletes them all."
    )


async def _usage(context: CommandContext) -> Reply:
    incoming = context.incoming
    platform, space = incoming.key.platform, incoming.space
    lines = []
    if context.is_admin and space is not None:
        place = UsageQuery(0, "space", platform, space=space)
        lines.append(f"This place: {await _windows(context.store, place)}")
        lines.extend(await _moderation_line(context.store, f"{platform}:{space}"))
    mine = UsageQuery(0, "user", platform, user=incoming.author.id)
    lines.append(f"You: {await _windows(context.store, mine)}")
    return Reply("\n".join(lines) + "\n(UTC day and calendar month)")


async def _moderation_line(store: UsageLedger, place: str) -> list[str]:
    """This month's moderation counts here, for admins; nothing when there were none."""
    _, month, _ = day_and_month(time.time())
    counts = await store.moderation_counts(int(month // 86_400))
    refused, withheld = counts.get((place, "input"), 0), counts.get((place, "output"), 0)
    if not refused and not withheld:
        return []
    return [
        f"Moderation this month: {_counted(refused, 'question')} refused, "
        f"{_counted(withheld, 'answer')} withheld."
    ]


async def _windows(store: UsageLedger, query: UsageQuery) -> str:
    """Today's and this month's totals of the query's turns, on one line."""
    today, month, _ = day_and_month(time.time())
    parts = []
    for name, since in (("today", today), ("this month", month)):
        rows = await store.usage_report(replace(query, since=since))
        turns = sum(row.turns for row in rows)
        tokens_in = sum(row.input_tokens for row in rows)
        tokens_out = sum(row.output_tokens for row in rows)
        cost = dollars(sum(row.cost_micros for row in rows))
        parts.append(
            f"{name} {_counted(turns, 'turn')}, {tokens_in} tokens in, {tokens_out} out, {cost}"
        )
    return "; ".join(parts)


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command, declared once: every door renders it from here."""

    name: str
    usage: str
    summary: str
    handler: Callable[[CommandContext], Awaitable[Reply]] | None
    """None for the commands the model answers (bot.catchup): budgeted like a turn, stored
    nowhere."""
    argument: Argument | None = None
    who: Who = Who.ANYONE
    serialized: bool = False
    """Whether it waits its turn behind answers in progress (it changes the conversation)."""
    private: bool = False
    """Whether its answer is for the asker's eyes only, where the platform can do that."""

    @property
    def asks_model(self) -> bool:
        return self.handler is None


_SETTING_SHOWN = "empty shows the current one"
SPECS = {
    spec.name: spec
    for spec in (
        CommandSpec("help", "help", "show these commands", _help, private=True),
        CommandSpec(
            "reset",
            "reset",
            "start a fresh context (history stays stored)",
            _reset,
            serialized=True,
        ),
        CommandSpec("stop", "stop", "stop the answer being written", _stop),
        CommandSpec(
            "system",
            "system [prompt|default]",
            "show or set the system prompt",
            _system,
            Argument("prompt", f"the new system prompt, or 'default'; {_SETTING_SHOWN}"),
            Who.ADMINS_CHANGE,
            serialized=True,
        ),
        CommandSpec(
            "model",
            "model [name|default]",
            "show or choose the model",
            _model,
            Argument("name", f"the model to use, or 'default'; {_SETTING_SHOWN}"),
            Who.ADMINS_CHANGE,
            serialized=True,
        ),
        CommandSpec(
            "forget", "forget", "delete everything you said to Parley", _forget, private=True
        ),
        CommandSpec(
            "stats", "stats", "turns and tokens of this conversation", _stats, private=True
        ),
        CommandSpec("usage", "usage", "your tokens and cost (admins: this place's)", _usage),
        CommandSpec(
            "remember",
            "remember [on|off]",
            "keep this channel's messages to answer from (admins turn it on)",
            _remember,
            Argument("state", "on or off (admins); empty shows whether it is on", ("on", "off")),
            Who.ADMINS_CHANGE,
        ),
        CommandSpec(
            "summarize",
            "summarize [since]",
            "catch up: what was said here",
            None,
            Argument("since", "how far back: 2h, 3d, yesterday, all; empty: the default"),
            private=True,
        ),
        CommandSpec(
            "translate",
            "translate [to LANGUAGE] TEXT",
            "translate text, for your eyes only",
            None,
            Argument("text", "what to translate", required=True),
            private=True,
        ),
    )
}
