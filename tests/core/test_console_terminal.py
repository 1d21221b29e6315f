"""The interactive console in a real terminal (tmux): what the screen shows, not the bytes."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import SPECS
from tests.peers.openai_peer import OpenAIPeer
from tests.support.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

LONG_ANSWER = "first-words " + " ".join(f"word{i}" for i in range(300))


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Terminal]:
    peer = await OpenAIPeer(
        answer=lambda request: LONG_ANSWER, chunk_chars=6, chunk_delay=0.05
    ).start()
    env = {"PARLEY_DATA_DIR": str(tmp_path), "OPENAI_BASE_URL": peer.base_url}
    term = Terminal("console", env=env)
    try:
        await term.wait_for("you ›")
        yield term
    finally:
        term.close()
        await peer.stop()


async def test_help_lists_one_command_per_line(terminal: Terminal) -> None:
    term = terminal
    term.type("/help", "Enter")
    screen = await term.wait_for("you ›", count=2)
    lines = [line.rstrip() for line in screen.splitlines()]
    for spec in SPECS.values():
        assert f"{spec.usage}: {spec.summary}" in lines, screen


async def test_ctrl_c_keeps_the_partial_answer_once_then_says_stopped(
    terminal: Terminal,
) -> None:
    term = terminal
    term.type("tell me everything", "Enter")
    await term.wait_for("word14 ")
    term.type("C-c")
    screen = await term.wait_for("you ›", count=2)
    assert screen.count("first-words") == 1, screen
    after = screen.split("first-words", 1)[1]
    assert "(stopped)" in after and "word299" not in after, screen
