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

from bot.llm.base import ToolSpec
from bot.llm.local.tools import template_turn
from bot.tools.names import function_schema
from bot.types import ChatMessage, Role

PLAIN_STOPS = ("\nUser:", "\nAssistant:")
PLAIN_LABELS = {Role.USER: "User", Role.ASSISTANT: "Assistant"}

Chat = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Prompt:
    ids: list[int]
    stops: tuple[str, ...] = ()


def render_prompt(
    tokenizer: Any,
    messages: Sequence[ChatMessage],
    tools: Sequence[ToolSpec] = (),
    *,
    takes_tools: bool = False,
) -> Prompt:
    """The prompt ids for these messages, ending where the assistant's answer begins.

    `takes_tools`: the template reads tools, calls and results (bot/llm/local/tools.py); else
    tool results are left out and only the text of an answer that called tools is kept."""
    chat = _chat(messages, takes_tools)
    if getattr(tokenizer, "chat_template", None):
        text = _apply_template(tokenizer, chat, tools=tools)
        return Prompt(tokenizer.encode(text, add_special_tokens=False))
    return Prompt(tokenizer.encode(plain_transcript(chat)), PLAIN_STOPS)


def render_answer(tokenizer: Any, messages: Sequence[ChatMessage], answer: str) -> list[int]:
    """The ids a model should write after render_prompt(messages) to give `answer` and stop.

    Training on these (after the prompt's own ids) teaches what inference then reads."""
    chat = _chat(messages, takes_tools=False)
    if getattr(tokenizer, "chat_template", None):
        before = _apply_template(tokenizer, chat)
        answered = [*chat, {"role": str(Role.ASSISTANT), "content": answer}]
        after = _apply_template(tokenizer, answered, generation=False)
        # A template that renders the answer's end (its end-of-turn tokens) after the prefix.
        if after.startswith(before) and len(after) > len(before):
            return tokenizer.encode(after[len(before) :], add_special_tokens=False)
    ending = tokenizer.eos_token or PLAIN_STOPS[0]
    return tokenizer.encode(f" {answer}{ending}", add_special_tokens=False)


def plain_transcript(chat: Chat) -> str:
    """The fallback prompt for models without a chat template."""
    system = "\n\n".join(m["content"] for m in chat if m["role"] == Role.SYSTEM)
    lines = [
        f"{PLAIN_LABELS[Role(m['role'])]}: {m['content']}" for m in chat if m["role"] != Role.SYSTEM
    ]
    lines.append("Assistant:")
    return "\n\n".join(filter(None, [system, "\n".join(lines)]))


def _chat(messages: Sequence[ChatMessage], takes_tools: bool) -> Chat:
    """The messages as a template reads them. Consecutive messages of one role are joined, since
    many templates (Llama 2, Mistral) insist that user and assistant alternate, and a group chat
    often has several users in a row; tool calls and results stay apart, one message each."""
    chat: Chat = []
    names: dict[str, str] = {}
    for message in messages:
        if message.role is Role.TOOL or message.tool_calls:
            if takes_tools:
                chat.append(template_turn(message, names))
                continue
            if message.role is Role.TOOL or not message.content:
                continue
        text = message.content
        if message.role is Role.USER and message.name:
            text = f"{message.name}: {text}"
        last = chat[-1] if chat else None
        if last is not None and last["role"] == message.role and "tool_calls" not in last:
            last["content"] = f"{last['content']}\n{text}"
        else:
            chat.append({"role": str(message.role), "content": text})
    return chat


def _apply_template(
    tokenizer: Any, chat: Chat, generation: bool = True, tools: Sequence[ToolSpec] = ()
) -> str:
    from jinja2 import TemplateError

    schemas = [function_schema(tool) for tool in tools] or None
    try:
        return tokenizer.apply_chat_template(
            chat, tools=schemas, tokenize=False, add_generation_prompt=generation
        )
    except TemplateError:
        # Some templates (Gemma) refuse a system role: fold it into the first user turn.
        return tokenizer.apply_chat_template(
            _fold_system(chat), tools=schemas, tokenize=False, add_generation_prompt=generation
        )


def _fold_system(chat: Chat) -> Chat:
    system = "\n\n".join(m["content"] for m in chat if m["role"] == Role.SYSTEM)
    rest = [m for m in chat if m["role"] != Role.SYSTEM]
    if not system:
        return rest
    if rest and rest[0]["role"] == Role.USER:
        return [{"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]
