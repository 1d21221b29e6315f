"""A third platform as its own distribution (tests/third_door): installed beside Parley, with no
file of bot/ or adapters/ touched, it is a door like the others: its settings in `--help` and
`parley doctor`, a conversation with memory, its allowlist, and the core's commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.ops.test_serve import free_port
from tests.peers.openai_peer import OpenAIPeer
from tests.support.cli import PARLEY
from tests.support.distributions import environment, install_apart

SOURCE = Path(__file__).resolve().parents[1] / "third_door"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distribution installed into a folder of its own (the project's venv untouched)."""
    return install_apart(SOURCE, tmp_path_factory.mktemp("third_door"))


async def parley(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PARLEY, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_its_settings_are_in_help(site: Path, tmp_path: Path) -> None:
    env = environment(site, tmp_path)
    code, overview, _ = await parley(env, "--help")
    assert code == 0 and "answer one line per message on a local TCP socket" in overview
    code, text, _ = await parley(env, "lines", "--help")
    assert code == 0
    assert "[lines] table of the config file" in text
    assert "PARLEY_LINES_PORT" in text and "PARLEY_LINES_USERS" in text
    assert "Names allowed to talk to Parley (empty: everyone)." in text


async def test_doctor_checks_its_settings(
    site: Path, tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    port = str(free_port())
    env = environment(
        site,
        tmp_path,
        OPENAI_BASE_URL=openai_peer.base_url,
        PARLEY_LINES_PORT=port,
        PARLEY_LINES_USERS="ann,cy",
    )
    code, out, _ = await parley(env, "doctor")
    assert code == 0, out
    assert f"ok    lines: settings PARLEY_LINES_PORT={port}, PARLEY_LINES_USERS=ann,cy" in out
    assert "ok    lines: checks passed" in out
    code, out, _ = await parley({**env, "PARLEY_LINES_PORT": "none"}, "doctor")
    assert code == 2 and out.startswith("FAIL  config: PARLEY_LINES_PORT: ")
    code, out, _ = await parley({**env, "PARLEY_LINES_USER": "ann"}, "doctor")
    expected = "unknown setting PARLEY_LINES_USER: did you mean PARLEY_LINES_USERS?"
    assert code == 2 and expected in out


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def say(self, line: str) -> str:
        self._writer.write(line.encode() + b"\n")
        await self._writer.drain()
        return (await asyncio.wait_for(self._reader.readline(), 30)).decode().rstrip("\n")


@asynccontextmanager
async def door(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`parley lines` running until the block ends, then stopped as an operator would."""
    process = await asyncio.create_subprocess_exec(
        *PARLEY, "lines", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)


@asynccontextmanager
async def connected(
    port: int, name: str, process: asyncio.subprocess.Process
) -> AsyncIterator[Client]:
    async with asyncio.timeout(60):
        while True:
            assert process.returncode is None, (await process.stderr.read()).decode()  # type: ignore[union-attr]
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
    writer.write(name.encode() + b"\n")
    try:
        yield Client(reader, writer)
    finally:
        writer.close()


def request_text(peer: OpenAIPeer) -> str:
    return " ".join(str(message["content"]) for message in peer.requests[-1]["messages"])


async def test_a_conversation_with_memory_an_allowlist_and_commands(
    site: Path, tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    port = free_port()
    env = environment(
        site,
        tmp_path,
        OPENAI_BASE_URL=openai_peer.base_url,
        PARLEY_MODEL="peer-model",
        PARLEY_LINES_PORT=str(port),
        PARLEY_LINES_USERS="ann",
    )
    async with door(env) as process:
        async with connected(port, "ann", process) as ann:
            first = await ann.say("my name is Zed")
            assert first.startswith("echo: ") and first.endswith("my name is Zed")
            await ann.say("what is my name?")
            assert "my name is Zed" in request_text(openai_peer)
            assert "reset" in await ann.say("/help")
            await ann.say("/reset")
            await ann.say("and now?")
            assert "my name is Zed" not in request_text(openai_peer)
        asked = len(openai_peer.requests)
        async with connected(port, "bob", process) as bob:
            assert await bob.say("hello, may I?") == "(no answer)"
        assert len(openai_peer.requests) == asked
    assert process.returncode == 0
