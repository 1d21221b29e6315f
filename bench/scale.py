"""Scale-out: turns/s with 1, 2 and 3 replica processes on PostgreSQL against one on SQLite.

Run: python -m bench.scale            (about half a minute on 2 cores)
     python -m bench.scale --turns 30 --rounds 3   (the configurations alternate; medians)

Each process runs the real runtime (DialogueManager, store, breaker) with an instant model on its
own conversations; all processes open their store first, then start together on a signal, and a
configuration's time runs from that signal to the last process's finish. PostgreSQL runs use a
fresh schema each, dropped afterwards; its DSN comes from --postgres or TEST_POSTGRES_DSN.
Each process checks that the turns it stored equal the turns it ran before a figure is printed.
With --rounds N the four configurations run in turn N times, so a shared machine's noise falls
on all of them alike, and the ratios are taken between medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import load_average
from bench.core import InstantBackend, NullSink, incoming
from bot.prices import ModelPrice
from bot.wiring import open_runtime
from tests.support.postgres import POSTGRES_DSN, postgres_schema
from tests.support.settings import make_settings

READY, GO = "ready", "go"


async def worker(database_url: str, conversations: int, turns: int) -> None:
    """One replica: open the store, say ready, wait for the go line, run every turn, report."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = make_settings(
            data_dir=Path(data_dir),
            database_url=database_url,
            openai_base_url="http://unused",
            user_turns_per_minute=None,  # one bench user sends thousands of turns a minute
            conversation_turns_per_minute=None,
            model="instant",
            prices={"instant": ModelPrice(input=0, output=0)},  # not a warning per process
        )
        async with open_runtime(settings, backend=InstantBackend()) as runtime:
            names = [f"{uuid.uuid4().hex[:8]}-{n}" for n in range(conversations)]
            # Each conversation's first turn before the clock starts: a conversation row exists.
            await asyncio.gather(*(runtime.dialogue.handle(incoming(n), NullSink()) for n in names))
            print(READY, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

            async def converse(name: str) -> None:
                for _ in range(turns):
                    await runtime.dialogue.handle(incoming(name), NullSink())

            await asyncio.gather(*(converse(name) for name in names))
            finished = time.time()
            # A figure that counts dropped work is worse than none: count what was stored.
            keys = [incoming(name).key for name in names]
            stored = sum([(await runtime.store.stats(key)).turns for key in keys])
            print(stored - conversations, finished, flush=True)  # less the warm-up turns


async def run_together(database_url: str, processes: int, conversations: int, turns: int) -> float:
    """Aggregate turns/s of `processes` workers started together on one database."""
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.scale",
            "--worker",
            database_url,
            "--conversations",
            str(conversations),
            "--turns",
            str(turns),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for process in workers:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode().strip()
        if line != READY:
            raise RuntimeError(f"a worker failed to start (exit {await process.wait()})")
    started = time.time()
    for process in workers:
        assert process.stdin is not None
        process.stdin.write(f"{GO}\n".encode())
        await process.stdin.drain()
    finished, stored = [], 0
    for process in workers:
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a worker failed (exit {process.returncode})")
        turns_stored, finished_at = output.decode().split()[-2:]
        stored += int(turns_stored)
        finished.append(float(finished_at))
    counted = processes * conversations * turns
    if stored != counted:
        raise RuntimeError(f"{counted} turns sent but {stored} stored: the figure would be wrong")
    return counted / (max(finished) - started)


CONFIGURATIONS = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2), ("PostgreSQL", 3)]


async def run_configuration(
    args: argparse.Namespace, database: str, processes: int, directory: str
) -> float:
    """One configuration's turns/s, on a fresh SQLite file or a fresh PostgreSQL schema."""
    if database == "SQLite":
        url = f"sqlite:///{Path(directory) / f'parley-{uuid.uuid4().hex[:8]}.db'}"
        return await run_together(url, processes, args.conversations, args.turns)
    async with postgres_schema(args.postgres, prefix="parley_bench") as url:
        return await run_together(url, processes, args.conversations, args.turns)


async def main(args: argparse.Namespace) -> None:
    per_process = args.conversations * args.turns
    print(
        f"Instant model, {args.conversations} conversations x {args.turns} turns per process "
        f"({per_process} turns each), {os.cpu_count()} CPUs, {load_average()}:"
    )
    figures: dict[tuple[str, int], list[float]] = {c: [] for c in CONFIGURATIONS}
    with tempfile.TemporaryDirectory() as directory:
        for round_number in range(1, args.rounds + 1):
            for database, processes in CONFIGURATIONS:
                turns_per_second = await run_configuration(args, database, processes, directory)
                figures[database, processes].append(turns_per_second)
            if args.rounds > 1:
                print(
                    f"  round {round_number}: "
                    + ", ".join(f"{d} {n}: {v[-1]:.0f}" for (d, n), v in figures.items())
                )
    median = {config: statistics.median(runs) for config, runs in figures.items()}
    sqlite, postgres = median["SQLite", 1], median["PostgreSQL", 1]
    what = f"median of {args.rounds}" if args.rounds > 1 else "one run"
    print(f"  SQLite      1 process    {sqlite:8.0f} turns/s  ({what})")
    for processes in (1, 2, 3):
        figure = median["PostgreSQL", processes]
        print(
            f"  PostgreSQL  {processes} process{'es' if processes > 1 else '  '}  "
            f"{figure:8.0f} turns/s  "
            f"({figure / postgres:.2f}x one PostgreSQL process, {figure / sqlite:.2f}x SQLite)"
        )
    print(f"  {load_average()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100, help="per process")
    parser.add_argument("--turns", type=int, default=10, help="per conversation")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of each")
    parser.add_argument(
        "--postgres",
        default=POSTGRES_DSN,
        help="a PostgreSQL DSN; each configuration gets its own schema in it",
    )
    parser.add_argument("--worker", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        asyncio.run(worker(arguments.worker, arguments.conversations, arguments.turns))
    else:
        asyncio.run(main(arguments))
