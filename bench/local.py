"""Benchmark: 8 concurrent conversations through LocalBackend's batch vs the same 8 one by one.

    python -m bench.local
    python -m bench.local --join    # a newcomer joining 7 decoding rows, each way below
    python -m bench.local --join --dtype int8     # the same one way (--int8 also works)
    python -m bench.local --versus float32+bf16-prompts   # prompts read in bfloat16 vs float32
    python -m bench.local --versus int8 --hidden 896 --layers 4   # int8 vs float32, 0.5B-wide
    python -m bench.local --versus bfloat16       # bfloat16 vs float32: speed, greedy agreement

Builds a random ~24M-parameter Llama in a temp dir (nothing is downloaded), then generates a
fixed number of greedy tokens per conversation (end-of-sequence ignored, so both runs do the
same work) and prints the aggregate tokens/s of each run and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import load_average
from bot.llm.base import GenerationOptions
from bot.llm.local.backend import LocalBackend, LocalOptions
from bot.llm.local.row import GenerationRequest
from bot.types import ChatMessage, Role
from tests.support.settings import make_settings
from tests.support.tiny_model import build_tiny_model

WAYS = {
    "float32": {"local_dtype": "float32", "local_prefill_dtype": "model"},
    "float32+bf16-prompts": {"local_dtype": "float32", "local_prefill_dtype": "bfloat16"},
    "bfloat16": {"local_dtype": "bfloat16"},
    "int8": {"local_dtype": "int8"},
}
"""How the model runs: its dtype, and for float32 whether prompts are read in bfloat16 (what
`PARLEY_LOCAL_PREFILL_DTYPE=auto` picks on a CPU that computes bfloat16 natively)."""

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


def options(**settings: object) -> LocalOptions:
    """The local backend's options from these settings, as `parley` builds them."""
    return LocalOptions.from_settings(make_settings(**settings))


async def run_turn(backend: LocalBackend, question: str, new_tokens: int) -> tuple[int, str]:
    """Generate exactly `new_tokens` for one conversation; the tokens generated and the text."""
    messages = [ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, question)]
    options = GenerationOptions(model="", max_tokens=new_tokens, temperature=0.0)
    generated, text = 0, []
    async for delta in backend.generate(backend.request(messages, options, ignore_eos=True)):
        text.append(delta.text)
        if delta.usage is not None:
            generated = delta.usage.output_tokens
    return generated, "".join(text)


async def throughput(
    backend: LocalBackend, new_tokens: int, *, together: bool
) -> tuple[float, list[str]]:
    """Aggregate generated tokens/s of all conversations, concurrently or one after another;
    and their answers."""
    started = time.perf_counter()
    if together:
        turns = await asyncio.gather(*(run_turn(backend, q, new_tokens) for q in QUESTIONS))
    else:
        turns = [await run_turn(backend, q, new_tokens) for q in QUESTIONS]
    seconds = time.perf_counter() - started
    counts = [count for count, _ in turns]
    assert sum(counts) == new_tokens * len(QUESTIONS)
    return sum(counts) / seconds, [text for _, text in turns]


async def measure(model_dir: Path, new_tokens: int, rounds: int) -> None:
    """Alternate the two ways `rounds` times: a shared, noisy CPU then hurts both alike. Greedy
    answers batched must be those one after another: a batch must not change an answer."""
    backend = await LocalBackend.load(options(model=str(model_dir), local_max_batch=8))
    sequential: list[float] = []
    batched: list[float] = []
    differing = 0
    try:
        await run_turn(backend, "warm up", 4)
        for round_number in range(1, rounds + 1):
            speed, alone = await throughput(backend, new_tokens, together=False)
            sequential.append(speed)
            speed, together = await throughput(backend, new_tokens, together=True)
            batched.append(speed)
            differing += sum(a != b for a, b in zip(alone, together, strict=True))
            print(
                f"round {round_number}: one after another {sequential[-1]:6.1f} tokens/s, "
                f"batched {batched[-1]:6.1f} tokens/s"
            )
    finally:
        await backend.aclose()

    one_by_one, together_speed = statistics.median(sequential), statistics.median(batched)
    prompts = f", prompts read in {backend.prefill_dtype}" if backend.prefill_dtype else ""
    print(
        f"conversations: {len(QUESTIONS)}, new tokens each: {new_tokens} (greedy, EOS ignored), "
        f"{backend.dtype}{prompts}, {load_average()}"
    )
    print(
        f"batched answers identical to one after another: "
        f"{rounds * len(QUESTIONS) - differing} of {rounds * len(QUESTIONS)}"
    )
    print(f"one after another:   {one_by_one:6.1f} tokens/s (median of {rounds})")
    print(f"concurrent, batched: {together_speed:6.1f} tokens/s (median of {rounds})")
    print(
        f"speed-up: {together_speed / one_by_one:.2f}x "
        f"(largest batch {backend.scheduler.largest_batch})"
    )


