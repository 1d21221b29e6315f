"""Rate limits and daily budgets: a friendly line with when to retry, shared through the store."""

from __future__ import annotations

import re

from bot.config import SecretUrl
from bot.limits import LimitPolicy, Limits
from bot.wiring import open_runtime
from tests.support.clock import inside_one_minute
from tests.support.events import message
from tests.support.postgres import postgres_schema
from tests.support.sinks import RecordingSink


async def ask(runtime, text: str, **kwargs) -> RecordingSink:
    sink = RecordingSink()
    await runtime.dialogue.handle(message(text, **kwargs), sink)
    return sink


async def test_a_user_over_the_rate_limit_is_told_when_to_retry(peer_settings, openai_peer):
    await inside_one_minute(5)
    settings = peer_settings.model_copy(update={"user_turns_per_minute": 2})
    async with open_runtime(settings) as runtime:
        first = await ask(runtime, "one", conversation="a")
        second = await ask(runtime, "two", conversation="b")
        third = await ask(runtime, "three", conversation="c")
        someone_else = await ask(runtime, "hi", conversation="c", user="u2")
        stored = (await runtime.store.stats(message("", conversation="c").key)).messages
        page = runtime.dialogue.metrics.render().decode()
    assert first.final and second.final and someone_else.final
    assert re.fullmatch(
        r"You're sending messages faster than I can take them\. Try again in \d+ s\.",
        third.failure,
    )
    assert len(openai_peer.requests) == 3
    assert stored == 2  # only the other user's turn
    assert 'parley_rate_limited_turns_total{limit="user"} 1.0' in page


async def test_a_busy_conversation_is_limited_for_everyone_in_it(peer_settings, openai_peer):
    await inside_one_minute(5)
    settings = peer_settings.model_copy(update={"conversation_turns_per_minute": 1})
    async with open_runtime(settings) as runtime:
        await ask(runtime, "one", user="u1")
        limited = await ask(runtime, "two", user="u2")
        elsewhere = await ask(runtime, "three", user="u2", conversation="other")
    assert limited.failure.startswith("This conversation is very busy right now.")
    assert elsewhere.final


async def test_the_daily_token_budget_counts_what_was_spent(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"user_daily_tokens": 10})
    async with open_runtime(settings) as runtime:
        spent = await ask(runtime, "a question long enough to spend the whole budget at once")
        refused = await ask(runtime, "more?")
    assert spent.final
    assert re.fullmatch(
        r"You've used your share of the model for today\. Try again in \d+ (h \d+ min|min|s)\.",
        refused.failure,
    )


async def test_limits_are_shared_by_replicas_on_one_database(peer_settings, openai_peer):
    await inside_one_minute(5)
    async with postgres_schema() as dsn:
        settings = peer_settings.model_copy(
            update={"database_url": SecretUrl(dsn), "user_turns_per_minute": 2}
        )
        async with open_runtime(settings) as replica_a, open_runtime(settings) as replica_b:
            await ask(replica_a, "one", conversation="a")
            await ask(replica_b, "two", conversation="b")
            refused = await ask(replica_a, "three", conversation="c")
            untold = await ask(replica_b, "four", conversation="d")
    assert refused.failure and refused.failure.startswith("You're sending messages faster")
    assert untold.shown is None  # told once between the replicas
    assert len(openai_peer.requests) == 2


async def test_only_the_first_refusal_of_a_window_is_told(peer_settings, openai_peer):
    now = [120.0]
    async with open_runtime(peer_settings) as runtime:
        limits = Limits(LimitPolicy(user_turns_per_minute=1), runtime.store, lambda: now[0])
        ann, bob = message("hi"), message("hi", user="u2")
        assert await limits.admit(ann) is None
        told, quiet, again = [await limits.admit(ann) for _ in range(3)]
        assert await limits.admit(bob) is None  # another user has their own count
        bob_told = await limits.admit(bob)
        now[0] += 60  # the next minute: a new window
        assert await limits.admit(ann) is None
        next_window = await limits.admit(ann)
    assert told and told.first and told.limit == "user"
    assert quiet and not quiet.first and again and not again.first
    assert quiet.message == told.message
    assert bob_told and bob_told.first
    assert next_window and next_window.first
