"""The core's own cost: turns/s and added latency with an instant model and SQLite on disk.

Run: python -m bench.core            (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from bot.config import Settings
from bot.gc_tuning import tune_for_serving
from bot.llm.base import GenerationOptions
from bot.types import Author, ChatMessage, ConversationKey, Delta, Incoming, Kind, Role, Usage
from bot.wiring import Runtime, open_runtime


class InstantBackend:
    """Answers at once, so what is measured is the core: dedupe, locks, store, context, relay."""

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


async def throughput(settings: Settings, conversations: int, turns_each: int) -> float:
    """Turns/s with every conversation sending its next message as soon as it is answered."""
    async with open_runtime(settings, backend=InstantBackend()) as runtime:

        async def converse(name: str) -> None:
            for _ in range(turns_each):
                await runtime.dialogue.handle(incoming(name), NullSink())

        names = [f"t{conversations}-{n}" for n in range(conversations)]
        started = time.perf_counter()
        await asyncio.gather(*(converse(name) for name in names))
        return conversations * turns_each / (time.perf_counter() - started)


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


def fresh_settings(directory: str, **overrides: object) -> Settings:
    """Settings for one measurement, with its own empty database."""
    return Settings(
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
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
