"""`parley usage`: tokens and cost from the store's per-turn records, as a table or CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
import time
from datetime import UTC, datetime
from typing import IO

from bot.config import ConfigError
from bot.prices import MICROS_PER_USD, dollars
from bot.store.base import UsageQuery, UsageRow
from bot.store.factory import store_for

_SPAN = re.compile(r"(\d+)([mhdw])")
_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
HEADERS = ("turns", "input_tokens", "cached_input_tokens", "output_tokens", "cost_usd")


def since(text: str, now: float) -> float:
    """`7d`, `12h`, `30m`, `2w` back from now, or a UTC date like 2026-01-31."""
    if span := _SPAN.fullmatch(text.strip()):
        return now - int(span[1]) * _SECONDS[span[2]]
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ConfigError(
            f"--since {text!r}: use 7d, 12h, 30m, 2w or a date like 2026-01-31"
        ) from None


def write_csv(rows: list[UsageRow], by: str, out: IO[str]) -> None:
    """One line per group; cost in dollars to the micro-dollar, as stored."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((by, *HEADERS))
    for row in rows:
        cost = f"{row.cost_micros / MICROS_PER_USD:.6f}"
        writer.writerow(
            (row.label, row.turns, row.input_tokens, row.cached_tokens, row.output_tokens, cost)
        )


def print_table(rows: list[UsageRow], by: str, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column(by)
    for header in ("turns", "tokens in", "cached in", "tokens out", "cost"):
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(row.label, *_figures(row))
    total = UsageRow(
        "total",
        sum(row.turns for row in rows),
        sum(row.input_tokens for row in rows),
        sum(row.output_tokens for row in rows),
        sum(row.cached_tokens for row in rows),
        sum(row.cost_micros for row in rows),
    )
    table.add_section()
    table.add_row("total", *_figures(total), style="bold")
    # Piped output gets room for long labels instead of rich's 80 columns.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _figures(row: UsageRow) -> tuple[str, ...]:
    return (
        f"{row.turns:,}",
        f"{row.input_tokens:,}",
        f"{row.cached_tokens:,}",
        f"{row.output_tokens:,}",
        dollars(row.cost_micros),
    )


def run_usage(args: argparse.Namespace) -> int:
    from bot.runner import prepare

    settings = prepare(args)
    query = UsageQuery(since(args.since, time.time()), args.by)

    async def report() -> list[UsageRow]:
        store = store_for(settings)
        await store.open()
        try:
            return await store.usage_report(query)
        finally:
            await store.close()

    rows = asyncio.run(report())
    if args.csv:
        write_csv(rows, args.by, sys.stdout)
    else:
        print_table(rows, args.by, f"Usage by {args.by} since {args.since}")
    return 0
