"""The core's own cost: turns/s and added latency with an instant model and SQLite on disk.

Run: python -m bench.core            (about three minutes on 2 cores; --part for one section)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import resource
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bot.config import Settings
from bot.gc_tuning import tune_for_serving
from bot.history import weight
from bot.llm.base import Capabilities, GenerationOptions
from bot.store import sql
from bot.store import sqlite as sqlite_store
from bot.store.base import TurnRecord, TurnUsage
from bot.store.windows import WHOLE
from bot.types import Author, ChatMessage, ConversationKey, Delta, Incoming, Kind, Role, Usage
from bot.wiring import Runtime, open_runtime
from tests.support.settings import make_settings


class InstantBackend:
    """Answers at once, so what is measured is the core: dedupe, locks, store, context, relay."""

    capabilities = Capabilities(listed_prices=True, price_provider="openai")

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        yield Delta("an instant answer", finish_reason="stop", usage=Usage(len(messages), 4))

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return sum(len(m.content) // 4 + 4 for m in messages)

    def context_window(self, model: str) -> int:
        return 8192

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class NullSink:
    max_len = 2000
    min_edit_interval = 1.0

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        return None

    async def fail(self, message: str) -> None:
        raise AssertionError(message)


_EVENT_IDS = itertools.count()
_PROCESS = uuid.uuid4().hex[:8]
"""Event ids are unique across processes too: replicas sharing a database dedupe by them."""
"""Cheap unique event ids: uuid4 would cost the bench more than some of what it measures."""


def incoming(conversation: str, text: str = "how are you today?") -> Incoming:
    return Incoming(
        key=ConversationKey("bench", "space", conversation),
        author=Author("u1", "Ann"),
        text=text,
        event_id=f"bench-{_PROCESS}-{next(_EVENT_IDS)}",
        kind=Kind.MENTION,
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def throughput(
    settings: Settings, conversations: int, turns_each: int, stored: int = 0
) -> float:
    """Turns/s with every conversation sending its next message as soon as it is answered.

    With `stored`, each conversation first holds that many messages and answers one turn untimed
    (a conversation in a busy channel is already active): then the window is full every turn.
    """
    async with open_runtime(settings, backend=InstantBackend()) as runtime:

        async def converse(name: str, turns: int) -> None:
            for _ in range(turns):
                await runtime.dialogue.handle(incoming(name), NullSink())

        names = [f"t{conversations}-{n}" for n in range(conversations)]
        if stored:
            for name in names:
                await fill(runtime, incoming(name).key, stored)
            await asyncio.gather(*(converse(name, 1) for name in names))
        before = await stored_turns(runtime, names)
        started = time.perf_counter()
        await asyncio.gather(*(converse(name, turns_each) for name in names))
        elapsed = time.perf_counter() - started
        counted = conversations * turns_each
        # A benchmark checks what it counts: every turn it counts was answered and stored.
        assert await stored_turns(runtime, names) - before == counted
        return counted / elapsed


async def stored_turns(runtime: Runtime, names: Sequence[str]) -> int:
    return sum([(await runtime.store.stats(incoming(name).key)).turns for name in names])


async def added_latency(settings: Settings, conversations: int, seconds: float) -> list[float]:
    """Per-turn latency while every conversation sends one message a second, phases spread."""
    async with open_runtime(settings, backend=InstantBackend()) as runtime:
        latencies: list[float] = []

        async def converse(name: str, phase: float) -> None:
            await asyncio.sleep(phase)
            for _ in range(int(seconds)):
                started = time.perf_counter()
                await runtime.dialogue.handle(incoming(name), NullSink())
                elapsed = time.perf_counter() - started
                latencies.append(elapsed)
                await asyncio.sleep(max(0.0, 1.0 - elapsed))

        rng = random.Random(7)
        await asyncio.gather(
            *(converse(f"l{conversations}-{n}", rng.random()) for n in range(conversations))
        )
        return latencies


async def fill(runtime: Runtime, key: ConversationKey, messages: int) -> None:
    batch = 1000
    for start in range(0, messages, batch):
        rows = [
            ChatMessage(Role.USER if n % 2 else Role.ASSISTANT, f"stored message {n}", tokens=6)
            for n in range(start, min(messages, start + batch))
        ]
        await runtime.store.append(key, rows)


async def per_turn_times(settings: Settings, stored: tuple[int, ...], turns: int) -> list[float]:
    """Median turn time in conversations holding `stored` messages, measured interleaved."""
    async with open_runtime(settings, backend=InstantBackend()) as runtime:
        names = [f"history-{count}" for count in stored]
        for name, count in zip(names, stored, strict=True):
            await fill(runtime, incoming(name).key, count)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(turns):
            for name in names:
                started = time.perf_counter()
                await runtime.dialogue.handle(incoming(name), NullSink())
                times[name].append(time.perf_counter() - started)
    return [statistics.median(times[name]) for name in names]


def raw_sqlite_turns(directory: str, conversations: int, turns_each: int, group: int) -> float:
    """Turns/s of sqlite3 alone running a turn's statements as the store runs them (claim, read
    the settings and the window since its newest message, begin, append, end), `group` turns
    per transaction: the limit group commit allows, with no event loop, threads or objects."""
    conn = sqlite3.connect(Path(tempfile.mkdtemp(dir=directory)) / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    sqlite_store._migrate(conn)
    keys = [ConversationKey("raw", "space", f"r{n}") for n in range(conversations)]
    anchors = dict.fromkeys(keys, WHOLE)
    window = 8192 - 1024
    turns = [key for _ in range(turns_each) for key in keys]
    started = time.perf_counter()
    for start in range(0, len(turns), group):
        conn.execute("BEGIN IMMEDIATE")
        for key in turns[start : start + group]:
            event_id, now = f"raw-{next(_EVENT_IDS)}", time.time()
            conn.execute(
                "INSERT INTO events (event_id, conversation, claimed_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING event_id",
                (event_id, str(key), now),
            ).fetchall()
            conn.execute(sql.SETTINGS, sql.settings_keys(key)).fetchall()
            rows = conn.execute(sql.WINDOW, sql.window_params(key, window, anchors[key]))
            rows = rows.fetchall()
            question = ChatMessage(Role.USER, "how are you today?", "Ann", "u1", tokens=8)
            record = sql.turn_row(TurnRecord(event_id, key, (question,)), "raw", now)
            conn.execute(sql.EARLIER_TURN, (event_id,)).fetchone()
            conn.execute(sql.BEGIN_TURN, record)
            answer = ChatMessage(Role.ASSISTANT, "an instant answer", author_id="u1", tokens=4)
            usage = TurnUsage("m", "raw", "space", key.channel, "u1", 2, 4, 0, 0)
            conn.execute(sql.RECORD_USAGE, sql.usage_row(usage, now))
            totals = sql.TurnTotals.of([question, answer], 4)
            ((conv_id, total),) = conn.execute(
                sql.APPEND_TURN, sql.append_row(key, totals, now)
            ).fetchall()
            rows = sql.message_rows(conv_id, [question, answer], total - totals.weight)
            conn.executemany(sql.INSERT_MESSAGE, rows)
            conn.execute(sql.END_TURN, (event_id,))
            anchors[key] = total - weight(answer.tokens)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    stored = conn.execute("SELECT SUM(turns) FROM conversations").fetchone()[0]
    assert stored == len(turns)  # every counted turn was stored
    conn.close()
    return len(turns) / elapsed


def fresh_settings(directory: str, **overrides: object) -> Settings:
    """Settings for one measurement, with its own empty database."""
    return make_settings(
        data_dir=Path(tempfile.mkdtemp(dir=directory)),
        openai_base_url="http://unused",
        user_turns_per_minute=None,  # one bench user sends thousands of turns a minute
        conversation_turns_per_minute=None,
        **overrides,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=6000, help="turns per throughput level")
    parser.add_argument("--seconds", type=float, default=10, help="length of each latency run")
    parser.add_argument(
        "--part",
        choices=("all", "levels", "long", "raw"),
        default="all",
        help="levels: turns/s and latency by conversations; long: full windows; raw: sqlite3",
    )
    parser.add_argument("--stored", type=int, default=1300, help="messages in each full window")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as directory:
        if args.part in ("all", "raw"):
            await short_and_raw(directory, args.turns)
        if args.part in ("all", "long"):
            await full_windows(directory, args.turns, args.stored, (512, 64))
        if args.part in ("all", "levels"):
            await levels(directory, args)  # ends with the collector tuned as `parley` tunes it
        if args.part in ("all", "long"):
            tune_for_serving()
            await full_windows(directory, args.turns, args.stored, (512,))


async def short_and_raw(directory: str, turns: int, rounds: int = 3) -> None:
    """Short windows at 1,000 conversations against sqlite3 alone, alternating, medians: the core
    with CPython's collector as it starts and as `parley` tunes it once started. Also the CPU
    time per turn (the process's, every thread), steadier than turns/s on a shared machine."""
    turns_each = max(1, turns // 1000)
    counted = 1000 * turns_each
    runs: dict[str, list[tuple[float, float]]] = {"default GC": [], "tuned GC": [], "alone": []}
    for _ in range(rounds):
        for label in ("default GC", "tuned GC"):
            with serving_gc() if label == "tuned GC" else nullcontext():
                cpu = time.process_time()
                rate = await throughput(fresh_settings(directory), 1000, turns_each)
                runs[label].append((rate, (time.process_time() - cpu) / counted))
        cpu = time.process_time()
        rate = raw_sqlite_turns(directory, 1000, turns_each, group=100)
        runs["alone"].append((rate, (time.process_time() - cpu) / counted))
    print("Short windows, 1,000 conversations, saturated, the core / sqlite3 alone running the")
    print(f"same statements with 100 turns per commit, {rounds} rounds, medians:")
    alone_rate, alone_cpu = medians(runs["alone"])
    for label in ("default GC", "tuned GC"):
        pairs = ", ".join(
            f"{c:,.0f} / {r:,.0f}"
            for (c, _), (r, _) in zip(runs[label], runs["alone"], strict=True)
        )
        rate, cpu = medians(runs[label])
        print(f"  {label}: {pairs} turns/s; medians {rate:,.0f} / {alone_rate:,.0f}: ", end="")
        print(f"{rate / alone_rate:.2f}x; CPU per turn {cpu * 1e6:.0f} / {alone_cpu * 1e6:.0f} µs")


def medians(runs: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The median turns/s and the median CPU per turn of some runs."""
    return statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs)


@contextmanager
def serving_gc() -> Iterator[None]:
    """The collector as `parley` tunes it once started (bot/gc_tuning.py), then as it was."""
    threshold = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def full_windows(directory: str, turns: int, stored: int, cache_sizes: Sequence[int]) -> None:
    """1,000 conversations whose 8,192-token windows are full, by PARLEY_WINDOW_CACHE_MB."""
    turns_each = max(1, turns // 1000)
    tuned = "tuned" if gc.isenabled() and gc.get_freeze_count() else "default"
    print(
        f"Full windows: 1,000 conversations of {stored:,} stored messages, saturated ({tuned} GC):"
    )
    for megabytes in cache_sizes:
        settings = fresh_settings(directory, window_cache_mb=megabytes)
        # Windows that do not all fit are read whole every turn: a few turns tell that cost.
        each = turns_each if megabytes >= 512 else 1
        rate = await throughput(settings, 1000, each, stored)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  PARLEY_WINDOW_CACHE_MB={megabytes}: {rate:,.0f} turns/s (peak RSS {peak:,.0f} MB)"
        )


async def levels(directory: str, args: argparse.Namespace) -> None:
    """Turns/s and added latency by how many conversations, the GC, the stored history."""
    print("Instant model, SQLite on disk (WAL), the whole DialogueManager path.")
    print("conversations   turns/s (saturated)   added latency at 1 msg/s each: p50 / p99")
    for conversations in (1, 100, 1000):
        turns_each = max(1, args.turns // conversations)
        rate = await throughput(fresh_settings(directory), conversations, turns_each)
        latencies = await added_latency(fresh_settings(directory), conversations, args.seconds)
        print(
            f"{conversations:>13}   {rate:>19,.0f}   "
            f"{percentile(latencies, 0.5) * 1000:>8.2f} ms / "
            f"{percentile(latencies, 0.99) * 1000:.2f} ms  ({len(latencies)} turns)"
        )
    # The same 1,000-conversation latency run once more, with the collector tuned as
    # `parley` tunes it after start-up (bot/gc_tuning.py): the p99 difference is the GC's.
    untuned = await added_latency(fresh_settings(directory), 1000, args.seconds)
    tune_for_serving()
    tuned = await added_latency(fresh_settings(directory), 1000, args.seconds)
    print("Added latency at 1,000 conversations x 1 msg/s, default GC vs tuned:")
    for label, values in (("default GC", untuned), ("tuned GC  ", tuned)):
        print(
            f"  {label}: p50 {percentile(values, 0.5) * 1000:.2f} ms / "
            f"p99 {percentile(values, 0.99) * 1000:.2f} ms ({len(values)} turns)"
        )
    # A window of about 15 messages either way, so only the stored history differs.
    same_window = fresh_settings(directory, context_window=1250, max_tokens=1024)
    short, long = await per_turn_times(same_window, (10, 100_000), turns=400)
    print("Per-turn time by stored history (same ~15-message window, median of 400 turns):")
    print(f"  10 stored messages:      {short * 1000:6.3f} ms")
    print(f"  100,000 stored messages: {long * 1000:6.3f} ms")
    print(f"  ratio: {long / short:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