async def greedy_answer(backend: LocalBackend, question: str, new_tokens: int) -> str:
    messages = [ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, question)]
    options = GenerationOptions(model="", max_tokens=new_tokens, temperature=0.0)
    request = backend.request(messages, options, ignore_eos=True)
    return "".join([delta.text async for delta in backend.generate(request)])


async def measure_versus(model_dir: Path, other: str, new_tokens: int, rounds: int) -> None:
    """float32 against another dtype on the same model: one conversation alone and eight
    batched, each the median of `rounds` alternating runs; then how often greedy answers agree."""
    speeds: dict[str, dict[str, list[float]]] = {}
    answers: dict[str, list[str]] = {}
    backends = {
        way: await LocalBackend.load(options(model=str(model_dir), local_max_batch=8, **WAYS[way]))
        for way in ("float32", other)
    }
    try:
        for backend in backends.values():
            await run_turn(backend, "warm up", 4)
        for _ in range(rounds):
            for dtype, backend in backends.items():
                runs = speeds.setdefault(dtype, {"alone": [], "batched": []})
                started = time.perf_counter()
                alone, _ = await run_turn(backend, QUESTIONS[1], new_tokens)
                runs["alone"].append(alone / (time.perf_counter() - started))
                batched, _ = await throughput(backend, new_tokens, together=True)
                runs["batched"].append(batched)
        for dtype, backend in backends.items():
            answers[dtype] = [await greedy_answer(backend, q, new_tokens) for q in QUESTIONS]
    finally:
        for backend in backends.values():
            await backend.aclose()
    median = {d: {k: statistics.median(v) for k, v in runs.items()} for d, runs in speeds.items()}
    for dtype, figures in median.items():
        print(
            f"{dtype:20s} alone {figures['alone']:7.1f} tokens/s, "
            f"8 batched {figures['batched']:7.1f} tokens/s (median of {rounds})"
        )
    for way in ("alone", "batched"):
        print(f"{other} speed-up, {way}: {median[other][way] / median['float32'][way]:.2f}x")
    same = sum(a == b for a, b in zip(answers["float32"], answers[other], strict=True))
    agreeing = [
        next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        / max(len(a), 1)
        for a, b in zip(answers["float32"], answers[other], strict=True)
    ]
    print(
        f"greedy answers identical: {same} of {len(QUESTIONS)}; the {other} answer follows the "
        f"float32 one for {statistics.mean(agreeing):.0%} of its length on average"
    )


