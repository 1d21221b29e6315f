"""PostgreSQL round trips per turn, counted on the wire by a proxy in front of the server.

Turns run through the real runtime (DialogueManager, PostgreSQL store) with an instant model:
one after another, where no turn shares a round trip with another (the worst case), and many
side by side, where turns in flight share batches.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.core import InstantBackend, NullSink, incoming
from bot.wiring import open_runtime
from tests.support.pg_proxy import counted
from tests.support.postgres import postgres_schema
from tests.support.settings import make_settings

ROUND_TRIPS_PER_TURN = 3
"""Claim with the window and the rate limits' counters (taking the conversation's lock), record
the turn in flight, append (releasing the lock)."""
BATCHED_ROUND_TRIPS_PER_TURN = 1
"""With 40 conversations' turns in flight on a process's 4 lock connections, each statement goes
in a batch with others: far below one round trip per turn in practice."""
TURNS = 10


async def _round_trips_per_turn(
    tmp_path: Path, conversations: int, together: bool, **limits: int | None
) -> float:
    """Round trips per warm turn, over TURNS turns in each conversation; `together`: the
    conversations' turns run side by side (so batched), else one after another. The shipped
    rate limits apply unless `limits` changes them."""
    async with postgres_schema() as direct, counted(direct) as (counter, dsn):
        settings = make_settings(
            data_dir=tmp_path, database_url=dsn, openai_base_url="http://unused", **limits
        )
        async with open_runtime(settings, backend=InstantBackend()) as runtime:
            names = [f"conversation-{n}" for n in range(conversations)]
            for name in names:  # each conversation's first turn: its row and window exist
                await runtime.dialogue.handle(incoming(name), NullSink())

            async def converse(name: str) -> None:
                for _ in range(TURNS):
                    await runtime.dialogue.handle(incoming(name), NullSink())

            before = counter.round_trips
            if together:
                await asyncio.gather(*(converse(name) for name in names))
            else:
                for name in names:
                    await converse(name)
            spent = counter.round_trips - before
            stored = [(await runtime.store.stats(incoming(name).key)).turns for name in names]
        assert stored == [TURNS + 1] * conversations  # every turn was really stored
        return spent / (TURNS * conversations)


async def test_a_turn_takes_at_most_three_round_trips_rate_limits_included(
    tmp_path: Path,
) -> None:
    per_turn = await _round_trips_per_turn(tmp_path, conversations=2, together=False)
    print(f"PostgreSQL round trips per turn, one turn at a time: {per_turn:.2f}")
    assert per_turn <= ROUND_TRIPS_PER_TURN


async def test_turns_in_flight_share_round_trips(tmp_path: Path) -> None:
    # One bench user sends 440 turns here: past the shipped 60 a minute, so no per-user limit.
    per_turn = await _round_trips_per_turn(
        tmp_path, conversations=40, together=True, user_turns_per_minute=None
    )
    print(f"PostgreSQL round trips per turn, 40 conversations at once: {per_turn:.2f}")
    assert per_turn <= BATCHED_ROUND_TRIPS_PER_TURN
