"""Cost per turn, the `usage` command, `parley usage` and money budgets, against the OpenAI peer."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, SecretUrl
from bot.prices import ModelPrice, dollars
from bot.store.base import UsageQuery
from bot.types import DIRECT_MESSAGES, ConversationKey, Kind
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.metrics import sample
from tests.support.postgres import postgres_schema
from tests.support.sinks import RecordingSink
from tests.support.usage import parley_usage

CENT_A_TOKEN = {"peer-model": ModelPrice(input=10_000, output=20_000, cached_input=5_000)}
"""USD per million tokens: a cent per prompt token, so every turn costs whole cents and more."""


async def ask(runtime, text: str, **kwargs) -> RecordingSink:
    sink = RecordingSink()
    await runtime.dialogue.handle(message(text, **kwargs), sink)
    return sink


async def usage_command(runtime, *, is_admin: bool, user: str = "u1") -> str:
    sink = RecordingSink()
    incoming = replace(
        message("", user=user, is_admin=is_admin), kind=Kind.COMMAND, command="usage"
    )
    await runtime.dialogue.handle(incoming, sink)
    assert sink.final is not None
    return sink.final


async def test_a_day_of_turns_agrees_in_the_store_the_command_and_the_cli(
    peer_settings, openai_peer, tmp_path
):
    openai_peer.cached_tokens = 3
    settings = peer_settings.model_copy(update={"prices": CENT_A_TOKEN})
    async with open_runtime(settings) as runtime:
        for index in range(3):
            assert (await ask(runtime, f"question {index}", user="u1")).final
        assert (await ask(runtime, "a longer question from someone else", user="u2")).final
        by_user = await runtime.store.usage_report(UsageQuery(0, "user"))
        mine = await usage_command(runtime, is_admin=False)
        place = await usage_command(runtime, is_admin=True)
    spent = {row.label: row for row in by_user}
    assert set(spent) == {"test:u1", "test:u2"} and spent["test:u1"].turns == 3
    assert all(row.cached_tokens == 3 * row.turns for row in by_user)
    for row in by_user:  # priced by the config's table, cached prompt tokens at their price
        fresh = row.input_tokens - row.cached_tokens
        cost = 10_000 * fresh + 5_000 * row.cached_tokens + 20_000 * row.output_tokens
        assert row.cost_micros == cost > 0

    u1, total = spent["test:u1"], sum(row.cost_micros for row in by_user)
    assert f"You: today 3 turns, {u1.input_tokens} tokens in" in mine
    assert dollars(u1.cost_micros) in mine and "This place" not in mine
    assert place.startswith("This place: today 4 turns, ") and dollars(total) in place

    rows = list(csv.DictReader(io.StringIO(parley_usage(tmp_path, "--by", "user", "--csv"))))
    assert {row["user"]: float(row["cost_usd"]) * 1_000_000 for row in rows} == {
        label: float(row.cost_micros) for label, row in spent.items()
    }
    table = parley_usage(tmp_path, "--since", "1d", "--by", "model")
    assert "peer-model" in table and dollars(total) in table
    assert "$0.00" in parley_usage(tmp_path, "--since", "2099-01-01")  # nothing since then


def test_the_cli_refuses_a_bad_since_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "usage", "--since", "last tuesday"],
        capture_output=True,
        text=True,
        env={**os.environ, "PARLEY_DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--since 'last tuesday'" in result.stderr


async def test_a_money_budget_refuses_at_the_limit_on_every_replica(peer_settings, openai_peer):
    async with postgres_schema() as dsn:
        settings = peer_settings.model_copy(
            update={
                "database_url": SecretUrl(dsn),
                "prices": CENT_A_TOKEN,
                "user_daily_usd": 0.05,
                "database_pool_size": 2,
            }
        )
        async with open_runtime(settings) as replica_a, open_runtime(settings) as replica_b:
            spent = await ask(replica_a, "one question costs more than five cents", user="u1")
            refused = await ask(replica_b, "two", user="u1", conversation="b")
            untold = await ask(replica_a, "three", user="u1", conversation="c")
            other = await ask(replica_b, "hello", user="u2")
    assert spent.final and other.final
    assert re.fullmatch(
        r"You've reached your spending limit for the model today\. It resets in "
        r"\d+ (h \d+ min|min|s)\.",
        refused.failure,
    )
    assert untold.shown is None  # told once between the replicas
    assert len(openai_peer.requests) == 2


async def test_a_direct_message_counts_toward_its_home_space(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"prices": CENT_A_TOKEN, "space_monthly_usd": 0.05})
    async with open_runtime(settings) as runtime:
        dm = replace(
            message("a question asked in private, costing cents"),
            key=ConversationKey("test", DIRECT_MESSAGES, "d1"),
            home="space",
        )
        sink = RecordingSink()
        await runtime.dialogue.handle(dm, sink)
        refused = await ask(runtime, "and now in the channel", user="u2")
        by_space = await runtime.store.usage_report(UsageQuery(0, "space"))
    assert sink.final
    assert [row.label for row in by_space] == ["test:space"]
    assert refused.failure.startswith(
        "This team has reached its spending limit for the model this month. It resets in "
    )


async def test_metrics_count_tokens_cost_and_latency_by_model_and_platform(
    peer_settings, openai_peer
):
    openai_peer.cached_tokens = 2
    settings = peer_settings.model_copy(update={"prices": CENT_A_TOKEN})
    async with open_runtime(settings) as runtime:
        await ask(runtime, "what does this cost?")
        (row,) = await runtime.store.usage_report(UsageQuery(0, "model"))
        page = runtime.dialogue.metrics.render().decode()
    labels = {"platform": "test", "model": "peer-model"}
    tokens = "parley_model_tokens_total"
    assert sample(page, tokens, **labels, direction="in") == row.input_tokens
    assert sample(page, tokens, **labels, direction="cached") == row.cached_tokens == 2
    assert sample(page, tokens, **labels, direction="out") == row.output_tokens
    cost = sample(page, "parley_cost_usd_total", **labels)
    assert round(cost, 6) == row.cost_micros / 1_000_000 > 0
    assert sample(page, "parley_model_turn_seconds_count", **labels) == 1
    (build,) = [f for f in text_string_to_metric_families(page) if f.name == "parley_build_info"]
    assert build.samples[0].value == 1 and build.samples[0].labels["version"]


async def test_near_a_money_budget_the_cheaper_model_answers(peer_settings, openai_peer):
    settings = peer_settings.model_copy(
        update={
            "prices": CENT_A_TOKEN,
            "models_allowed": ["cheap-model"],
            "budget_fallback_model": "cheap-model",
            "budget_fallback_at": 0.01,
            "user_daily_usd": 10.0,  # the first turn spends more than 1% of it
        }
    )
    async with open_runtime(settings) as runtime:
        first = await ask(runtime, "an expensive first question")
        second = await ask(runtime, "and a second one")
        by_model = await runtime.store.usage_report(UsageQuery(0, "model"))
    assert first.final and second.final
    assert [request["model"] for request in openai_peer.requests] == ["peer-model", "cheap-model"]
    assert {row.label: row.turns for row in by_model} == {"peer-model": 1, "cheap-model": 1}


async def test_a_fallback_model_that_is_not_allowed_is_one_line(peer_settings):
    settings = peer_settings.model_copy(update={"budget_fallback_model": "elsewhere"})
    with pytest.raises(ConfigError, match="PARLEY_BUDGET_FALLBACK_MODEL=elsewhere is not in"):
        async with open_runtime(settings):
            pass
