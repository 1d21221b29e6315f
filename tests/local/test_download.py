"""A hub model that is not on this machine: downloaded once, with one progress bar, then cached."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.peers.hf_hub_peer import HubPeer
from tests.support.cli import run_parley
from tests.support.terminal import Terminal

REPO_ID = "parley-tests/tiny-chat"


@pytest.fixture
async def hub(chat_model_dir: Path) -> AsyncIterator[HubPeer]:
    peer = await HubPeer(REPO_ID, chat_model_dir).start()
    yield peer
    await peer.stop()


def local_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    return {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": REPO_ID,
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_MAX_TOKENS": "4",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }


async def test_the_model_is_downloaded_once_then_loads_from_the_cache(
    tmp_path: Path, hub: HubPeer
) -> None:
    first = await asyncio.to_thread(
        run_parley, "console", env=local_env(tmp_path, hub.endpoint), stdin="/stats\n"
    )
    assert first.returncode == 0, first.stderr
    assert "WARNING" not in first.stderr and "Traceback" not in first.stderr, first.stderr
    assert any(
        request.startswith("GET /parley-tests/tiny-chat/resolve/") for request in hub.requests
    )

    await hub.stop()  # the second run must not need the hub
    second = await asyncio.to_thread(
        run_parley, "console", env=local_env(tmp_path, hub.endpoint), stdin="/stats\n"
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("This conversation:")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
async def test_a_download_in_a_terminal_draws_one_progress_bar(
    tmp_path: Path, hub: HubPeer
) -> None:
    term = Terminal("console", env=local_env(tmp_path, hub.endpoint))
    try:
        screen = await term.wait_for("you ›")
    finally:
        term.close()
    bars = [line for line in screen.splitlines() if re.search(r"[█▏▎▍▌▋▊▉]", line)]
    assert len(bars) == 1, screen
    assert bars[0].startswith("Download complete")
