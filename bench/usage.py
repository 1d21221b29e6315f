"""What cost accounting adds to a turn: pricing, the money-budget read, and `parley usage`.

Run: python -m bench.usage            (about 20 s on 2 cores; --records to change the history)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.prices import PriceTable
from bot.store.base import SpentQuery, TurnUsage, UsageQuery
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, ConversationKey, Role, Usage

USERS, SPACES = 500, 20


def bench_pricing(turns: int) -> float:
    """Microseconds to price one turn from the maintained table (model lookup cached)."""
    table = PriceTable({}, maintained=True, provider="openai")
    table.cost("gpt-4o-mini", Usage(1, 1))
    start = time.perf_counter()
    for index in range(turns):
        table.cost("gpt-4o-mini", Usage(1000 + index, 200, 100))
    return (time.perf_counter() - start) / turns * 1e6


async def bench_store(records: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.db")
        await store.open()
        try:
            now = time.time()
            figures = {}
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    store.append(
                        ConversationKey("bench", f"s{i % SPACES}", f"c{i % 100}"),
                        [ChatMessage(Role.USER, "q", author_id=f"u{i % USERS}", tokens=5)],
                        usage=TurnUsage(
                            "m",
                            "bench",
                            f"s{i % SPACES}",
                            f"c{i % 100}",
                            f"u{i % USERS}",
                            100,
                            20,
                            0,
                            1234,
                        ),
                    )
                    for i in range(records)
                )
            )
            figures["append with a usage record, turns/s"] = records / (
                time.perf_counter() - started
            )
            reads = []
            for index in range(200):
                query = SpentQuery(
                    "bench",
                    f"u{index % USERS}",
                    f"s{index % SPACES}",
                    now - 86_400,
                    now - 30 * 86_400,
                )
                started = time.perf_counter()
                await store.money_spent(query)
                reads.append(time.perf_counter() - started)
            figures["money-budget read, median ms"] = statistics.median(reads) * 1e3
            figures["money-budget read, p95 ms"] = statistics.quantiles(reads, n=20)[-1] * 1e3
            for by in ("space", "user"):
                started = time.perf_counter()
                await store.usage_report(UsageQuery(0, by))
                figures[f"usage report by {by} over {records} turns, ms"] = (
                    time.perf_counter() - started
                ) * 1e3
            return figures
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    print(f"pricing from the maintained table: {bench_pricing(5000):.1f} us/turn")
    for name, value in asyncio.run(bench_store(args.records)).items():
        print(f"{name}: {value:,.1f}")


if __name__ == "__main__":
    main()
