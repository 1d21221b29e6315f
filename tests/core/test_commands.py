"""Every command, through the DialogueManager, the SQLite store and the openai client."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.commands import SPECS, Who
from bot.replies import STOPPED_MARK
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.sinks import RecordingSink


async def ask(runtime, text: str, **kwargs) -> RecordingSink:
    sink = RecordingSink()
    await runtime.dialogue.handle(message(text, **kwargs), sink)
    return sink


async def test_help_lists_every_command(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        sink = await ask(runtime, "/help")
    for name in ("help", "reset", "stop", "system", "model", "forget", "stats"):
        assert f"`{name}" in sink.final
    assert openai_peer.requests == []


async def test_what_only_admins_change_is_refused_to_others_and_shown_to_all(
    peer_settings, openai_peer
):
    guarded = [spec for spec in SPECS.values() if spec.who is Who.ADMINS_CHANGE]
    assert guarded
    async with open_runtime(peer_settings) as runtime:
        for spec in guarded:
            argument = spec.argument.choices[0] if spec.argument.choices else "something"
            refused = await ask(runtime, f"/{spec.name} {argument}")
            shown = await ask(runtime, f"/{spec.name}")
            assert refused.failure.startswith("Only admins can"), spec.name
            assert shown.failure is None and shown.final, spec.name
    assert openai_peer.requests == []


async def test_reset_gives_a_fresh_context_but_keeps_the_history(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        await ask(runtime, "before")
        reset = await ask(runtime, "/reset")
        await ask(runtime, "after")
        stats = await runtime.store.stats(message("").key)
    assert "Fresh start" in reset.final
    assert [m["role"] for m in openai_peer.requests[-1]["messages"]] == ["system", "user"]
    assert stats.messages == 4


async def test_system_prompt_is_shown_set_by_admins_and_restored(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        shown = await ask(runtime, "/system")
        refused = await ask(runtime, "/system Be terse.")
        accepted = await ask(runtime, "/system Be terse.", is_admin=True)
        await ask(runtime, "hi")
        sent_system = openai_peer.requests[-1]["messages"][0]["content"]
        restored = await ask(runtime, "/system default", is_admin=True)
        now = await ask(runtime, "/system")
    assert peer_settings.system_prompt in shown.final and "default" in shown.final
    assert refused.failure == "Only admins can change the system prompt."
    assert accepted.final == "System prompt set for this conversation."
    assert sent_system == "Be terse."
    assert "restored" in restored.final and peer_settings.system_prompt in now.final


async def test_model_is_chosen_from_the_allowlist(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"models_allowed": ["big-model"]})
    async with open_runtime(settings) as runtime:
        listing = await ask(runtime, "/model")
        unknown = await ask(runtime, "/model gpt-99", is_admin=True)
        refused = await ask(runtime, "/model big-model")
        chosen = await ask(runtime, "/model big-model", is_admin=True)
        await ask(runtime, "hi")
    assert "`peer-model`" in listing.final and "`big-model`" in listing.final
    assert "not available" in unknown.failure
    assert refused.failure == "Only admins can change the model."
    assert "big-model" in chosen.final
    assert openai_peer.requests[-1]["model"] == "big-model"


async def test_stop_cancels_the_answer_and_keeps_what_was_shown(peer_settings, openai_peer):
    openai_peer.answer = lambda request: "word " * 200
    openai_peer.chunk_delay = 0.02
    async with open_runtime(peer_settings) as runtime:
        answer = RecordingSink()
        turn = runtime.dialogue.submit(message("talk a lot"), answer)
        await answer.updated.wait()
        stop = await ask(runtime, "/stop")
        await turn
        nothing = await ask(runtime, "/stop")
        stored = await runtime.store.load(message("").key, 100_000)
    assert stop.final == "Stopped."
    assert answer.final.endswith(STOPPED_MARK)
    assert len(answer.final) < len("word " * 200)
    assert nothing.final.startswith("Nothing to stop")
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content and ("word " * 200).startswith(stored[1].content)
    assert answer.final == f"{stored[1].content}\n\n{STOPPED_MARK}"


async def test_forget_deletes_the_callers_turns_only(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        await ask(runtime, "mine", user="u1")
        await ask(runtime, "theirs", user="u2", name="Bo")
        forgot = await ask(runtime, "/forget", user="u1")
        remaining = await runtime.store.load(message("").key, 100_000)
    assert forgot.final.startswith("Deleted 2 ")
    assert [m.content for m in remaining] == ["theirs", "echo: Bo: theirs"]


async def test_stats_counts_turns_and_tokens(peer_settings, openai_peer):
    async with open_runtime(peer_settings) as runtime:
        await ask(runtime, "one")
        await ask(runtime, "two")
        stats = await ask(runtime, "/stats")
    assert stats.final.startswith("This conversation: 2 turns, 4 stored messages")


async def test_slash_command_events_run_commands(peer_settings, openai_peer):
    from dataclasses import replace

    from bot.types import Kind

    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        incoming = replace(message(""), kind=Kind.COMMAND, command="stats")
        await runtime.dialogue.handle(incoming, sink)
        ask_sink = RecordingSink()
        await runtime.dialogue.handle(replace(message("hi"), kind=Kind.COMMAND), ask_sink)
    assert sink.final.startswith("This conversation: 0 turns")
    assert ask_sink.final == "echo: Ann: hi"


async def test_stop_in_a_channel_stops_answers_in_its_threads(peer_settings, openai_peer):
    from dataclasses import replace

    from bot.types import ConversationKey

    openai_peer.answer = lambda request: "word " * 200
    openai_peer.chunk_delay = 0.02
    async with open_runtime(peer_settings) as runtime:
        answer = RecordingSink()
        in_thread = replace(message("talk"), key=ConversationKey("test", "space", "c1", "t1"))
        turn = runtime.dialogue.submit(in_thread, answer)
        await answer.updated.wait()
        stop = await ask(runtime, "/stop")  # the channel "c1" itself, no thread
        await turn
    assert stop.final == "Stopped."
    assert answer.final.endswith(STOPPED_MARK)


async def test_anyone_may_set_the_system_prompt_of_their_own_dm(peer_settings, openai_peer):
    from dataclasses import replace

    from bot.types import ConversationKey

    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        dm = replace(
            message("/system Talk like a sailor."), key=ConversationKey("test", "dm", "d1")
        )
        await runtime.dialogue.handle(dm, sink)
        model = RecordingSink()
        await runtime.dialogue.handle(replace(dm, text="/model other", event_id="m1"), model)
    assert sink.final == "System prompt set for this conversation."
    assert model.failure == "Only admins can change the model."


async def test_stop_stops_the_askers_answer_and_an_admins_stops_all(peer_settings, openai_peer):
    openai_peer.answer = lambda request: "word " * 200
    openai_peer.chunk_delay = 0.02
    async with open_runtime(peer_settings) as runtime:
        answers = {user: RecordingSink() for user in ("u1", "u2", "u3")}
        turns = [
            runtime.dialogue.submit(message("talk", user=user), sink)
            for user, sink in answers.items()
        ]
        for sink in answers.values():
            await sink.updated.wait()
        own = await ask(runtime, "/stop", user="u1")
        await turns[0]
        assert not turns[1].done() and not turns[2].done()
        everyone = await ask(runtime, "/stop", user="admin", is_admin=True)
        await turns[1]
        await turns[2]
    assert own.final == everyone.final == "Stopped."
    assert all(sink.final.endswith(STOPPED_MARK) for sink in answers.values())


async def test_a_command_sent_right_after_a_first_turn_waits_for_that_turn(
    peer_settings, openai_peer
):
    async def nothing_missed(first: bool) -> tuple:
        return ()

    async with open_runtime(peer_settings) as runtime:
        # The first turn here asks the store whether Parley was here before; the reset sent
        # right after it must still run after it, as it arrived.
        first = replace(message("hello"), missed=nothing_missed)
        await asyncio.gather(
            runtime.dialogue.submit(first, RecordingSink()),
            runtime.dialogue.submit(message("/reset"), RecordingSink()),
        )
        await ask(runtime, "after")
    assert [m["role"] for m in openai_peer.requests[-1]["messages"]] == ["system", "user"]
