"""Catching up in Discord with the real discord.py client and the real openai client: `/summarize`
of a long channel by map-reduce, read once, its citations linking to real messages; the
"Summarize thread" and "Translate" message commands; `/translate`, privately."""

from __future__ import annotations

import re
from typing import Any

from adapters.discord.catchup import SUMMARIZE_THREAD, TRANSLATE
from bot.catchup import COMBINE_RULES
from bot.store.base import UsageQuery
from tests.discord.conftest import World, serving
from tests.peers.discord_peer import EPHEMERAL
from tests.peers.openai_peer import OpenAIPeer

_LINK = re.compile(r"\[(\d+)\]\((https://discord\.com/channels/(\d+)/(\d+)/(\d+))\)")


def summarizing(request: dict[str, Any]) -> str:
    """A part's summary cites its first and last message; the combination keeps every
    citation it is given; a translation is French."""
    system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
    if system.startswith("Translate"):
        return "Bonjour à tous"
    if system == COMBINE_RULES:
        return "The team agreed on a release date " + " ".join(re.findall(r"\[\d+\]", user))
    numbers = re.findall(r"^\[(\d+)\]", user, re.MULTILINE)
    return f"Talked about topics [{numbers[0]}] to [{numbers[-1]}]."


def settings_with_model(settings_for: Any, openai_peer: OpenAIPeer, **overrides: Any) -> Any:
    return settings_for(
        openai_base_url=openai_peer.base_url,
        model="peer-model",
        max_retries=0,
        context_window=4096,
        **overrides,
    )


def _token_id(token: str) -> str:
    return token.rsplit("-", 1)[1]


async def _answer(world: World, token: str, ending: str) -> str:
    """The interaction's final text (its original response, edited until it ends so)."""
    responses = world.peer.interaction_responses
    try:
        await world.peer.wait_for(
            lambda: responses.get(token, {}).get("content", "").endswith(ending)
        )
    except TimeoutError:
        raise AssertionError(f"answer: {responses.get(token)}") from None
    return responses[token]["content"]


def _deferred_privately(world: World, token: str) -> bool:
    (callback,) = world.peer.calls("POST", f"/interactions/{_token_id(token)}/{token}/callback")
    return callback.body["type"] == 5 and callback.body["data"]["flags"] & EPHEMERAL


