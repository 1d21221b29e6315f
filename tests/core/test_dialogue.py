"""A turn end to end: the DialogueManager, the SQLite store and the real openai client over HTTP."""

from __future__ import annotations

import asyncio

from adapters.discord.settings import DiscordSettings
from bot.dialogue import BUSY
from bot.types import ChatMessage, Role
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.settings import changed, make_settings
from tests.support.sinks import RecordingSink


async def ask(runtime, text: str, **kwargs) -> RecordingSink:
    sink = RecordingSink()
    await runtime.dialogue.handle(message(text, **kwargs), sink)
    return sink


def roles_and_contents(request: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"]]


async def test_multi_turn_context_reaches_the_model_in_order(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        first = await ask(runtime, "hello")
        second = await ask(runtime, "and again", user="u2", name="Bo")
    assert first.final == "echo: Ann: hello"
    assert second.final == "echo: Bo: and again"
    assert roles_and_contents(openai_peer.requests[-1]) == [
        ("system", peer_settings.system_prompt),
        ("user", "Ann: hello"),
        ("assistant", "echo: Ann: hello"),
        ("user", "Bo: and again"),
    ]
    assert openai_peer.requests[-1]["model"] == "peer-model"


async def test_author_names_go_in_the_name_field_when_asked(peer_settings, openai_peer):
    settings = changed(peer_settings, name_style="field")
    async with open_runtime(settings) as runtime:
        await ask(runtime, "hi", name="Ann B.")
    user_message = openai_peer.requests[-1]["messages"][-1]
    assert user_message == {"role": "user", "content": "hi", "name": "Ann_B_"}


async def test_memory_survives_a_restart(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        await ask(runtime, "remember the word kiwi")
    async with open_runtime(peer_settings) as runtime:
        await ask(runtime, "what was the word?")
    contents = [content for _, content in roles_and_contents(openai_peer.requests[-1])]
    assert "Ann: remember the word kiwi" in contents


async def test_concurrent_messages_are_answered_in_order_per_conversation(
    peer_settings, openai_peer
):
    openai_peer.chunk_delay = 0.001
    sinks: dict[str, list[RecordingSink]] = {f"c{n}": [] for n in range(10)}
    async with open_runtime(peer_settings) as runtime:
        tasks = []
        for turn in range(10):
            for conversation, conversation_sinks in sinks.items():
                sink = RecordingSink()
                conversation_sinks.append(sink)
                incoming = message(
                    f"{conversation} turn {turn}", conversation=conversation, user=conversation
                )
                tasks.append(runtime.dialogue.submit(incoming, sink))
        await asyncio.gather(*tasks)
        for conversation, conversation_sinks in sinks.items():
            answers = [sink.final for sink in conversation_sinks]
            assert answers == [f"echo: Ann: {conversation} turn {turn}" for turn in range(10)]
            key = message("", conversation=conversation).key
            stored = await runtime.store.load(key, 1_000_000)
            assert [m.content for m in stored[::2]] == [
                f"{conversation} turn {turn}" for turn in range(10)
            ]
    assert len(openai_peer.requests) == 100
    last_by_conversation = {}
    for request in openai_peer.requests:
        last_by_conversation[request["messages"][-1]["content"].split()[1]] = request
    for request in last_by_conversation.values():
        assert len(request["messages"]) == 1 + 2 * 9 + 1  # system, nine earlier turns, this one


async def test_oldest_turns_leave_first_when_the_window_is_full(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"context_window": 400, "max_tokens": 100})
    async with open_runtime(settings) as runtime:
        for turn in range(12):
            await ask(runtime, f"turn {turn} " + "words " * 20)
    sent = openai_peer.requests[-1]["messages"]
    assert sent[0]["role"] == "system"
    assert sent[-1]["content"].startswith("Ann: turn 11 ")
    assert len(sent) < 1 + 2 * 11 + 1
    assert sent[1]["role"] == "user"
    turns = [int(m["content"].split()[2]) for m in sent[1:] if m["role"] == "user"]
    assert turns == sorted(turns) and turns[-1] == 11 and turns[0] > 0


async def test_a_model_with_another_window_gets_the_history_that_fits_it(
    peer_settings, openai_peer
):
    """The store holds the window read for the default model (8,192 tokens); a conversation
    moved to a model with a far larger window gets all of its history, then less again."""
    settings = peer_settings.model_copy(update={"max_tokens": 100})
    async with open_runtime(settings) as runtime:
        key = message("").key
        for turn in range(40):
            await runtime.store.append(
                key,
                [
                    ChatMessage(Role.USER, f"old {turn}", author_id="u1", tokens=300),
                    ChatMessage(Role.ASSISTANT, f"answer {turn}", author_id="u1", tokens=300),
                ],
            )
        await ask(runtime, "first")
        await runtime.store.set_settings(key, model="gpt-4o")  # a 128,000-token window
        await ask(runtime, "second")
        await runtime.store.set_settings(key, model=None)
        await ask(runtime, "third")
    small, large, small_again = (request["messages"] for request in openai_peer.requests)
    assert large[1]["content"] == "old 0" and len(large) == 1 + 80 + 2 + 1
    for trimmed in (small, small_again):  # at most 26 messages of 300 tokens fit in 8,092
        stored = [m for m in trimmed if m["content"].startswith(("old ", "answer "))]
        assert 20 < len(stored) <= 26 and trimmed[1]["content"].startswith("old ")
    assert [m["content"] for m in small_again[-3:]] == [
        "Ann: second",
        "echo: Ann: second",
        "Ann: third",
    ]


async def test_a_message_larger_than_the_budget_is_cut_with_a_marker(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"context_window": 400, "max_tokens": 100})
    async with open_runtime(settings) as runtime:
        sink = await ask(runtime, "x" * 5000)
    sent = openai_peer.requests[-1]["messages"][-1]["content"]
    assert "too long for the model's context" in sent
    assert len(sent) < 1000
    assert sink.final is not None


async def test_a_redelivered_event_is_answered_once(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        first = await ask(runtime, "hi", event_id="evt-1")
        again = await ask(runtime, "hi", event_id="evt-1")
    assert first.final == "echo: Ann: hi"
    assert again.shown is None and again.started == 0
    assert len(openai_peer.requests) == 1


async def test_bots_are_never_answered(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        sink = await ask(runtime, "hi", is_bot=True)
    assert sink.shown is None and openai_peer.requests == []


async def test_events_outside_the_allowlist_are_dropped(peer_settings, openai_peer):
    settings = peer_settings.with_plugins(DiscordSettings(channels=["allowed"]))
    async with open_runtime(settings) as runtime:
        outside = await ask(runtime, "hi", platform="discord", conversation="elsewhere")
        inside = await ask(runtime, "hi", platform="discord", conversation="allowed")
    assert outside.shown is None
    assert inside.final == "echo: Ann: hi"
    assert len(openai_peer.requests) == 1


async def test_an_empty_message_gets_a_short_line(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        sink = await ask(runtime, "   ")
    assert sink.failure and "empty" in sink.failure
    assert openai_peer.requests == []


async def test_model_server_with_no_configured_model_answers_with_its_first(tmp_path, openai_peer):
    settings = make_settings(data_dir=tmp_path, openai_base_url=openai_peer.base_url, max_retries=0)
    async with open_runtime(settings) as runtime:
        await ask(runtime, "hi")
        assert runtime.model == "peer-model"
    assert openai_peer.requests[-1]["model"] == "peer-model"


async def test_reasoning_models_get_no_temperature(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"model": "o3-mini"})
    async with open_runtime(settings) as runtime:
        await ask(runtime, "think")
    request = openai_peer.requests[-1]
    assert request["model"] == "o3-mini" and "temperature" not in request
    assert request["max_tokens"] == settings.max_tokens


async def test_past_the_queue_bound_askers_are_told_to_try_again(peer_settings, openai_peer):
    openai_peer.chunk_delay = 0.05
    settings = peer_settings.model_copy(update={"max_queued_turns": 2})
    sinks = [RecordingSink() for _ in range(4)]
    async with open_runtime(settings) as runtime:
        tasks = [
            runtime.dialogue.submit(message(f"q{n}", conversation=f"c{n}"), sink)
            for n, sink in enumerate(sinks)
        ]
        await asyncio.gather(*tasks)
    assert [sink.final is not None for sink in sinks] == [True, True, False, False]
    assert [sink.failure for sink in sinks[2:]] == [BUSY, BUSY]


async def test_different_people_in_one_conversation_are_answered_at_once(
    peer_settings, openai_peer
):
    openai_peer.answer = lambda request: "word " * 40
    openai_peer.chunk_delay = 0.01  # about half a second per answer
    people = [f"u{n}" for n in range(5)]
    async with open_runtime(peer_settings) as runtime:
        first = {user: RecordingSink() for user in people}
        firsts = [runtime.dialogue.submit(message("one", user=u), s) for u, s in first.items()]
        seconds = [runtime.dialogue.submit(message("two", user=u), RecordingSink()) for u in people]
        # Every first answer is showing before any of them is finished.
        async with asyncio.timeout(10):
            for sink in first.values():
                await sink.updated.wait()
        assert not any(sink.done.is_set() for sink in first.values())
        await asyncio.gather(*firsts, *seconds)
        stored = await runtime.store.load(message("").key, 1_000_000)
    # Each person's second turn waited for their first; every turn is stored whole.
    assert len(openai_peer.requests) == 2 * len(people)
    assert len(stored) == 4 * len(people)
    assert [m.role for m in stored] == ["user", "assistant"] * 2 * len(people)
    for user in people:
        mine = [m.content for m in stored if m.author_id == user and m.role == "user"]
        assert mine == ["one", "two"]
