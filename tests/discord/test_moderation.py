"""Moderation on Discord: a flagged question is refused, a flagged answer never shown."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import World, serving
from tests.discord.test_door import answer_to, mention
from tests.support.backends import ScriptedBackend


async def test_flagged_input_is_refused_and_flagged_output_withheld(
    world: World, settings_for: Any, openai_peer
) -> None:
    peer = world.peer
    settings = settings_for(moderation="both", openai_base_url=openai_peer.base_url)
    backend = ScriptedBackend(
        lambda messages: "sure: FLAGME" if "trick" in messages[-1].content else "fine"
    )
    async with serving(peer, settings, backend):
        await peer.post_message(
            world.general, world.alice, mention(peer, "FLAGME please"), mentions=(peer.bot,)
        )
        refused = await answer_to(
            peer, world.general, "I can't answer that: moderation flagged the message (violence)."
        )
        await peer.post_message(
            world.general, world.alice, mention(peer, "a trick question"), mentions=(peer.bot,)
        )
        await peer.wait_for(
            lambda: any("withheld" in m["content"] for m in peer.bot_messages(world.general))
        )
    assert refused and len(backend.calls) == 1, "the flagged question never reached the model"
    writes = [str(r.body) for r in peer.message_writes()]
    assert not any("sure: FLAGME" in body for body in writes), "the flagged answer never showed"
