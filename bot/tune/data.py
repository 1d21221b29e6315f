"""Training data for `parley tune`: `parley export` JSONL or the store, checked and rendered.

Everything here stays on the machine. Conversations read from the store are already clean of
forgotten turns (`forget` deletes them), and `exclude` leaves out every conversation a given
user took part in, so none of their words reach a model.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.store.base import ExportFilter
from bot.types import ChatMessage, Role

Conversation = list[ChatMessage]
_ROLES = {str(role): role for role in Role}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Pair:
    """A preference: the conversation so far, the answer people liked and the one they did not."""

    prompt: Conversation
    chosen: str
    rejected: str


def _lines(path: str) -> list[tuple[int, Any]]:
    """(line number, parsed JSON object) for every non-blank line; one-line errors otherwise."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"--data {path}: no such file")
    parsed = []
    with file.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{path} line {number}: not JSON ({error.msg})") from None
            if not isinstance(value, dict):
                raise ConfigError(f"{path} line {number}: expected a JSON object")
            parsed.append((number, value))
    if not parsed:
        raise ConfigError(f"{path}: no examples in it")
    return parsed


def _messages(value: Any, where: str) -> Conversation:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of messages")
    messages = []
    for index, item in enumerate(value):
        role = _ROLES.get(item.get("role")) if isinstance(item, dict) else None
        if role is None:
            raise ConfigError(f"{where} message {index}: role must be system, user or assistant")
        if not isinstance(item.get("content"), str):
            raise ConfigError(f"{where} message {index}: content must be a string")
        name = item.get("name")
        messages.append(ChatMessage(role, item["content"], name if isinstance(name, str) else None))
    return messages


def read_conversations(path: str) -> list[Conversation]:
    """The chat fine-tuning JSONL `parley export` writes ({"messages": [...]}, one per line)."""
    conversations = []
    for number, value in _lines(path):
        where = f"{path} line {number}"
        if "messages" not in value:
            raise ConfigError(f'{where}: not chat fine-tuning format (no "messages")')
        messages = _messages(value["messages"], where)
        if not any(m.role is Role.ASSISTANT for m in messages):
            raise ConfigError(f"{where}: no assistant message to learn from")
        conversations.append(messages)
    return conversations


def read_pairs(path: str) -> list[Pair]:
    """trl's conversational pairs: {"prompt": [...], "chosen": [...], "rejected": [...]}."""
    pairs = []
    for number, value in _lines(path):
        where = f"{path} line {number}"
        if not {"prompt", "chosen", "rejected"} <= value.keys():
            raise ConfigError(f'{where}: a preference pair needs "prompt", "chosen" and "rejected"')
        answers = []
        for side in ("chosen", "rejected"):
            (answer, *rest) = _messages(value[side], f"{where} {side}")
            if answer.role is not Role.ASSISTANT or rest:
                raise ConfigError(f"{where} {side}: expected one assistant message")
            answers.append(answer.content)
        pairs.append(Pair(_messages(value["prompt"], f"{where} prompt"), *answers))
    return pairs


def without_user(conversations: list[Conversation], user: str | None) -> list[Conversation]:
    """Every conversation in which `user` (an id or a name) never spoke."""
    if user is None:
        return conversations
    names = {user, _NAME_UNSAFE.sub("_", user)[:64]}
    return [c for c in conversations if not any(m.author_id in names or m.name in names for m in c)]


async def store_conversations(settings: Settings, where: ExportFilter) -> list[Conversation]:
    """The store's conversations that have an answer, each opened by its system prompt."""
    from bot.store.factory import store_for

    store = store_for(settings)
    await store.open()
    try:
        conversations = []
        async for key, messages in store.export(where):
            if any(m.role is Role.ASSISTANT for m in messages):
                prompt = (await store.get_settings(key)).system_prompt or settings.system_prompt
                conversations.append([ChatMessage(Role.SYSTEM, prompt), *messages])
        return conversations
    finally:
        await store.close()


def split(items: Sequence[Any], fraction: float, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """(train, held out): whole conversations are held out, at least one when there are two."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"--eval-fraction {fraction}: use a fraction from 0 up to (not) 1")
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    held = round(len(shuffled) * fraction)
    if fraction and len(shuffled) > 1:
        held = max(1, held)
    return shuffled[held:], shuffled[:held]


@dataclass(frozen=True, slots=True)
class Rendered:
    """Pre-tokenized examples (input_ids, labels with -100 off the answers) and what went in."""

    rows: list[dict[str, list[int]]]
    turns: int
    tokens: int
    too_long: int


def render_examples(tokenizer: Any, conversations: list[Conversation], window: int) -> Rendered:
    """One example per assistant turn: the prompt exactly as Parley renders it, then the answer.

    Only the answer's tokens carry a label, so the loss is on assistant turns alone."""
    from bot.llm.local.prompt import render_answer, render_prompt

    rows, tokens, too_long = [], 0, 0
    for conversation in conversations:
        for index, message in enumerate(conversation):
            if message.role is not Role.ASSISTANT:
                continue
            history = conversation[:index]
            prompt = render_prompt(tokenizer, history).ids
            answer = render_answer(tokenizer, history, message.content)
            if len(prompt) + len(answer) > window:
                too_long += 1
                continue
            rows.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
            tokens += len(prompt) + len(answer)
    return Rendered(rows, len(rows), tokens, too_long)
