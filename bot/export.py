"""`parley export`: conversations as OpenAI chat fine-tuning JSONL, to train a model of your own."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from bot.adapter import adapter_names
from bot.config import ConfigError, Settings, expand_path
from bot.store.base import ExportFilter, Store
from bot.store.factory import store_for
from bot.types import ChatMessage, Role

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def example(system_prompt: str, messages: list[ChatMessage]) -> dict[str, Any] | None:
    """One training example: the system prompt and the conversation; None without an answer."""
    if not any(message.role is Role.ASSISTANT for message in messages):
        return None
    lines: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
    for message in messages:
        line: dict[str, Any] = {"role": str(message.role), "content": message.content}
        if message.role is Role.USER and message.name:
            line["name"] = _NAME_UNSAFE.sub("_", message.name)[:64]
        lines.append(line)
    return {"messages": lines}


def _date(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ConfigError(f"{option} {text!r}: use a date like 2026-01-31") from None


async def export(
    store: Store,
    settings: Settings,
    where: ExportFilter,
    out: IO[str],
    progress: Callable[[int], None] = lambda written: None,
) -> int:
    """Write one JSON line per conversation that has an answer; return how many were written."""
    written = 0
    async for key, messages in store.export(where):
        prompt = (await store.get_settings(key)).system_prompt or settings.system_prompt
        line = example(prompt, messages)
        if line is not None:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
            progress(written)
    return written


@contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    # Opened apart from the with, so that only the open's own failure becomes the one-line error.
    try:
        handle = open(expand_path(path), "w", encoding="utf-8")  # noqa: SIM115
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else error
        raise ConfigError(f"cannot write --output {path} ({reason})") from None
    with handle:
        yield handle


def _platform(name: str | None) -> str | None:
    known = adapter_names()
    if name is not None and name not in known:
        raise ConfigError(
            f"--platform {name!r} is not a known platform: use one of {', '.join(known)}"
        )
    return name


def run_export(args: argparse.Namespace) -> int:
    from bot.runner import prepare

    settings = prepare(args)
    where = ExportFilter(
        platform=_platform(args.platform),
        space=args.space,
        since=_date(args.since, "--since"),
        until=_date(args.until, "--until"),
    )

    async def main(progress: Callable[[int], None]) -> int:
        store = store_for(settings)
        await store.open()
        try:
            with _output(args.output) as out:
                return await export(store, settings, where, out, progress)
        finally:
            await store.close()

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("exported {task.completed} conversations"))
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task("export", total=None)
        written = asyncio.run(main(lambda count: bar.update(task, completed=count)))
    print(f"exported {written} conversations", file=sys.stderr)
    return 0
