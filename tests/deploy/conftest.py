"""A real Parley HTTP server (health, readiness, metrics) for the probes the deploy files define."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.wiring import Runtime, open_runtime
from tests.support.backends import ScriptedBackend


@pytest.fixture
async def parley_http(tmp_path: Path) -> AsyncIterator[Runtime]:
    """Parley's runtime with its HTTP server started on a free port of 127.0.0.1."""
    settings = Settings(data_dir=tmp_path)
    async with open_runtime(settings, backend=ScriptedBackend()) as runtime:
        await runtime.ops.start("127.0.0.1", 0)
        try:
            yield runtime
        finally:
            await runtime.ops.stop()
