"""Fixtures every test may use: a clean environment and an OpenAI-compatible peer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings, secret_env_names
from tests.peers.openai_peer import OpenAIPeer
from tests.support.settings import make_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_FOREIGN_ENV = ("PARLEY_", "OPENAI_", *secret_env_names())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the developer's own PARLEY_* and token variables out of every test."""
    for name in list(os.environ):
        if name.startswith(_FOREIGN_ENV):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def openai_peer() -> AsyncIterator[OpenAIPeer]:
    peer = await OpenAIPeer().start()
    yield peer
    await peer.stop()


@pytest.fixture
def peer_settings(tmp_path: Path, openai_peer: OpenAIPeer) -> Settings:
    """Settings that talk to the OpenAI peer and keep their database in tmp_path."""
    return make_settings(
        data_dir=tmp_path,
        openai_base_url=openai_peer.base_url,
        model="peer-model",
        max_retries=0,
        request_timeout=5,
    )
