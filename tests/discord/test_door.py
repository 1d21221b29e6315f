"""The Discord door end to end: the real runtime and discord.py against the Discord peer."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from bot.commands import SPECS
from bot.types import ChatMessage, ConversationKey, Role
from tests.discord.conftest import World, serving
from tests.peers.discord_peer import DiscordPeer, PeerUser, Recorded
from tests.support.backends import ScriptedBackend

NO_MENTIONS = {"parse": []}


def mention(peer: DiscordPeer, text: str) -> str:
    return f"<@{peer.bot.id}> {text}"


async def ask(
    peer: DiscordPeer, channel: int, user: PeerUser, text: str, *, reply_to: int | None = None
) -> dict[str, Any]:
    """Mention the bot and wait for the complete echo answer."""
    message = await peer.post_message(
        channel, user, mention(peer, text), mentions=(peer.bot,), reply_to=reply_to
    )
    await answer_to(peer, channel, f"echo: {text}")
    return message


async def answer_to(peer: DiscordPeer, channel: int, text: str) -> dict[str, Any]:
    return await peer.wait_for(
        lambda: next((m for m in peer.bot_messages(channel) if m["content"] == text), None)
    )


def history_reads(peer: DiscordPeer) -> list[Recorded]:
    return [r for r in peer.calls("GET", "/channels/") if "/messages" in r.path]


def creates_in(peer: DiscordPeer, channel: int) -> list[Recorded]:
    return [r for r in peer.calls("POST") if r.path == f"/channels/{channel}/messages"]


def last_prompt(backend: ScriptedBackend) -> Sequence[ChatMessage]:
    return backend.calls[-1]


async def test_a_mention_is_answered_as_a_reply_and_the_model_sees_no_mention(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        question = await ask(peer, world.general, world.alice, "hello there")
    (create,) = creates_in(peer, world.general)
    assert create.body["message_reference"]["message_id"] == int(question["id"])
    user_turn = last_prompt(running.backend)[-1]
    assert (user_turn.role, user_turn.content, user_turn.name) == (
        Role.USER,
        "hello there",
        "Alice",
    )


async def test_a_dm_is_answered_without_a_mention(world: World, settings_for: Any) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(world.alice_dm, world.alice, "just between us")
        await answer_to(peer, world.alice_dm, "echo: just between us")
        await peer.post_message(world.alice_dm, world.alice, "remember?")
        await answer_to(peer, world.alice_dm, "echo: remember?")
        assert await running.runtime.dialogue.knows(
            ConversationKey("discord", "dm", str(world.alice_dm))
        )
    assert [m.content for m in last_prompt(running.backend)[1:]] == [
        "just between us",
        "echo: just between us",
        "remember?",
    ]


async def test_a_mention_opens_a_thread_where_the_conversation_continues(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(discord_threads="auto"), ScriptedBackend()) as running:
        question = await peer.post_message(
            world.general, world.alice, mention(peer, "plan the launch"), mentions=(peer.bot,)
        )
        thread = int(question["id"])  # Discord gives a thread started on a message its id
        await answer_to(peer, thread, "echo: plan the launch")
        await peer.post_message(thread, world.alice, "and the budget?")
        await answer_to(peer, thread, "echo: and the budget?")
    (opened,) = peer.calls("POST", f"/channels/{world.general}/messages/{thread}/threads")
    assert opened.body["name"] == "plan the launch"
    assert not creates_in(peer, world.general), "answers go into the thread"
    prompt = [(m.role, m.content) for m in last_prompt(running.backend)[1:]]
    assert prompt == [
        (Role.USER, "plan the launch"),
        (Role.ASSISTANT, "echo: plan the launch"),
        (Role.USER, "and the budget?"),
    ]
    assert not history_reads(peer)


async def test_a_thread_discord_refuses_leaves_the_conversation_in_the_channel(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    peer.refuses_threads = True
    async with serving(peer, settings_for(discord_threads="auto"), ScriptedBackend()) as running:
        question = await ask(peer, world.general, world.alice, "plan the launch")
        (answer,) = peer.bot_messages(world.general)
        assert answer["message_reference"]["message_id"] == question["id"]
        await peer.post_message(
            world.general, world.alice, "and the budget?", reply_to=int(answer["id"])
        )
        await answer_to(peer, world.general, "echo: and the budget?")
    prompt = [(m.role, m.content) for m in last_prompt(running.backend)[1:]]
    assert prompt == [
        (Role.USER, "plan the launch"),
        (Role.ASSISTANT, "echo: plan the launch"),
        (Role.USER, "and the budget?"),
    ]
    tried = [r for r in peer.calls("POST", f"/channels/{world.general}/") if "/threads" in r.path]
    assert len(tried) == 1, "the reply continues in the channel: no second thread is tried"


async def test_a_reply_to_the_bot_needs_no_mention(world: World, settings_for: Any) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await ask(peer, world.general, world.alice, "first")
        (answer,) = peer.bot_messages(world.general)
        await peer.post_message(world.general, world.alice, "why?", reply_to=int(answer["id"]))
        await answer_to(peer, world.general, "echo: why?")
    assert [m.content for m in last_prompt(running.backend)[1:]] == ["first", "echo: first", "why?"]
    assert not history_reads(peer)


async def test_bots_are_never_answered(world: World, settings_for: Any) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(
            world.general, world.other_bot, mention(peer, "loop with me"), mentions=(peer.bot,)
        )
        # Events arrive in order: once this is answered the bot's message was seen and ignored.
        await ask(peer, world.general, world.alice, "hi")
    assert len(running.backend.calls) == 1
    assert len(creates_in(peer, world.general)) == 1, "not even its own messages are answered"


async def test_model_output_never_pings(world: World, settings_for: Any) -> None:
    peer = world.peer
    backend = ScriptedBackend(
        lambda _: f"@everyone @here <@{world.alice.id}> <@&{peer.admin_role}>"
    )
    async with serving(peer, settings_for(), backend):
        await peer.post_message(
            world.general, world.alice, mention(peer, "x"), mentions=(peer.bot,)
        )
        await peer.wait_for(lambda: creates_in(peer, world.general))
        await peer.invoke_command(world.general, world.alice, "ask", {"prompt": "y"})
        await peer.wait_for(lambda: peer.calls("PATCH", "/webhooks/"))
    writes = peer.message_writes()
    assert len(writes) >= 2
    assert all(write.body["allowed_mentions"] == NO_MENTIONS for write in writes)


async def test_a_long_answer_is_split_with_balanced_fences(world: World, settings_for: Any) -> None:
    peer = world.peer
    code = "\n".join(f"print({i})" for i in range(300))
    text = "Here you go:\n\n```python\n" + code + "\n```\nThat is all."
    async with serving(peer, settings_for(), ScriptedBackend(lambda _: text, chunks=10)):
        await peer.post_message(
            world.general, world.alice, mention(peer, "x"), mentions=(peer.bot,)
        )
        await peer.wait_for(
            lambda: any(
                m["content"].endswith("That is all.") for m in peer.bot_messages(world.general)
            )
        )
    pieces = [m["content"] for m in peer.bot_messages(world.general)]
    assert len(pieces) >= 2 and all(len(piece) <= 2000 for piece in pieces)
    for piece in pieces:
        assert sum(line.startswith("```") for line in piece.split("\n")) % 2 == 0
    assert all(piece.startswith("```python\n") for piece in pieces[1:])
    shown = "".join(pieces).replace("\n```" + "```python\n", "\n")
    assert "print(0)" in shown and "print(299)" in shown


async def test_edits_come_about_once_a_second(world: World, settings_for: Any) -> None:
    peer = world.peer
    backend = ScriptedBackend(lambda _: "word " * 60, chunks=30, duration=3.0)
    async with serving(peer, settings_for(discord_edit_interval=1.0), backend):
        await peer.post_message(
            world.general, world.alice, mention(peer, "x"), mentions=(peer.bot,)
        )
        await answer_to(peer, world.general, ("word " * 60).strip() + " ")
    (create,) = creates_in(peer, world.general)
    edits = peer.calls("PATCH", f"/channels/{world.general}/messages")
    assert 1 <= len(edits) <= 5
    times = [create.at, *(edit.at for edit in edits)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.9 for gap in gaps[:-1]), f"throttled updates, gaps {gaps}"


async def test_ask_is_deferred_then_answered_and_continued_in_follow_ups(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    long_text = "Sentence number one. " * 150
    backend = ScriptedBackend(lambda m: "short" if "short" in m[-1].content else long_text)
    async with serving(peer, settings_for(), backend):
        token = await peer.invoke_command(world.general, world.alice, "ask", {"prompt": "short"})
        await peer.wait_for(lambda: peer.interaction_responses.get(token, {}).get("content"))
        long_token = await peer.invoke_command(
            world.general, world.alice, "ask", {"prompt": "long"}
        )
        await peer.wait_for(
            lambda: peer.calls("POST", f"/webhooks/{peer.application_id}/{long_token}")
        )
    (callback,) = peer.calls("POST", f"/interactions/{_id(token)}/{token}/callback")
    assert callback.body["type"] == 5, "deferred: Parley is thinking"
    assert peer.interaction_responses[token]["content"] == "short"
    followups = peer.calls("POST", f"/webhooks/{peer.application_id}/{long_token}")
    original = peer.interaction_responses[long_token]["content"]
    assert len(original) <= 2000 and all(len(f.body["content"]) <= 2000 for f in followups)
    assert (original + "".join(f.body["content"] for f in followups)).strip() == long_text.strip()


def _id(token: str) -> str:
    return token.rsplit("-", 1)[1]


async def test_a_redelivered_message_is_answered_once(world: World, settings_for: Any) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(
            world.general, world.alice, mention(peer, "once"), mentions=(peer.bot,), deliveries=2
        )
        await answer_to(peer, world.general, "echo: once")
        await ask(peer, world.general, world.alice, "twice?")
    assert len(running.backend.calls) == 2
    assert len(creates_in(peer, world.general)) == 2


async def test_a_channel_outside_the_allowlist_is_ignored(world: World, settings_for: Any) -> None:
    peer = world.peer
    settings = settings_for(discord_channels=[str(world.general)])
    async with serving(peer, settings, ScriptedBackend()) as running:
        await peer.post_message(
            world.random, world.alice, mention(peer, "hi"), mentions=(peer.bot,)
        )
        await ask(peer, world.general, world.alice, "hello")
    assert len(running.backend.calls) == 1
    assert not peer.calls("POST", f"/channels/{world.random}/")


async def test_each_answer_is_one_create_plus_edits_and_history_is_never_fetched(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    backend = ScriptedBackend(chunks=4, duration=0.4)
    settings = settings_for(discord_edit_interval=0.2, discord_conversation="channel")
    async with serving(peer, settings, backend):
        questions = [await ask(peer, world.general, world.alice, f"turn {n}") for n in range(3)]
    creates = creates_in(peer, world.general)
    assert [c.body["message_reference"]["message_id"] for c in creates] == [
        int(q["id"]) for q in questions
    ]
    answers = peer.bot_messages(world.general)
    edits = peer.calls("PATCH", f"/channels/{world.general}/messages")
    for answer in answers:
        assert sum(e.path.endswith(answer["id"]) for e in edits) <= 3
    assert not history_reads(peer)
    assert len(backend.calls[-1]) == 1 + 2 * 2 + 1, "the store, not Discord, was the memory"


async def test_the_first_turn_in_an_existing_thread_reads_it_once(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    # Opened before Parley started, from a channel message Parley has never seen.
    starter = await peer.post_message(world.general, world.admin, "deploying v2 now")
    thread = await peer.add_thread(
        world.general, "incident", world.alice, starter=int(starter["id"])
    )
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(thread, world.alice, "the deploy failed at 10:02")
        await peer.post_message(thread, world.admin, "rollback is done")
        await ask(peer, thread, world.alice, "what happened?")
        await ask(peer, thread, world.admin, "and now?")
    assert [read.path for read in history_reads(peer)] == [
        f"/channels/{world.general}/messages/{thread}",
        f"/channels/{thread}/messages",
    ]
    first = [(m.role, m.name, m.content) for m in running.backend.calls[0][1:]]
    assert first == [
        (Role.USER, "Ada", "deploying v2 now"),
        (Role.USER, "Alice", "the deploy failed at 10:02"),
        (Role.USER, "Ada", "rollback is done"),
        (Role.USER, "Alice", "what happened?"),
    ]
    assert [m.content for m in last_prompt(running.backend)[1:]][-3:] == [
        "what happened?",
        "echo: what happened?",
        "and now?",
    ]


async def test_a_reply_to_an_unseen_message_reads_the_chain_once(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        root = await peer.post_message(world.general, world.alice, "tests are red")
        middle = await peer.post_message(
            world.general, world.admin, "since the merge", reply_to=int(root["id"])
        )
        await ask(peer, world.general, world.alice, "ideas?", reply_to=int(middle["id"]))
    (read,) = history_reads(peer)
    assert read.path == f"/channels/{world.general}/messages/{root['id']}"
    assert [m.content for m in running.backend.calls[0][1:]] == [
        "tests are red",
        "since the merge",
        "ideas?",
    ]


async def test_attachments_reach_the_model(world: World, settings_for: Any) -> None:
    peer = world.peer
    files = (
        ("notes.txt", "text/plain", b"line one\nline two"),
        ("shot.png", "image/png", b"\x89PNG fake"),
        ("bundle.zip", "application/zip", b"PK\x03\x04"),
    )
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        await peer.post_message(
            world.general,
            world.alice,
            mention(peer, "see"),
            mentions=(peer.bot,),
            attachments=files,
        )
        await peer.wait_for(lambda: creates_in(peer, world.general))
    user_turn = last_prompt(running.backend)[-1]
    assert "line one\nline two" in user_turn.content
    assert "bundle.zip" in user_turn.content
    assert len(user_turn.images) == 1 and user_turn.images[0].endswith("shot.png")


async def test_images_past_the_cap_are_left_out_with_one_line(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    files = (("a.png", "image/png", b"\x89PNG a"), ("b.png", "image/png", b"\x89PNG b"))
    async with serving(peer, settings_for(max_images=1), ScriptedBackend()) as running:
        asked = await peer.post_message(
            world.general,
            world.alice,
            mention(peer, "compare"),
            mentions=(peer.bot,),
            attachments=files,
        )
        await peer.wait_for(lambda: running.backend.calls)
        await peer.wait_for(
            lambda: any(m.get("components") for m in peer.bot_messages(world.general))
        )
    told = [m for m in peer.bot_messages(world.general) if m["content"].startswith("Not read")]
    assert [m["content"] for m in told] == [
        "Not read: b.png (at most 1 image of up to 5 MB each per message)."
    ]
    assert told[0]["message_reference"]["message_id"] == str(asked["id"])
    user_turn = last_prompt(running.backend)[-1]
    assert len(user_turn.images) == 1 and user_turn.images[0].endswith("a.png")
    assert "b.png (image/png)" in user_turn.content


async def test_only_server_managers_change_the_system_prompt(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        refused = await peer.invoke_command(
            world.general, world.alice, "system", {"prompt": "be a pirate"}
        )
        await peer.wait_for(lambda: peer.interaction_responses.get(refused, {}).get("content"))
        allowed = await peer.invoke_command(
            world.general, world.admin, "system", {"prompt": "be a pirate"}
        )
        await peer.wait_for(lambda: peer.interaction_responses.get(allowed, {}).get("content"))
        await ask(peer, world.general, world.alice, "ahoy?")
    refusal = peer.interaction_responses[refused]["content"]
    assert refusal != peer.interaction_responses[allowed]["content"]
    assert last_prompt(running.backend)[0].content == "be a pirate"


async def test_a_process_serves_the_shard_ids_it_is_given(world: World, settings_for: Any) -> None:
    peer = world.peer
    shard = (peer.guild_id >> 22) % 2  # Discord's rule for which shard receives a guild
    settings = settings_for(discord_shard_count=2, discord_shard_ids=[shard])
    async with serving(peer, settings, ScriptedBackend()) as running:
        client = running.door.client
        assert (client.shard_count, list(client.shards)) == (2, [shard])
        await ask(peer, world.general, world.alice, "sharded hello")


async def test_ask_in_a_thread_answers_there_in_the_threads_conversation(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        starter = await peer.post_message(world.general, world.alice, "who owns billing?")
        thread = await peer.add_thread(
            world.general, "billing", world.alice, starter=int(starter["id"])
        )
        await peer.post_message(thread, world.admin, "I think Bob")
        token = await peer.invoke_command(thread, world.alice, "ask", {"prompt": "summarise"})
        await peer.wait_for(lambda: peer.interaction_responses.get(token, {}).get("content"))
        await ask(peer, thread, world.alice, "thanks")
        key = ConversationKey("discord", str(peer.guild_id), str(world.general), str(thread))
        assert await running.runtime.dialogue.knows(key)
    assert peer.interaction_responses[token]["content"] == "echo: summarise"
    assert not creates_in(peer, world.general), "the answer is the interaction's, in the thread"
    (read,) = history_reads(peer)  # the starter message was in discord.py's cache
    assert read.path == f"/channels/{thread}/messages"
    first = [(m.name, m.content) for m in running.backend.calls[0][1:]]
    assert first == [("Alice", "who owns billing?"), ("Ada", "I think Bob"), ("Alice", "summarise")]
    assert [m.content for m in last_prompt(running.backend)[-3:]] == [
        "summarise",
        "echo: summarise",
        "thanks",
    ]


@pytest.mark.parametrize("where", ["setting", "flag", None])
async def test_commands_sync_to_one_guild_when_asked_else_globally(
    world: World, settings_for: Any, where: str | None
) -> None:
    peer = world.peer
    guild = str(peer.guild_id)
    settings = settings_for(discord_sync_guild=guild if where == "setting" else None)
    flag = guild if where == "flag" else None
    async with serving(peer, settings, ScriptedBackend(), sync_guild=flag):
        pass
    (put,) = peer.calls("PUT")
    scope = f"/guilds/{guild}" if where else ""
    assert put.path == f"/applications/{peer.application_id}{scope}/commands"
    assert {"ask", "reset", "system"} <= {command["name"] for command in put.body}


async def test_every_command_spec_is_a_slash_command_with_its_argument_as_option(
    world: World, settings_for: Any
) -> None:
    async with serving(world.peer, settings_for(), ScriptedBackend()):
        pass
    (put,) = world.peer.calls("PUT")
    synced = {command["name"]: command for command in put.body}
    assert set(SPECS) | {"ask"} <= set(synced)
    for spec in SPECS.values():
        assert synced[spec.name]["description"] == spec.summary
        options = synced[spec.name].get("options", [])
        if spec.argument is None:
            assert options == [], spec.name
            continue
        first = options[0]
        assert first["name"] == spec.argument.name, spec.name
        assert first["description"] == spec.argument.description
        assert first.get("required", False) == spec.argument.required
        assert [choice["value"] for choice in first.get("choices", [])] == list(
            spec.argument.choices
        )
