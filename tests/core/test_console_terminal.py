"""The interactive console in a real terminal (tmux): what the screen shows, not the bytes."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import SPECS
from tests.peers.openai_peer import OpenAIPeer
from tests.support.cli import PARLEY

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SCREEN_WAIT_SECONDS = 20
LONG_ANSWER = "first-words " + " ".join(f"word{i}" for i in range(300))


class Terminal:
    """`parley console` in a detached 100x30 tmux session on its own server socket."""

    def __init__(self, socket_name: str) -> None:
        self.socket = socket_name

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def type(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "parley", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "parley")

    async def wait_for(self, text: str, *, count: int = 1) -> str:
        deadline = time.monotonic() + SCREEN_WAIT_SECONDS
        while (screen := self.screen()).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen:\n{screen}")
            await asyncio.sleep(0.1)
        return screen


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[tuple[Terminal, OpenAIPeer]]:
    peer = await OpenAIPeer(
        answer=lambda request: LONG_ANSWER, chunk_chars=6, chunk_delay=0.05
    ).start()
    env = {
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PARLEY_DATA_DIR": str(tmp_path),
        "OPENAI_BASE_URL": peer.base_url,
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "100",  # rich believes COLUMNS over the terminal: the pane's real size
        "LINES": "30",
    }
    command = " ".join(
        ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, PARLEY)]
    )
    term = Terminal(f"parley-test-{uuid.uuid4().hex[:8]}")
    term.tmux("new-session", "-d", "-s", "parley", "-x", "100", "-y", "30", f"{command} console")
    try:
        await term.wait_for("you ›")
        yield term, peer
    finally:
        term.tmux("kill-server")
        await peer.stop()


async def test_help_lists_one_command_per_line(terminal: tuple[Terminal, OpenAIPeer]) -> None:
    term, _ = terminal
    term.type("/help", "Enter")
    screen = await term.wait_for("you ›", count=2)
    lines = [line.rstrip() for line in screen.splitlines()]
    for spec in SPECS.values():
        assert f"{spec.usage}: {spec.summary}" in lines, screen


async def test_ctrl_c_keeps_the_partial_answer_once_then_says_stopped(
    terminal: tuple[Terminal, OpenAIPeer],
) -> None:
    term, _ = terminal
    term.type("tell me everything", "Enter")
    await term.wait_for("word14 ")
    term.type("C-c")
    screen = await term.wait_for("you ›", count=2)
    assert screen.count("first-words") == 1, screen
    after = screen.split("first-words", 1)[1]
    assert "(stopped)" in after and "word299" not in after, screen
