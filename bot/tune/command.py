"""`parley tune`'s command line: check the input, train locally or with OpenAI, summarise."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.extras import require
from bot.store.base import ExportFilter
from bot.tune import data

if TYPE_CHECKING:
    from bot.tune.train import Options, Result


def add_arguments(parser: argparse.ArgumentParser, platforms: str) -> None:
    """`parley tune`'s options; the store filters are `parley export`'s."""
    parser.add_argument("--data", metavar="FILE", help="`parley export` JSONL (default: the store)")
    parser.add_argument("--base", required=True, help="the model to start from: a directory or id")
    parser.add_argument("--out", metavar="DIR", help="where the tuned model and checkpoints go")
    parser.add_argument("--method", choices=("sft", "dpo"), default="sft")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters, merged on save")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--eval-fraction", type=float, default=0.1, help="held out (default 0.1)")
    parser.add_argument("--learning-rate", type=float, help="default 5e-5, 2e-4 with --lora")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--exclude-user", metavar="USER", help="leave out this user's conversations"
    )
    parser.add_argument("--platform", help=f"from the store: only this platform ({platforms})")
    parser.add_argument("--space", help="from the store: only this guild or workspace id")
    parser.add_argument("--since", help="from the store: only messages from this date on")
    parser.add_argument("--until", help="from the store: only messages before this date")
    parser.add_argument(
        "--openai", action="store_true", help="fine-tune with OpenAI (uploads --data)"
    )


def run_tune(args: argparse.Namespace) -> int:
    """Train as asked and print where the model is; bad input is one line and exit 2."""
    from bot.runner import prepare

    settings = prepare(args)
    if args.openai:
        from bot.tune.openai_jobs import run_openai

        if args.data is None:
            raise ConfigError("--openai needs --data FILE (from `parley export`)")
        return run_openai(settings, args.data, args.base)
    if args.out is None:
        raise ConfigError("--out DIR is needed: where the tuned model goes")
    require(("torch", "transformers", "trl", "peft", "datasets"), "tune", "parley tune")
    options = _options(args)
    if args.method == "dpo":
        if args.data is None:
            raise ConfigError("--method dpo needs --data FILE of preference pairs")
        pairs = data.read_pairs(args.data)
        if args.exclude_user:
            pairs = [p for p in pairs if data.without_user([p.prompt], args.exclude_user)]
        train, held = data.split(pairs, args.eval_fraction)
        conversations = len(pairs)
        from bot.tune.train import dpo

        result = dpo(settings, options, train, held)
    else:
        conversations_read = _conversations(args, settings)
        train, held = data.split(conversations_read, args.eval_fraction)
        conversations = len(conversations_read)
        from bot.tune.train import sft

        result = sft(settings, options, train, held)
    _summary(args.method, conversations, len(held), result)
    return 0


def _options(args: argparse.Namespace) -> Options:
    from bot.tune.train import Options

    if args.epochs <= 0 or args.batch_size < 1:
        raise ConfigError("--epochs must be above 0 and --batch-size at least 1")
    return Options(
        args.base,
        Path(args.out).expanduser(),
        args.lora,
        args.epochs,
        args.learning_rate,
        args.batch_size,
    )


def _conversations(args: argparse.Namespace, settings: Settings) -> list[data.Conversation]:
    if args.data is not None:
        read = data.read_conversations(args.data)
    else:
        from bot.export import _date, _platform

        where = ExportFilter(
            platform=_platform(args.platform),
            space=args.space,
            since=_date(args.since, "--since"),
            until=_date(args.until, "--until"),
        )
        read = asyncio.run(data.store_conversations(settings, where))
    kept = data.without_user(read, args.exclude_user)
    if not kept:
        raise ConfigError("no conversations with an answer to train on")
    return kept


def _summary(method: str, conversations: int, held: int, result: Result) -> None:
    def loss(value: float | None) -> str:
        return "n/a (nothing held out)" if value is None else f"{value:.4f}"

    lines = [
        f"trained ({method}) on {conversations - held} conversations, {result.examples} "
        f"{'preference pairs' if method == 'dpo' else 'answers'}, {result.tokens} tokens; "
        f"{held} held out",
        f"held-out loss before: {loss(result.loss_before)}",
        f"held-out loss after: {loss(result.loss_after)}",
        f"model: {result.out} (PARLEY_BACKEND=local PARLEY_MODEL={result.out})",
    ]
    if result.too_long:
        lines.insert(1, f"skipped {result.too_long} answers longer than the model's window")
    if result.resumed_from:
        lines.insert(1, f"resumed from {result.resumed_from}")
    print("\n".join(lines), file=sys.stdout)
