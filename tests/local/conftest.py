"""Local-model tests: tiny random models built into temp dirs; nothing is downloaded."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub or transformers

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.llm.local.backend import LocalBackend
from bot.llm.local.options import LocalOptions
from tests.support.settings import make_settings
from tests.support.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama with a chat template; 2048 positions leave room for long answers."""
    return build_tiny_model(tmp_path_factory.mktemp("chat-model"), max_positions=2048)


@pytest.fixture(scope="session")
def plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT-2 base model without a chat template."""
    return build_tiny_model(
        tmp_path_factory.mktemp("plain-model"), arch="gpt2", chat_template=False
    )


@pytest.fixture
def load_backend() -> Iterator[Callable[..., Awaitable[LocalBackend]]]:
    """Load a LocalBackend through the real loading code; closed after the test."""
    loaded: list[LocalBackend] = []

    async def load(model_dir: Path, **settings: object) -> LocalBackend:
        options = LocalOptions.from_settings(make_settings(model=str(model_dir), **settings))
        backend = await LocalBackend.load(options)
        loaded.append(backend)
        return backend

    yield load
    for backend in loaded:
        backend.scheduler.close()
