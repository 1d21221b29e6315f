"""A scripted day on Discord: the store, `/usage`, `parley usage` and /admin agree to the cent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.prices import ModelPrice, dollars
from bot.store.base import UsageQuery
from tests.discord.conftest import World, serving
from tests.discord.test_door import answer_to, ask
from tests.support.backends import ScriptedBackend
from tests.support.usage import fetch_admin_page, parley_usage_csv, recorded

PRICES = {"scripted": ModelPrice(input=3_000, output=15_000)}
TOKEN = "discord-admin-token"


async def test_a_day_on_discord_agrees_everywhere(
    world: World, settings_for: Any, tmp_path: Path
) -> None:
    peer = world.peer
    settings = settings_for(
        model="scripted",
        prices=PRICES,
        admin_token=SecretStr(TOKEN),
        discord_guilds=[str(peer.guild_id)],  # then a DM's home server is looked up
    )
    async with serving(peer, settings, ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "good morning")
        await ask(peer, world.random, world.alice, "what is on today?")
        await ask(peer, world.general, world.admin, "the plan for the launch")
        await peer.post_message(world.alice_dm, world.alice, "a private word")
        await answer_to(peer, world.alice_dm, "echo: a private word")
        store = running.runtime.store
        spaces = await recorded(store, turns=4)
        users = await store.usage_report(UsageQuery(0, "user"))
        token = await peer.invoke_command(world.general, world.admin, "usage")
        shown = await peer.wait_for(
            lambda: peer.interaction_responses.get(token, {}).get("content")
        )
        alice_token = await peer.invoke_command(world.general, world.alice, "usage")
        alice_shown = await peer.wait_for(
            lambda: peer.interaction_responses.get(alice_token, {}).get("content")
        )
        ops = running.runtime.ops
        await ops.start("127.0.0.1", 0)
        admin_page = await fetch_admin_page(ops.port, TOKEN)
    guild = f"discord:{peer.guild_id}"
    by_space = {row.label: row for row in spaces}
    assert set(by_space) == {guild}, "the DM counts toward Alice's server"
    day = by_space[guild]
    assert day.turns == 4 and day.cost_micros > 0
    alice = next(row for row in users if row.label == f"discord:{world.alice.id}")
    assert f"This place: today 4 turns, {day.input_tokens} tokens in" in shown
    assert dollars(day.cost_micros) in shown
    assert f"You: today 3 turns, {alice.input_tokens} tokens in" in alice_shown
    assert dollars(alice.cost_micros) in alice_shown and "This place" not in alice_shown
    assert f"<b>{dollars(day.cost_micros)}</b>" in admin_page
    assert "a private word" not in admin_page and "good morning" not in admin_page
    cli = parley_usage_csv(tmp_path, "space")
    assert cli == {guild: day.cost_micros / 1_000_000}
    assert f"${cli[guild]:,.2f}" == dollars(day.cost_micros)
