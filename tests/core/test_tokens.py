"""Token counts: tiktoken only from its cache on disk; otherwise a conservative estimate."""

from __future__ import annotations

import pytest

from bot.llm.openai.backend import UNKNOWN_MODEL_WINDOW, window_for
from bot.llm.tokens import TokenCounter, estimate_tokens
from bot.types import ChatMessage, Role


def test_without_a_cached_encoding_the_estimate_is_used_and_nothing_is_fetched(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = TokenCounter()
    message = ChatMessage(Role.USER, "héllo wörld " * 10, name="Ann")
    assert counter.count([message], "gpt-4o") == 3 + 4 + estimate_tokens(message.content) + 2
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded into the cache


def test_an_unknown_model_is_estimated(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    text = "some words"
    assert TokenCounter().count([ChatMessage(Role.USER, text)], "llama-3") == 7 + 4


def test_the_estimate_never_undercounts_common_text():
    assert estimate_tokens("hello world") >= 3  # 2 real tokens
    assert estimate_tokens("日本語のテキスト") >= 8  # at most one token per character
    assert estimate_tokens("") == 0


def test_context_windows_of_known_and_unknown_models():
    assert window_for("gpt-4o-mini") == 128_000
    assert window_for("gpt-4.1-nano") == 1_047_576
    assert window_for("my-finetune") == UNKNOWN_MODEL_WINDOW
