"""Scale-test fixtures: a fresh PostgreSQL schema per test (never skipped) and a slow peer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.peers.openai_peer import OpenAIPeer
from tests.support.postgres import postgres_schema


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A DSN whose search_path is a schema of its own; fails loudly when PostgreSQL is down."""
    async with postgres_schema() as dsn:
        yield dsn


@pytest.fixture
def slow_peer(openai_peer: OpenAIPeer) -> OpenAIPeer:
    """The OpenAI peer streaming with a pause per chunk, so many turns are in flight at once."""
    openai_peer.chunk_delay = 0.01
    return openai_peer
