"""Prompt formatting: the model's chat template when it has one, a plain transcript otherwise."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from bot.llm.local.prompt import PLAIN_STOPS, render_prompt
from bot.types import ChatMessage, Role

CHAT = [
    ChatMessage(Role.SYSTEM, "Be brief."),
    ChatMessage(Role.USER, "what is a monad?", name="alice"),
    ChatMessage(Role.ASSISTANT, "A monoid of endofunctors."),
    ChatMessage(Role.USER, "and in English?", name="bob", images=("https://x/cat.png",)),
]


def test_the_chat_template_is_used_when_the_model_has_one(chat_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir)
    prompt = render_prompt(tokenizer, CHAT)

    assert tokenizer.decode(prompt.ids) == (
        "<|bos|><|system|>Be brief.<|eos|>\n"
        "<|user|>alice: what is a monad?<|eos|>\n"
        "<|assistant|>A monoid of endofunctors.<|eos|>\n"
        "<|user|>bob: and in English?<|eos|>\n"
        "<|assistant|>"
    )
    assert prompt.stops == ()


def test_consecutive_users_become_one_turn(chat_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir)
    chat = [ChatMessage(Role.USER, "hi", name="alice"), ChatMessage(Role.USER, "yo", name="bob")]

    text = tokenizer.decode(render_prompt(tokenizer, chat).ids)

    assert text == "<|bos|><|user|>alice: hi\nbob: yo<|eos|>\n<|assistant|>"


def test_a_model_without_template_gets_the_plain_transcript_and_stops(
    plain_model_dir: Path,
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(plain_model_dir)
    assert not tokenizer.chat_template
    prompt = render_prompt(tokenizer, CHAT)

    assert tokenizer.decode(prompt.ids) == (
        "Be brief.\n\n"
        "User: alice: what is a monad?\n"
        "Assistant: A monoid of endofunctors.\n"
        "User: bob: and in English?\n"
        "Assistant:"
    )
    assert prompt.stops == PLAIN_STOPS == ("\nUser:", "\nAssistant:")
