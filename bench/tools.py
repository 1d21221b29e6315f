"""The core's added cost of one tool step: the tool loop, the audit write, and the stored call and
result, against a turn without tools; an instant model and SQLite on disk.

Run: python -m bench.tools            (about 20 s on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace

from bench.core import InstantBackend, NullSink, fresh_settings, incoming, percentile
from bot.config import Settings
from bot.llm.base import GenerationOptions
from bot.store.base import AuditQuery
from bot.types import ChatMessage, Delta, Role, ToolCall, Usage
from bot.wiring import open_runtime

ASKS_TIME = "what time is it?"


class InstantToolBackend(InstantBackend):
    """Answers at once; a question about the time is first answered with a time.now call."""

    capabilities = replace(InstantBackend.capabilities, tools=True)

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        usage = Usage(len(messages), 4)
        if messages[-1].role is Role.USER and messages[-1].content == ASKS_TIME:
            call = ToolCall("call_1", "time.now", "{}")
            yield Delta("", finish_reason="tool_calls", usage=usage, tool_calls=(call,))
            return
        yield Delta("an instant answer", finish_reason="stop", usage=usage)


async def turn_times(settings: Settings, turns: int) -> tuple[list[float], list[float], int]:
    """Seconds per turn without and with a tool step, interleaved in two conversations, and
    how many calls the audit holds afterwards (one per tool turn, or the figures mislead)."""
    async with open_runtime(settings, backend=InstantToolBackend()) as runtime:
        plain: list[float] = []
        tooled: list[float] = []
        for _ in range(turns):
            for times, name, text in ((plain, "plain", "hello"), (tooled, "tools", ASKS_TIME)):
                started = time.perf_counter()
                await runtime.dialogue.handle(incoming(name, text), NullSink())
                times.append(time.perf_counter() - started)
        return plain, tooled, len(await runtime.store.tool_calls(AuditQuery(limit=turns + 1)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=2000, help="turns of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        # A window of about 15 messages either way, so the stored history costs the same.
        window = {"context_window": 1250, "max_tokens": 1024}
        await turn_times(fresh_settings(directory, **window), 50)  # warm up: imports, caches
        plain, tooled, audited = await turn_times(fresh_settings(directory, **window), args.turns)
    print(f"Instant model, SQLite on disk (WAL), {args.turns} turns of each kind, interleaved.")
    print(f"tool calls audited: {audited}")
    print("turn                          median     p90       p99")
    for label, values in (("no tools", plain), ("one time.now step", tooled)):
        print(
            f"{label:<28}  {statistics.median(values) * 1000:6.3f} ms "
            f"{percentile(values, 0.9) * 1000:6.3f} ms {percentile(values, 0.99) * 1000:6.3f} ms"
        )
    added = statistics.median(tooled) - statistics.median(plain)
    print(f"added by the tool step (median): {added * 1000:.3f} ms")


if __name__ == "__main__":
    asyncio.run(main())
