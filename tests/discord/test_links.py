"""Links in answers on Discord: masked links show their real target; no previews by default."""

from __future__ import annotations

from typing import Any

import discord

from tests.discord.conftest import World, serving
from tests.discord.test_door import answer_to, creates_in, mention
from tests.support.backends import ScriptedBackend

DISGUISED = "[https://good.example](https://evil.example)"
SUPPRESS_EMBEDS = discord.MessageFlags(suppress_embeds=True).value


async def _answer_with_a_link(world: World, settings: Any) -> dict[str, Any]:
    """Ask for the disguised link (the backend echoes it) and return the create request body."""
    peer = world.peer
    async with serving(peer, settings, ScriptedBackend()):
        await peer.post_message(
            world.general, world.alice, mention(peer, DISGUISED), mentions=(peer.bot,)
        )
        await answer_to(peer, world.general, "echo: https://good.example (https://evil.example)")
    (create,) = creates_in(peer, world.general)
    return create.body


async def test_a_masked_link_shows_its_target_and_nothing_is_previewed(
    world: World, settings_for: Any
) -> None:
    body = await _answer_with_a_link(world, settings_for())
    assert body["flags"] & SUPPRESS_EMBEDS
    edits = [r for r in world.peer.calls("PATCH") if "/messages/" in r.path]
    assert all("flags" not in r.body or r.body["flags"] & SUPPRESS_EMBEDS for r in edits)


async def test_no_edit_of_a_streamed_answer_brings_the_previews_back(
    world: World, settings_for: Any
) -> None:
    # discord.py's Message.edit sends suppress_embeds=False unless told: every edit must say.
    peer = world.peer
    text = " ".join(["see https://example.com"] * 8)
    backend = ScriptedBackend(lambda _: text, chunks=8, duration=1.2)
    async with serving(peer, settings_for(discord_edit_interval=0.2), backend):
        await peer.post_message(
            world.general, world.alice, mention(peer, "x"), mentions=(peer.bot,)
        )
        await answer_to(peer, world.general, text)
    edits = [r for r in peer.calls("PATCH") if "/messages/" in r.path]
    assert len(edits) >= 2, "interim edits and the final one"
    assert all(r.body.get("flags", SUPPRESS_EMBEDS) & SUPPRESS_EMBEDS for r in edits)


async def test_link_previews_can_be_turned_on(world: World, settings_for: Any) -> None:
    body = await _answer_with_a_link(world, settings_for(discord_link_previews=True))
    assert not body.get("flags", 0) & SUPPRESS_EMBEDS