def prompt_of(backend: LocalBackend, prompt_tokens: int) -> GenerationRequest:
    """A request whose prompt is at least this many tokens (the tiny tokenizer's count of a
    word varies: aim at the target)."""
    words = max(1, prompt_tokens // 2)
    while True:
        messages = [ChatMessage(Role.USER, "fox " * words)]
        request = backend.request(
            messages, GenerationOptions(model="", max_tokens=4, temperature=0.0)
        )
        if len(request.prompt_ids) >= prompt_tokens:
            return request
        words += max(1, (prompt_tokens - len(request.prompt_ids)) // 2)


async def first_token_after(backend: LocalBackend, request: GenerationRequest) -> float:
    """Seconds from submitting the request to its first token."""
    started = time.perf_counter()
    newcomer = backend.generate(request)
    await anext(newcomer)
    waited = time.perf_counter() - started
    await newcomer.aclose()
    return waited


async def joining(backend: LocalBackend, prompt_tokens: int) -> tuple[float, float]:
    """A newcomer with a prompt this long joins 7 decoding rows: (its time to first token, the
    others' longest gap between tokens from its arrival until each has its first token after
    the newcomer's: the stall ends only when they step again), in seconds."""
    many = GenerationOptions(model="", max_tokens=4096, temperature=0.0)
    runners = [
        backend.generate(backend.request([ChatMessage(Role.USER, q)], many, ignore_eos=True))
        for q in QUESTIONS[:7]
    ]
    arrivals: list[list[float]] = [[] for _ in runners]
    decoding, stepped = asyncio.Event(), asyncio.Event()
    first = float("inf")
    """When the newcomer had its first token; then `stepped` once each of the others has one."""

    async def drain(index: int) -> None:
        async for _ in runners[index]:
            arrivals[index].append(time.perf_counter())
            if min(map(len, arrivals)) >= 5:  # all seven are decoding
                decoding.set()
            if all(times[-1] > first for times in arrivals):
                stepped.set()

    tasks = [asyncio.create_task(drain(i)) for i in range(len(runners))]
    await decoding.wait()
    request = prompt_of(backend, prompt_tokens)
    joined = time.perf_counter()
    first = joined + await first_token_after(backend, request)
    await asyncio.wait_for(stepped.wait(), timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for runner in runners:
        await runner.aclose()
    gaps = []
    for times in arrivals:
        after = next((t for t in times if t > first), first)
        window = [joined, *[t for t in times if joined < t <= first], after]
        gaps.extend(b - a for a, b in itertools.pairwise(window))
    return first - joined, max(gaps)


def spread(seconds: list[float]) -> str:
    """Median and range in milliseconds: "median (min-max)"."""
    ms = [s * 1000 for s in seconds]
    return f"{statistics.median(ms):5.0f} ({min(ms):.0f}-{max(ms):.0f})"


async def measure_joining(model_dir: Path, rounds: int, dtypes: list[str]) -> None:
    """Newcomer wait and the others' longest stall, short and long prompts, each dtype in turn.

    Each round measures the prompt alone on an idle model (the floor: its own prefill plus the
    gather window) and then joining, back to back, so a noisy machine hurts both alike."""
    print(load_average())
    for dtype in dtypes:
        backend = await LocalBackend.load(
            options(model=str(model_dir), local_max_batch=8, **WAYS[dtype])
        )
        try:
            await run_turn(backend, "warm up", 4)
            await joining(backend, 500)  # the first long prefill of a process is cold
            for prompt_tokens in (30, 500):
                request = prompt_of(backend, prompt_tokens)
                alone: list[float] = []
                waits: list[float] = []
                gaps: list[float] = []
                for _ in range(rounds):
                    alone.append(await first_token_after(backend, request))
                    wait, gap = await joining(backend, prompt_tokens)
                    waits.append(wait)
                    gaps.append(gap)
                print(
                    f"{dtype:20s} {prompt_tokens:4d}-token newcomer joining 7 rows: first token "
                    f"{spread(waits)} ms (alone {spread(alone)}), others' longest gap "
                    f"{spread(gaps)} ms; median (range) of {rounds}"
                )
        finally:
            await backend.aclose()
    print(load_average())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per conversation")
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--join", action="store_true", help="measure a newcomer joining")
    parser.add_argument(
        "--dtype",
        nargs="+",
        choices=list(WAYS),
        default=["float32", "float32+bf16-prompts", "bfloat16"],
        help="the ways --join measures, one after another",
    )
    parser.add_argument("--versus", choices=list(WAYS)[1:], help="this way against float32")
    parser.add_argument("--int8", action="store_true", help="--dtype int8, or --versus int8")
    args = parser.parse_args()
    if args.int8:
        args.dtype, args.versus = ["int8"], "int8"
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
        model_dir = build_tiny_model(
            directory,
            layers=args.layers,
            hidden=args.hidden,
            heads=args.heads,
            max_positions=1024,
        )
        if args.join:
            asyncio.run(measure_joining(model_dir, args.rounds, args.dtype))
        elif args.versus:
            asyncio.run(measure_versus(model_dir, args.versus, args.tokens, args.rounds))
        else:
            asyncio.run(measure(model_dir, args.tokens, args.rounds))


if __name__ == "__main__":
    main()
