"""The core's own cost: turns/s and added latency with an instant model and SQLite on disk.

Run: python -m bench.core            (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.config import Settings
from bot.llm.base import GenerationOptions
from bot.types import Author, ChatMessage, ConversationKey, Delta, Incoming, Kind, Role, Usage
from bot.wiring import open_runtime


class InstantBackend:
    """Answers at once, so what is measured is the core: dedupe, locks, store, context, relay."""

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[Delta]:
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


def incoming(conversation: str, text: str = "how are you today?") -> Incoming:
    return Incoming(
        key=ConversationKey("bench", "space", conversation),
        author=Author("u1", "Ann"),
        text=text,
        event_id=uuid.uuid4().hex,
        kind=Kind.MENTION,
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def concurrent_turns(settings: Settings, conversations: int, turns_each: int) -> str:
    async with open_runtime(settings, backend=InstantBackend()) as runtime:
        latencies: list[float] = []

        async def converse(name: str) -> None:
            for _ in range(turns_each):
                started = time.perf_counter()
                await runtime.dialogue.handle(incoming(name), NullSink())
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(
            *(converse(f"c{n}-{uuid.uuid4().hex[:6]}") for n in range(conversations))
        )
        elapsed = time.perf_counter() - started
    total = conversations * turns_each
    return (
        f"{conversations:>6} conversations  {total:>6} turns  {total / elapsed:>8.0f} turns/s  "
        f"p50 {percentile(latencies, 0.5) * 1000:6.2f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.2f} ms"
    )


async def fill(runtime, key: ConversationKey, messages: int) -> None:
    batch = 1000
    for start in range(0, messages, batch):
        rows = [
            ChatMessage(
                Role.USER if n % 2 == 0 else Role.ASSISTANT, f"stored message {n}", tokens=6
            )
            for n in range(start, min(messages, start + batch))
        ]
        await runtime.store.append(key, rows)


async def per_turn_time(settings: Settings, stored: int, turns: int) -> float:
    async with open_runtime(settings, backend=InstantBackend()) as runtime:
        name = f"long-{stored}"
        await fill(runtime, incoming(name).key, stored)
        times = []
        for _ in range(turns):
            started = time.perf_counter()
            await runtime.dialogue.handle(incoming(name), NullSink())
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5000, help="turns per concurrency level")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), openai_base_url="http://unused")
        print("Concurrent conversations (instant model, SQLite on disk, WAL):")
        for conversations in (1, 100, 1000):
            turns_each = max(1, args.turns // conversations)
            print(" ", await concurrent_turns(settings, conversations, turns_each))
        print("Per-turn time against stored history in one conversation:")
        short = await per_turn_time(settings, 10, 300)
        long = await per_turn_time(settings, 100_000, 300)
        print(f"  10 stored messages:      {short * 1000:6.3f} ms (median of 300 turns)")
        print(f"  100,000 stored messages: {long * 1000:6.3f} ms (median of 300 turns)")
        print(f"  ratio: {long / short:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
