"""Chat messages -> the token ids a local model reads, through its chat template or a plain one.

Instruct models ship a chat template and it is used as is. Base models (gpt2, GPT-Neo) have
none; they get the plain transcript below, and stop strings keep them from writing the
user's next line:

    <system prompt>
    User: alice: what is a monad?
    Assistant: A monoid in the category of endofunctors.
    User: bob: and in English?
    Assistant:

Local models take no `name` field, so a named user's text is prefixed with "name: ".
Images are dropped: local models here are text only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.types import ChatMessage, Role

PLAIN_STOPS = ("\nUser:", "\nAssistant:")
PLAIN_LABELS = {Role.USER: "User", Role.ASSISTANT: "Assistant"}


@dataclass(frozen=True, slots=True)
class Prompt:
    ids: list[int]
    stops: tuple[str, ...] = ()


def render_prompt(tokenizer: Any, messages: Sequence[ChatMessage]) -> Prompt:
    """The prompt ids for these messages, ending where the assistant's answer begins."""
    turns = _merge_same_role(messages)
    if getattr(tokenizer, "chat_template", None):
        text = _apply_template(tokenizer, turns)
        return Prompt(tokenizer.encode(text, add_special_tokens=False))
    return Prompt(tokenizer.encode(plain_transcript(turns)), PLAIN_STOPS)


def render_answer(tokenizer: Any, messages: Sequence[ChatMessage], answer: str) -> list[int]:
    """The ids a model should write after render_prompt(messages) to give `answer` and stop.

    Training on these (after the prompt's own ids) teaches what inference then reads."""
    turns = _merge_same_role(messages)
    if getattr(tokenizer, "chat_template", None):
        before = _apply_template(tokenizer, turns)
        after = _apply_template(tokenizer, [*turns, (Role.ASSISTANT, answer)], generation=False)
        # A template that renders the answer's end (its end-of-turn tokens) after the prefix.
        if after.startswith(before) and len(after) > len(before):
            return tokenizer.encode(after[len(before) :], add_special_tokens=False)
    ending = tokenizer.eos_token or PLAIN_STOPS[0]
    return tokenizer.encode(f" {answer}{ending}", add_special_tokens=False)


def plain_transcript(turns: Sequence[tuple[Role, str]]) -> str:
    """The fallback prompt for models without a chat template."""
    system = "\n\n".join(text for role, text in turns if role is Role.SYSTEM)
    lines = [f"{PLAIN_LABELS[role]}: {text}" for role, text in turns if role is not Role.SYSTEM]
    lines.append("Assistant:")
    return "\n\n".join(filter(None, [system, "\n".join(lines)]))


def _merge_same_role(messages: Sequence[ChatMessage]) -> list[tuple[Role, str]]:
    """(role, text) turns; consecutive messages of one role are joined, since many templates
    (Llama 2, Mistral) insist that user and assistant alternate, and a group chat often has
    several users in a row."""
    turns: list[tuple[Role, str]] = []
    for message in messages:
        text = message.content
        if message.role is Role.USER and message.name:
            text = f"{message.name}: {text}"
        if turns and turns[-1][0] is message.role:
            turns[-1] = (message.role, f"{turns[-1][1]}\n{text}")
        else:
            turns.append((message.role, text))
    return turns


def _apply_template(
    tokenizer: Any, turns: Sequence[tuple[Role, str]], generation: bool = True
) -> str:
    from jinja2 import TemplateError

    chat = [{"role": str(role), "content": text} for role, text in turns]
    try:
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=generation)
    except TemplateError:
        # Some templates (Gemma) refuse a system role: fold it into the first user turn.
        return tokenizer.apply_chat_template(
            _fold_system(chat), tokenize=False, add_generation_prompt=generation
        )


def _fold_system(chat: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in chat if m["role"] == Role.SYSTEM)
    rest = [m for m in chat if m["role"] != Role.SYSTEM]
    if not system:
        return rest
    if rest and rest[0]["role"] == Role.USER:
        return [{"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]
