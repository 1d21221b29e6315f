"""Memory of the place in Discord, with the real discord.py client and the real openai client:
an admin turns it on, messages arriving as gateway events are kept, and a later question is
answered from the matching old message, cited with its real link, reading no history."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.store.base import Store
from tests.discord.conftest import World, serving
from tests.discord.test_catchup import _answer, settings_with_model
from tests.peers.openai_peer import OpenAIPeer

DECIDED = "We decided: the release date is March 3rd, after the freeze."
_LINK = re.compile(r"\[1\]\((https://discord\.com/channels/\d+/\d+/\d+)\)")


def citing(request: dict[str, Any]) -> str:
    """The model cites the kept message the note numbers [1], when there is a note."""
    notes = [m["content"] for m in request["messages"] if "channel's memory" in m["content"]]
    return "It is March 3rd [1]." if notes else "I don't know."


def _place(world: World) -> str:
    return f"discord:{world.peer.guild_id}:{world.general}"


async def until(check: Callable[[], Awaitable[object]]) -> None:
    """Wait until the check holds: events are handled after the peer delivers them."""
    async with asyncio.timeout(10):
        while not await check():  # noqa: ASYNC110 (the store has no event to wait on)
            await asyncio.sleep(0.02)


async def kept(store: Store, place: str, count: int) -> None:
    """Wait until the place's memory holds `count` messages."""

    async def holds() -> bool:
        info = await store.place_memory(place)
        return info is not None and info.messages == count

    await until(holds)


async def _chatter(world: World, count: int) -> list[dict[str, Any]]:
    said = []
    for i in range(count):
        text = DECIDED if i == 7 else f"lunch plans number {i}, and other things"
        said.append(
            await world.peer.post_message(world.general, (world.alice, world.admin)[i % 2], text)
        )
    return said


async def test_an_indexed_channel_answers_about_an_old_message_without_reading_history(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    openai_peer.answer = citing
    async with serving(peer, settings_with_model(settings_for, openai_peer), None) as running:  # type: ignore[arg-type]
        token = await peer.invoke_command(world.general, world.admin, "remember", {"state": "on"})
        assert (await _answer(world, token, "all.")).startswith("Memory of this channel is on")
        said = await _chatter(world, 50)
        await kept(running.runtime.store, _place(world), 50)
        reads_before = len(peer.calls("GET", f"/channels/{world.general}/messages"))
        await peer.post_message(
            world.general,
            world.alice,
            f"<@{peer.bot.id}> what did we decide about the release date?",
            mentions=(peer.bot,),
        )
        await peer.wait_for(
            lambda: any("March 3rd" in m["content"] for m in peer.bot_messages(world.general))
        )
        stats = await peer.invoke_command(world.general, world.alice, "stats")
        stats_text = await _answer(world, stats, "kept.")
    (request,) = openai_peer.requests
    prompt = "\n".join(m["content"] for m in request["messages"])
    assert DECIDED in prompt
    (answer,) = [m for m in peer.bot_messages(world.general) if "March" in m["content"]]
    decided = said[7]
    assert _LINK.search(answer["content"])[1] == (  # type: ignore[index]
        f"https://discord.com/channels/{peer.guild_id}/{world.general}/{decided['id']}"
    )
    assert len(peer.calls("GET", f"/channels/{world.general}/messages")) == reads_before == 0
    assert not peer.history_reads
    assert "Memory of this channel: on since" in stats_text and "51 messages kept" in stats_text


async def test_only_admins_turn_it_on_and_nothing_is_kept_while_it_is_off(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    async with serving(peer, settings_with_model(settings_for, openai_peer), None) as running:  # type: ignore[arg-type]
        token = await peer.invoke_command(world.general, world.alice, "remember", {"state": "on"})
        refused = await _answer(world, token, "on or off.")
        await peer.post_message(world.general, world.alice, "the release date is secret")
        shown = await peer.invoke_command(world.general, world.alice, "remember")
        status = await _answer(world, shown, "`remember on`.")
        await running.runtime.dialogue.shutdown(2)
        kept = await running.runtime.store.search_place(_place(world), ["release"], 8)
        remembered = await running.runtime.store.place_memory(_place(world))
    assert refused == "Only admins can turn the memory of this channel on or off."
    assert status.startswith("Memory of this channel is off")
    assert kept == [] and remembered is None


async def test_edits_replace_deletions_remove_and_forget_deletes_a_persons_kept_messages(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    async with serving(peer, settings_with_model(settings_for, openai_peer), None) as running:  # type: ignore[arg-type]
        store = running.runtime.store
        token = await peer.invoke_command(world.general, world.admin, "remember", {"state": "on"})
        await _answer(world, token, "all.")
        edited = await peer.post_message(world.general, world.alice, "launch on Monday")
        deleted = await peer.post_message(world.general, world.admin, "launch password hunter2")
        await peer.post_message(world.general, world.admin, "launch checklist is ready")
        await peer.post_message(world.general, world.other_bot, "launch bot noise")
        await kept(store, _place(world), 3)
        await peer.edit_message(world.general, int(edited["id"]), "launch on Friday")
        await peer.delete_message(world.general, int(deleted["id"]))
        await kept(store, _place(world), 2)
        await until(lambda: store.search_place(_place(world), ["friday"], 8))
        assert await store.search_place(_place(world), ["monday"], 8) == []
        forgot = await peer.invoke_command(world.general, world.alice, "forget")
        await _answer(world, forgot, "memory.")
        remaining = await store.search_place(_place(world), ["launch"], 8)
        off = await peer.invoke_command(world.general, world.admin, "remember", {"state": "off"})
        said_off = await _answer(world, off, "kept.")
    assert [m.text for m in remaining] == ["launch checklist is ready"]
    assert said_off == (
        "Memory of this channel is off: I keep nothing more, and deleted the 1 message I had kept."
    )