async def test_a_500_message_channel_is_summarized_by_map_reduce_read_once_with_real_links(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    sent = [
        peer.add_history(world.general, (world.alice, world.admin)[i % 2], f"message {i} on topic")
        for i in range(500)
    ]
    openai_peer.answer = summarizing
    settings = settings_with_model(settings_for, openai_peer)
    async with serving(peer, settings, None) as running:  # type: ignore[arg-type]
        token = await peer.invoke_command(world.general, world.alice, "summarize")
        answer = await _answer(world, token, "[500](" + _link_of(peer, sent[-1]) + ")")
        await running.runtime.dialogue.shutdown(5)  # the summary's usage is recorded last
        usage = await running.runtime.store.usage_report(UsageQuery(0, "user"))

    systems = [request["messages"][0]["content"] for request in openai_peer.requests]
    parts = [system for system in systems if "This is part" in system]
    assert len(parts) >= 3 and systems == [*parts, COMBINE_RULES], "parts, then one combination"
    assert all(f"part {n} of {len(parts)}" in parts[n - 1] for n in range(1, len(parts) + 1))
    assert set(peer.history_reads) == {int(m["id"]) for m in sent}
    assert max(peer.history_reads.values()) == 1, "each message read once"
    assert _deferred_privately(world, token)
    cited = {int(n): (int(c), int(m)) for n, _, _, c, m in _LINK.findall(answer)}
    assert {1, 500} <= set(cited)
    for number, (channel, message) in cited.items():  # each link names the message it cites
        assert peer.messages[channel][message]["content"] == f"message {number - 1} on topic"
    assert _LINK.search(answer)[3] == str(peer.guild_id)  # type: ignore[index]
    (row,) = usage
    assert row.turns == 1 and row.input_tokens > 0 and row.output_tokens > 0


def _link_of(peer: Any, message: dict[str, Any]) -> str:
    return f"https://discord.com/channels/{peer.guild_id}/{message['channel_id']}/{message['id']}"


async def test_a_short_channel_is_summarized_in_one_pass(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    for i in range(5):
        peer.add_history(world.general, world.alice, f"message {i} on topic")
    openai_peer.answer = summarizing
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        token = await peer.invoke_command(world.general, world.alice, "summarize", {"since": "2h"})
        answer = await _answer(world, token, ").")
    (request,) = openai_peer.requests
    assert "This is part" not in request["messages"][0]["content"]
    assert [n for n, *_ in _LINK.findall(answer)] == ["1", "5"]


async def test_a_bad_since_is_one_short_line_and_asks_no_model(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    peer.add_history(world.general, world.alice, "hello")
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        token = await peer.invoke_command(
            world.general, world.alice, "summarize", {"since": "soonish"}
        )
        answer = await _answer(world, token, "24h.")
    assert answer.startswith("`soonish` is not a time") and "\n" not in answer
    assert not openai_peer.requests
    assert not peer.history_reads


async def test_summarize_thread_reads_the_thread_and_its_starter_message(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    starter = peer.add_history(world.general, world.alice, "shall we move the launch?")
    openai_peer.answer = summarizing
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        thread = await peer.add_thread(
            world.general, "launch", world.alice, starter=int(starter["id"])
        )
        reply = peer.add_history(thread, world.admin, "yes, to Friday")
        token = await peer.invoke_message_command(
            world.general, world.alice, SUMMARIZE_THREAD, int(starter["id"])
        )
        answer = await _answer(world, token, ").")
    (request,) = openai_peer.requests
    lines = request["messages"][-1]["content"].splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "shall we move the launch?",
        "yes, to Friday",
    ]
    assert _link_of(peer, starter) in answer and _link_of(peer, reply) in answer


async def test_translate_is_private_and_in_the_askers_language(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    message = peer.add_history(world.general, world.admin, "Hello everyone")
    openai_peer.answer = summarizing
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        token = await peer.invoke_message_command(
            world.general, world.alice, TRANSLATE, int(message["id"]), locale="fr"
        )
        assert await _answer(world, token, "à tous") == "Bonjour à tous"
        typed = await peer.invoke_command(
            world.general, world.alice, "translate", {"text": "good night", "to": "German"}
        )
        await _answer(world, typed, "à tous")
    by_menu, by_command = openai_peer.requests
    assert "the language of the locale fr" in by_menu["messages"][0]["content"]
    assert by_menu["messages"][-1]["content"].endswith("Hello everyone")
    assert "into German" in by_command["messages"][0]["content"]
    assert by_command["messages"][-1]["content"].endswith("good night")
    assert _deferred_privately(world, token) and _deferred_privately(world, typed)
    assert not peer.bot_messages(world.general), "nothing posted in the channel"


async def test_summarize_thread_on_a_message_without_a_thread_is_one_line(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    lonely = peer.add_history(world.general, world.alice, "nobody replied to me")
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        token = await peer.invoke_message_command(
            world.general, world.alice, SUMMARIZE_THREAD, int(lonely["id"])
        )
        await peer.wait_for(lambda: token in peer.interaction_responses)
    (callback,) = peer.calls("POST", f"/interactions/{_token_id(token)}/{token}/callback")
    assert callback.body["type"] == 4 and callback.body["data"]["flags"] & EPHEMERAL
    assert callback.body["data"]["content"].startswith("That message is in no thread")
    assert not openai_peer.requests and not peer.history_reads


async def test_someone_who_cannot_read_the_history_gets_no_summary(
    world: World, settings_for: Any, openai_peer: OpenAIPeer
) -> None:
    peer = world.peer
    peer.add_history(world.general, world.admin, "the secret plan")
    view_only = 1 << 10  # View Channel without Read Message History
    async with serving(peer, settings_with_model(settings_for, openai_peer), None):  # type: ignore[arg-type]
        token = await peer.invoke_command(
            world.general, world.alice, "summarize", permissions=view_only
        )
        await peer.wait_for(lambda: token in peer.interaction_responses)
    (callback,) = peer.calls("POST", f"/interactions/{_token_id(token)}/{token}/callback")
    assert callback.body["data"]["flags"] & EPHEMERAL
    assert callback.body["data"]["content"] == (
        "You can't read this channel's history, so I won't summarize it for you."
    )
    assert not openai_peer.requests and not peer.history_reads
