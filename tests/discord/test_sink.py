"""The reply sinks against the Discord peer, through a real discord.py client (no core)."""

from __future__ import annotations

import json
import logging

import discord
import pytest

from adapters.discord.sink import MAX_LEN, ChannelReply
from bot.replies import DeliveryFailed
from tests.discord.conftest import World

NO_MENTIONS = {"parse": []}


async def user_message(world: World, client: discord.Client, text: str) -> discord.Message:
    channel = client.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    payload = await world.peer.post_message(world.general, world.alice, text)
    return await channel.fetch_message(int(payload["id"]))


def fences_balanced(piece: str) -> bool:
    return sum(line.strip().startswith("```") for line in piece.split("\n")) % 2 == 0


async def test_a_long_answer_continues_in_new_messages_with_balanced_fences(
    world: World, client: discord.Client
) -> None:
    peer = world.peer
    question = await user_message(world, client, "write a lot")
    code = "\n".join(f"    value_{i} = compute({i})" for i in range(80))
    answer = "Intro paragraph.\n\n" + "Some prose. " * 80 + f"\n\n```python\n{code}\n```\n\nDone."
    assert len(answer) > MAX_LEN + 500
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    before = len(peer.requests)
    await sink.start()
    for end in range(400, len(answer), 400):  # the text grows as a stream would
        await sink.update(answer[:end])
    await sink.finish(answer)

    pieces = [m["content"] for m in peer.bot_messages(world.general)]
    assert len(pieces) >= 2
    assert all(len(piece) <= MAX_LEN for piece in pieces)
    assert all(fences_balanced(piece) for piece in pieces)
    assert pieces[-1].endswith("Done.")
    assert any(piece.startswith("```python\n") for piece in pieces[1:]), "fence reopened"
    writes = peer.message_writes()[-(len(peer.requests) - before) :]
    assert writes and all(w.body["allowed_mentions"] == NO_MENTIONS for w in writes)
    first_id = peer.bot_messages(world.general)[0]["id"]
    first_edits = [w for w in writes if w.method == "PATCH" and w.path.endswith(first_id)]
    creates = [w for w in writes if w.method == "POST"]
    assert len(creates) == len(pieces)
    assert creates[0].body["message_reference"]["message_id"] == question.id
    # The first piece is edited while it grows and gets its final cut before the second appears;
    # a finished piece is never edited again.
    position = {id(request): index for index, request in enumerate(peer.requests)}
    assert first_edits
    assert all(position[id(edit)] < position[id(creates[1])] for edit in first_edits)


async def test_an_unchanged_finish_sends_no_edit(world: World, client: discord.Client) -> None:
    peer = world.peer
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    await sink.start()
    await sink.update("Hello there")
    await sink.finish("Hello there")
    assert [m["content"] for m in peer.bot_messages(world.general)] == ["Hello there"]
    assert not peer.calls("PATCH", f"/channels/{world.general}/messages")


async def test_typing_shows_until_the_first_words(world: World, client: discord.Client) -> None:
    peer = world.peer
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    await sink.start()
    await peer.wait_for(lambda: peer.calls("POST", f"/channels/{world.general}/typing"))
    await sink.finish("Hello")
    typing = peer.calls("POST", f"/channels/{world.general}/typing")
    create = peer.calls("POST", f"/channels/{world.general}/messages")[-1]
    assert len(typing) == 1 and typing[0].at <= create.at


async def test_an_answer_shown_before_the_typing_delay_sends_no_typing(
    world: World, client: discord.Client
) -> None:
    peer = world.peer
    question = await user_message(world, client, "hi")
    channel = client.get_channel(world.general)
    sink = ChannelReply(channel, reply_to=question, min_edit_interval=1, typing_delay=3600)
    await sink.start()
    await sink.update("Hel")
    await sink.finish("Hello")
    assert [m["content"] for m in peer.bot_messages(world.general)] == ["Hello"]
    assert not peer.calls("POST", f"/channels/{world.general}/typing")


async def test_an_archived_thread_is_logged_and_the_answer_reported_undelivered(
    world: World, client: discord.Client, caplog: pytest.LogCaptureFixture
) -> None:
    peer = world.peer
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    await sink.start()
    await sink.update("Hello")
    peer.edit_status = 400
    with caplog.at_level(logging.WARNING, logger="adapters.discord.sink"):
        await sink.update("Hello, wor")
        edits_after_failure = len(peer.calls("PATCH"))
        with pytest.raises(DeliveryFailed):
            await sink.finish("Hello, world")
    assert "code 50083" in caplog.text
    assert len(peer.calls("PATCH")) == edits_after_failure, "no retries into a closed thread"


async def test_a_final_edit_refused_by_an_outage_is_retried_until_it_lands(
    world: World, client: discord.Client
) -> None:
    peer = world.peer
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    await sink.start()
    await sink.update("Hello")
    peer.edit_outages = 2
    await sink.finish("Hello, world")
    (answer,) = peer.bot_messages(world.general)
    assert answer["content"] == "Hello, world"
    assert len(peer.calls("PATCH")) == 3, "two refused edits, then the one that landed"


async def test_a_restored_reply_finishes_the_answer_another_process_began(
    world: World, client: discord.Client
) -> None:
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    await sink.start()
    await sink.update("Half of an")
    receipt = sink.receipt()
    assert receipt is not None
    await ChannelReply.restore(client, json.loads(receipt)).finish("Half of an\n\n_(cut)_")
    (answer,) = world.peer.bot_messages(world.general)
    assert answer["content"] == "Half of an\n\n_(cut)_"


async def test_a_restored_reply_that_showed_nothing_answers_the_question(
    world: World, client: discord.Client
) -> None:
    question = await user_message(world, client, "hi")
    sink = ChannelReply(client.get_channel(world.general), reply_to=question, min_edit_interval=1)
    receipt = sink.receipt()
    assert receipt is not None
    await ChannelReply.restore(client, json.loads(receipt)).finish("_(cut)_")
    (answer,) = world.peer.bot_messages(world.general)
    assert answer["content"] == "_(cut)_"
    assert answer["message_reference"]["message_id"] == str(question.id)
