"""PostgreSQL round trips per turn, counted on the wire by a proxy in front of the server.

Turns run through the real runtime (DialogueManager, PostgreSQL store) with an instant model,
one after another, so no turn shares a round trip with another: the figure is the worst case.
"""

from __future__ import annotations

from pathlib import Path

from bench.core import InstantBackend, NullSink, incoming
from bot.config import Settings
from bot.wiring import open_runtime
from tests.support.pg_proxy import counted
from tests.support.postgres import postgres_schema

ROUND_TRIPS_PER_TURN = 3
"""Claim with the window (taking the conversation's lock), record the turn in flight, append
(releasing the lock)."""
TURNS = 20


async def _round_trips_per_turn(tmp_path: Path, **limits: int | None) -> float:
    async with postgres_schema() as direct, counted(direct) as (counter, dsn):
        settings = Settings(
            data_dir=tmp_path, database_url=dsn, openai_base_url="http://unused", **limits
        )
        async with open_runtime(settings, backend=InstantBackend()) as runtime:
            names = ["a", "b"]
            for name in names:  # each conversation's first turn: its row and window exist
                await runtime.dialogue.handle(incoming(name), NullSink())
            before = counter.round_trips
            for _ in range(TURNS // len(names)):
                for name in names:
                    await runtime.dialogue.handle(incoming(name), NullSink())
            spent = counter.round_trips - before
            stored = [(await runtime.store.stats(incoming(name).key)).turns for name in names]
        assert stored == [TURNS // len(names) + 1] * len(names)  # every turn was really stored
        return spent / TURNS


async def test_a_turn_takes_at_most_three_round_trips(tmp_path: Path) -> None:
    per_turn = await _round_trips_per_turn(
        tmp_path, user_turns_per_minute=None, conversation_turns_per_minute=None
    )
    print(f"PostgreSQL round trips per turn: {per_turn:.2f}")
    assert per_turn <= ROUND_TRIPS_PER_TURN
