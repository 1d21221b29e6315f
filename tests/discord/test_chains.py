"""Many people, one place: reply chains, followed threads and shared channels, with the real
discord.py client against the Discord peer."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bot.types import ConversationKey, Role
from tests.discord.conftest import World, serving
from tests.discord.test_door import answer_to, ask, creates_in, history_reads, mention
from tests.peers.discord_peer import DiscordPeer
from tests.support.backends import ScriptedBackend

CHAINS = 10
TURNS = 3


def finals(peer: DiscordPeer, channel: int) -> dict[str, dict[str, Any]]:
    """The bot's messages by content."""
    return {m["content"]: m for m in peer.bot_messages(channel)}


async def test_ten_reply_chains_in_one_channel_are_ten_conversations_at_once(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend(chunks=6, duration=3.0)
    async with serving(peer, settings_for(), backend):
        # Turn 1: ten plain mentions, each the start of its own chain.
        for chain in range(CHAINS):
            await peer.post_message(
                world.general, world.alice, mention(peer, f"q{chain} t0"), mentions=(peer.bot,)
            )
        # Every chain's answer is under way before any of them is finished: nobody waits.
        await peer.wait_for(lambda: len(backend.calls) == CHAINS)
        assert not any(
            text.startswith("echo: ") and text.endswith("t0")
            for text in finals(peer, world.general)
        )
        for chain in range(CHAINS):
            await answer_to(peer, world.general, f"echo: q{chain} t0")
        # Turns 2 and 3: each chain continues by replying to its latest answer, no mention.
        for turn in range(1, TURNS):
            shown = finals(peer, world.general)
            for chain in range(CHAINS):
                answer = shown[f"echo: q{chain} t{turn - 1}"]
                await peer.post_message(
                    world.general, world.alice, f"q{chain} t{turn}", reply_to=int(answer["id"])
                )
            asked = CHAINS * (turn + 1)
            await peer.wait_for(lambda: len(backend.calls) == asked)  # noqa: B023
            for chain in range(CHAINS):
                await answer_to(peer, world.general, f"echo: q{chain} t{turn}")

    # Each chain's context is exactly its own chain: 2, 4 and 6 messages with the system prompt.
    assert len(backend.calls) == CHAINS * TURNS
    for messages in backend.calls:
        chain, turn = messages[-1].content.split()
        assert [m.content for m in messages[1:]] == [
            text
            for t in range(int(turn[1:]) + 1)
            for text in (f"{chain} t{t}", f"echo: {chain} t{t}")
        ][:-1]
        assert len(messages) == 2 * (int(turn[1:]) + 1)
    # Nothing answered twice: one answer per question, each a reply to its question.
    replied_to = Counter(
        c.body["message_reference"]["message_id"] for c in creates_in(peer, world.general)
    )
    assert len(replied_to) == CHAINS * TURNS and set(replied_to.values()) == {1}
    assert not history_reads(peer), "a continued chain is read from the store"


async def test_channel_settings_apply_to_every_chain(world: World, settings_for: Any) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(
            world.general,
            world.admin,
            mention(peer, "/system Answer in French."),
            mentions=(peer.bot,),
        )
        await peer.wait_for(lambda: peer.bot_messages(world.general))
        await ask(peer, world.general, world.alice, "bonjour")
        key = ConversationKey("discord", str(peer.guild_id), str(world.general))
        assert (await running.runtime.store.get_settings(key)).system_prompt == "Answer in French."
    (system, *_) = running.backend.calls[-1]
    assert (system.role, system.content) == (Role.SYSTEM, "Answer in French.")


async def test_a_mention_replying_to_someone_else_starts_a_chain_with_it(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "unrelated")
        said = await peer.post_message(world.general, world.admin, "the build is slow")
        await ask(peer, world.general, world.alice, "why?", reply_to=int(said["id"]))
        answer = finals(peer, world.general)["echo: why?"]
        await peer.post_message(world.general, world.admin, "fix?", reply_to=int(answer["id"]))
        await answer_to(peer, world.general, "echo: fix?")
    # The replied-to message came with the mention (read once); the chain then is the store's.
    assert [m.content for m in running.backend.calls[-1][1:]] == [
        "the build is slow",
        "why?",
        "echo: why?",
        "fix?",
    ]


async def test_a_reply_to_a_question_in_a_chain_continues_it(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        question = await ask(peer, world.general, world.alice, "name a colour")
        await peer.post_message(
            world.general, world.admin, "and a number", reply_to=int(question["id"])
        )
        await answer_to(peer, world.general, "echo: and a number")
    assert [m.content for m in running.backend.calls[-1][1:]] == [
        "name a colour",
        "echo: name a colour",
        "and a number",
    ]


async def test_in_channel_mode_the_channel_is_one_conversation(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    settings = settings_for(discord_conversation="channel")
    async with serving(peer, settings, ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "one")
        await ask(peer, world.general, world.admin, "two")
    assert [m.content for m in running.backend.calls[-1][1:]] == ["one", "echo: one", "two"]


async def test_different_people_mentioning_at_once_in_channel_mode_run_together(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend(chunks=4, duration=2.0)
    async with serving(peer, settings_for(discord_conversation="channel"), backend):
        for user in (world.alice, world.admin):
            await peer.post_message(
                world.general, user, mention(peer, f"from {user.name}"), mentions=(peer.bot,)
            )
        await peer.wait_for(lambda: len(backend.calls) == 2)  # the second did not wait
        await answer_to(peer, world.general, "echo: from Alice")
        await answer_to(peer, world.general, "echo: from Ada")


async def test_a_users_thread_is_followed_once_parley_was_mentioned(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        thread = await peer.add_thread(world.general, "plans", world.alice)
        await peer.post_message(thread, world.alice, "just us humans")
        await ask(peer, thread, world.alice, "join us")
        await peer.post_message(thread, world.admin, "what next?")
        await answer_to(peer, thread, "echo: what next?")
    assert [m.content for m in running.backend.calls[-1][1:]] == [
        "just us humans",
        "join us",
        "echo: join us",
        "what next?",
    ]
    assert len(running.backend.calls) == 2


async def test_following_threads_can_be_turned_off(world: World, settings_for: Any) -> None:
    peer = world.peer
    settings = settings_for(discord_follow_threads=False)
    async with serving(peer, settings, ScriptedBackend()) as running:
        thread = await peer.add_thread(world.general, "plans", world.alice)
        await ask(peer, thread, world.alice, "join us")
        await peer.post_message(thread, world.admin, "not for you")
        await ask(peer, thread, world.alice, "now you")
    assert [m[-1].content for m in running.backend.calls] == ["join us", "now you"]


async def test_answers_in_one_channel_share_its_edit_budget_and_every_final_lands(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend(chunks=15, duration=3.0)
    settings = settings_for(discord_edit_interval=0.2, discord_channel_edits=5)
    async with serving(peer, settings, backend):
        for chain in range(CHAINS):
            await peer.post_message(
                world.general, world.alice, mention(peer, f"q{chain}"), mentions=(peer.bot,)
            )
        for chain in range(CHAINS):
            await answer_to(peer, world.general, f"echo: q{chain}")
    writes = peer.calls("PATCH", f"/channels/{world.general}/messages")
    edits = [e for e in writes if "content" in e.body]  # not the feedback buttons going on
    # Alone, each answer would be edited about 15 times (every 0.2 s for 3 s): 150 edits. The
    # ten posts fill the channel's budget, so interim edits mostly yield; the finals all land.
    assert CHAINS <= len(edits) <= 2 * CHAINS
    assert all(
        any(e.body["content"] == f"echo: q{chain}" for e in edits) for chain in range(CHAINS)
    )


async def test_a_reply_to_an_answer_from_before_chains_reads_its_chain_once(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(discord_conversation="channel"), ScriptedBackend()):
        await ask(peer, world.general, world.alice, "first")
    (answer,) = peer.bot_messages(world.general)
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(world.general, world.alice, "why?", reply_to=int(answer["id"]))
        await answer_to(peer, world.general, "echo: why?")
    assert [m.content for m in running.backend.calls[-1][1:]] == ["first", "echo: first", "why?"]


async def test_ask_in_a_channel_starts_its_own_chain_and_a_reply_continues_it(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend()
    async with serving(peer, settings_for(), backend) as running:
        await ask(peer, world.general, world.alice, "a mention's question")
        token = await peer.invoke_command(world.general, world.alice, "ask", {"prompt": "asked"})
        answer = await peer.wait_for(
            lambda: (
                peer.interaction_responses.get(token, {}).get("content") == "echo: asked"
                and peer.interaction_responses[token]
            )
        )
        # The answer shows before its turn ends (linking its message, storing it): reply after.
        async with asyncio.timeout(10):
            while running.runtime.dialogue.in_flight:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)
        assert [m.content for m in backend.calls[-1][1:]] == ["asked"]
        await peer.post_message(world.general, world.alice, "and then?", reply_to=int(answer["id"]))
        await answer_to(peer, world.general, "echo: and then?")
    assert [m.content for m in backend.calls[-1][1:]] == ["asked", "echo: asked", "and then?"]
    assert not history_reads(peer)


async def test_an_admins_reset_in_a_channel_covers_its_chains(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend()
    async with serving(peer, settings_for(), backend):
        await ask(peer, world.general, world.alice, "remember this")
        first = await answer_to(peer, world.general, "echo: remember this")
        token = await peer.invoke_command(world.general, world.admin, "reset")
        reply = await peer.wait_for(
            lambda: peer.interaction_responses.get(token, {}).get("content")
        )
        assert "every conversation under this channel" in reply
        await peer.post_message(
            world.general, world.alice, "what was it?", reply_to=int(first["id"])
        )
        await answer_to(peer, world.general, "echo: what was it?")
    assert [m.content for m in backend.calls[-1][1:]] == ["what was it?"]
