"""`parley export`: conversations as OpenAI chat fine-tuning JSONL, to train a model of your own;
with --feedback, rated answers as preference data (trl's conversational formats)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from bot.adapter import adapter_names
from bot.config import ConfigError, Settings, expand_path
from bot.store.base import Conversations, ExportFilter, Feedback
from bot.store.factory import store_for
from bot.types import ChatMessage, ConversationKey, Role

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
    store: Conversations,
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


# ---- --feedback: rated answers as preference data ----------------------------------------


class RatedConversations(Conversations, Feedback, Protocol):
    """What `export_feedback` reads: the ratings, and the conversations they rate."""


def _verdict(likes: int, dislikes: int) -> bool | None:
    """An answer is liked or disliked by most of its raters; a tie says nothing."""
    return None if likes == dislikes else likes > dislikes


async def export_feedback(
    store: RatedConversations,
    settings: Settings,
    where: ExportFilter,
    out: IO[str],
    form: str = "pairs",
    progress: Callable[[int], None] = lambda written: None,
) -> int:
    """Write rated answers as JSON lines; return how many.

    `pairs`: {"prompt", "chosen", "rejected"} for each liked and disliked answer to the same
    prompt (the system prompt and every message before the answer); `kto`: {"prompt",
    "completion", "label"} for each answer. Names are left out: trl reads role and content.
    """
    verdicts: dict[tuple[ConversationKey, float], bool] = {}
    for rating in await store.ratings():
        verdict = _verdict(rating.likes, rating.dislikes)
        if verdict is not None:
            verdicts[(rating.key, rating.answered_at)] = verdict
    rated = {key for key, _ in verdicts}
    by_prompt: dict[str, tuple[list[dict[str, str]], list[str], list[str]]] = {}
    written = 0
    async for key, messages in store.export(where):
        if key not in rated:
            continue
        system = (await store.get_settings(key)).system_prompt or settings.system_prompt
        lines = [{"role": "system", "content": system}]
        for message in messages:
            verdict = verdicts.get((key, message.created_at))
            if message.role is Role.ASSISTANT and verdict is not None:
                if form == "kto":
                    completion = [{"role": "assistant", "content": message.content}]
                    line = {"prompt": list(lines), "completion": completion, "label": verdict}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    written += 1
                    progress(written)
                else:
                    group = by_prompt.setdefault(json.dumps(lines), (list(lines), [], []))
                    group[1 if verdict else 2].append(message.content)
            lines.append({"role": str(message.role), "content": message.content})
    for prompt, liked, disliked in by_prompt.values():
        for chosen in liked:
            for rejected in disliked:
                line = {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
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


_WHAT = {"pairs": "preference pairs", "kto": "rated answers"}


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
                if args.feedback:
                    form = args.feedback_format
                    return await export_feedback(store, settings, where, out, form, progress)
                return await export(store, settings, where, out, progress)
        finally:
            await store.close()

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = Console(stderr=True)
    what = _WHAT[args.feedback_format] if args.feedback else "conversations"
    columns = (SpinnerColumn(), TextColumn(f"exported {{task.completed}} {what}"))
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task("export", total=None)
        written = asyncio.run(main(lambda count: bar.update(task, completed=count)))
    print(f"exported {written} {what}", file=sys.stderr)
    return 0
