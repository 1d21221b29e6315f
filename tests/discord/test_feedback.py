"""Thumbs up / down buttons under every Discord answer, kept once per person per answer, shown
in stats and counted in the metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.discord.feedback import DISLIKE_ID, LIKE_ID
from tests.discord.conftest import World, serving
from tests.discord.test_door import ask
from tests.peers.discord_peer import PeerUser
from tests.support.backends import ScriptedBackend


async def test_every_answer_gets_buttons_and_a_click_is_kept_once_per_person(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    # Channel mode: `/stats` in the channel is about the conversation the answer belongs to.
    channel_mode = settings_for(discord_conversation="channel")
    async with serving(peer, channel_mode, ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "name a colour")
        answer = await peer.wait_for(
            lambda: next((m for m in peer.bot_messages(world.general) if m.get("components")), None)
        )
        (row,) = answer["components"]
        assert [button["custom_id"] for button in row["components"]] == [LIKE_ID, DISLIKE_ID]
        store = running.runtime.store

        async def click(user: PeerUser, custom_id: str, *, then: tuple[int, int]) -> None:
            token = await peer.click(world.general, int(answer["id"]), user, custom_id)
            await peer.wait_for(lambda: token in peer.interaction_responses)
            for _ in range(250):
                if [(r.likes, r.dislikes) for r in await store.ratings()] == [then]:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"ratings {await store.ratings()}, not {then}")

        await click(world.alice, LIKE_ID, then=(1, 0))
        await click(world.alice, DISLIKE_ID, then=(0, 1))  # she changed her mind
        await click(world.admin, LIKE_ID, then=(1, 1))
        token = await peer.invoke_command(world.general, world.alice, "stats")
        stats = await peer.wait_for(
            lambda: (
                "rated" in peer.interaction_responses.get(token, {}).get("content", "")
                and peer.interaction_responses[token]["content"]
            )
        )
        assert "Answers rated: 1 up, 1 down." in stats
        registry = running.runtime.dialogue.metrics.registry
        up = registry.get_sample_value(
            "parley_feedback_total", {"platform": "discord", "rating": "up"}
        )
        assert up == 2


async def test_a_click_from_someone_outside_the_allowlist_is_not_kept(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    only_alice = settings_for(discord_users=[str(world.alice.id)])
    async with serving(peer, only_alice, ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "name a colour")
        answer = await peer.wait_for(
            lambda: next((m for m in peer.bot_messages(world.general) if m.get("components")), None)
        )
        token = await peer.click(world.general, int(answer["id"]), world.admin, LIKE_ID)
        response = await peer.wait_for(lambda: peer.interaction_responses.get(token))
        assert response["content"] == "You can't use Parley here, so the rating was not kept."
        assert await running.runtime.store.ratings() == []
        token = await peer.click(world.general, int(answer["id"]), world.alice, LIKE_ID)
        await peer.wait_for(lambda: token in peer.interaction_responses)
        assert [(r.likes, r.dislikes) for r in await running.runtime.store.ratings()] == [(1, 0)]


async def test_a_streamed_answer_gets_its_buttons_with_its_final_text(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    streamed = ScriptedBackend(chunks=5, duration=0.5)  # shown, then edited, then final
    async with serving(peer, settings_for(), streamed) as running:
        await ask(peer, world.general, world.alice, "name a colour")
        answer = await peer.wait_for(
            lambda: next((m for m in peer.bot_messages(world.general) if m.get("components")), None)
        )
        edits = peer.calls("PATCH", f"/channels/{world.general}/messages/{answer['id']}")
        # The final edit carries the buttons; nothing edits the answer after it.
        assert edits[-1].body["content"] == "echo: name a colour"
        assert edits[-1].body["components"] and all("components" not in e.body for e in edits[:-1])
        token = await peer.click(world.general, int(answer["id"]), world.alice, LIKE_ID)
        await peer.wait_for(lambda: token in peer.interaction_responses)
        store = running.runtime.store
        for _ in range(250):
            if [(r.likes, r.dislikes) for r in await store.ratings()] == [(1, 0)]:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"ratings {await store.ratings()}")
