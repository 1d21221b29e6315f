"""The test MCP server, started by the real SDK client over stdio or reached over HTTP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.tools.settings import ServerConfig

ROOT = Path(__file__).resolve().parents[2]


def stdio_server(name: str = "jira", log: Path | None = None, **extra: object) -> ServerConfig:
    env = {"PYTHONPATH": str(ROOT)} | ({"MCP_TEST_LOG": str(log)} if log else {})
    args = ("-m", "tests.tools.mcp_server", "stdio")
    return ServerConfig(name, command=sys.executable, args=args, env=env, **extra)  # type: ignore[arg-type]


@pytest.fixture
def http_port() -> Iterator[int]:
    """A streamable-HTTP test server on 127.0.0.1; its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.tools.mcp_server", "http", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


async def listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
async def http_server(http_port: int) -> AsyncIterator[int]:
    await listening(http_port)
    yield http_port
