"""The seeds' own model with the defaults: GPT-2's 1,024 positions still hold the conversation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from bot.config import Settings
from bot.context import CUT_MARKER
from bot.llm.base import GenerationOptions
from bot.llm.local.backend import LocalBackend, LocalOptions
from bot.types import ChatMessage, Delta
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.sinks import RecordingSink
from tests.support.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT-2 base model with 1,024 positions, as the real one has."""
    return build_tiny_model(
        tmp_path_factory.mktemp("gpt2-1024"), arch="gpt2", chat_template=False, max_positions=1024
    )


def console(
    lines: str, model: Path, data: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`parley console` over a pipe with the local model in `model`, plus PARLEY_* settings."""
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": str(model),
        "PARLEY_DATA_DIR": str(data),
        **{f"PARLEY_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input=lines,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        timeout=120,
    )


def test_gpt2_with_default_settings_sees_the_message_and_answers(
    tmp_path: Path, gpt2_dir: Path
) -> None:
    result = console("what is the capital of France?\n", gpt2_dir, tmp_path, temperature="0")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    answer = "\n".join(result.stdout.splitlines()).strip()
    assert answer and "empty answer" not in answer
    stored = console("/stats\n", gpt2_dir, tmp_path).stdout
    assert "1 turn" in stored


def test_a_reply_reserve_bigger_than_the_window_is_one_line_at_start_up(
    tmp_path: Path, gpt2_dir: Path
) -> None:
    result = console("hello\n", gpt2_dir, tmp_path, max_tokens="1024")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("parley: PARLEY_MAX_TOKENS=1024 leaves no room")
    assert "1024-token window" in line


class Recording:
    """The real local backend, with every prompt it is given kept for the test to read."""

    def __init__(self, inner: LocalBackend) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.prompts: list[list[ChatMessage]] = []

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        self.prompts.append(list(messages))
        return self.inner.stream(messages, options)

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return self.inner.count_tokens(messages, model)

    def context_window(self, model: str) -> int:
        return self.inner.context_window(model)

    async def ping(self) -> None:
        await self.inner.ping()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_prompt_holds_the_users_message(tmp_path: Path, gpt2_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path, model=str(gpt2_dir), temperature=0)
    backend = Recording(await LocalBackend.load(LocalOptions.from_settings(settings)))
    sink = RecordingSink()
    async with open_runtime(settings, backend=backend) as runtime:
        assert runtime.dialogue.reply_tokens(str(gpt2_dir)) == 1024 // 4
        await runtime.dialogue.handle(message("remember the word marmalade"), sink)
    (prompt,) = backend.prompts
    assert prompt[-1].content == "remember the word marmalade"
    assert all(CUT_MARKER not in m.content for m in prompt)
    assert sink.final and "empty answer" not in sink.final
