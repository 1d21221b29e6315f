"""Benchmark: 8 concurrent conversations through LocalBackend's batch vs the same 8 one by one.

    python -m bench.local

Builds a random ~24M-parameter Llama in a temp dir (nothing is downloaded), then generates a
fixed number of greedy tokens per conversation (end-of-sequence ignored, so both runs do the
same work) and prints the aggregate tokens/s of each run and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.config import Settings
from bot.llm.base import GenerationOptions
from bot.llm.local import LocalBackend
from bot.types import ChatMessage, Role
from tests.support.tiny_model import build_tiny_model

QUESTIONS = [
    "hi",
    "What is the capital of France?",
    "Tell me about the quick brown fox.",
    "Count from 0 to 9, please: 0 1 2 3 4 5 6 7 8 9",
    "Hello there! How are you today? " * 3,
    "Café, naïve, über: say something about UTF-8 text.",
    "Parley answers questions in Discord, Slack and the terminal. " * 2,
    "Numbers and punctuation: ; , . ! ? ( ) [ ] { } - _ = +",
]


async def run_turn(backend: LocalBackend, question: str, new_tokens: int) -> int:
    """Generate exactly `new_tokens` for one conversation; return the tokens generated."""
    messages = [ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, question)]
    options = GenerationOptions(model="", max_tokens=new_tokens, temperature=0.0)
    generated = 0
    async for delta in backend.generate(backend.request(messages, options, ignore_eos=True)):
        if delta.usage is not None:
            generated = delta.usage.output_tokens
    return generated


async def throughput(backend: LocalBackend, new_tokens: int, *, together: bool) -> float:
    """Aggregate generated tokens/s of all conversations, concurrently or one after another."""
    started = time.perf_counter()
    if together:
        counts = await asyncio.gather(*(run_turn(backend, q, new_tokens) for q in QUESTIONS))
    else:
        counts = [await run_turn(backend, q, new_tokens) for q in QUESTIONS]
    assert sum(counts) == new_tokens * len(QUESTIONS)
    return sum(counts) / (time.perf_counter() - started)


async def measure(model_dir: Path, new_tokens: int, rounds: int) -> None:
    """Alternate the two ways `rounds` times: a shared, noisy CPU then hurts both alike."""
    backend = await LocalBackend.load(Settings(model=str(model_dir), local_max_batch=8))
    sequential: list[float] = []
    batched: list[float] = []
    try:
        await run_turn(backend, "warm up", 4)
        for round_number in range(1, rounds + 1):
            sequential.append(await throughput(backend, new_tokens, together=False))
            batched.append(await throughput(backend, new_tokens, together=True))
            print(
                f"round {round_number}: one after another {sequential[-1]:6.1f} tokens/s, "
                f"batched {batched[-1]:6.1f} tokens/s"
            )
    finally:
        await backend.aclose()

    one_by_one, together = statistics.median(sequential), statistics.median(batched)
    print(f"conversations: {len(QUESTIONS)}, new tokens each: {new_tokens} (greedy, EOS ignored)")
    print(f"one after another:   {one_by_one:6.1f} tokens/s (median of {rounds})")
    print(f"concurrent, batched: {together:6.1f} tokens/s (median of {rounds})")
    print(
        f"speed-up: {together / one_by_one:.2f}x (largest batch {backend.scheduler.largest_batch})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per conversation")
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
        model_dir = build_tiny_model(
            directory, layers=args.layers, hidden=args.hidden, heads=8, max_positions=1024
        )
        asyncio.run(measure(model_dir, args.tokens, args.rounds))


if __name__ == "__main__":
    main()
