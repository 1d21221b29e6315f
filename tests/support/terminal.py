"""A real terminal for the console: a tmux pane, read back as the screen shows it."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import time
import uuid

from tests.support.cli import PARLEY

SCREEN_WAIT_SECONDS = 30
WIDTH, HEIGHT = 100, 30


class Terminal:
    """`parley ARGS` in a detached 100x30 tmux session on its own server socket."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.socket = f"parley-test-{uuid.uuid4().hex[:8]}"
        full_env = {
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            # rich believes COLUMNS and LINES over the terminal: give it the pane's real size.
            "COLUMNS": str(WIDTH),
            "LINES": str(HEIGHT),
            **env,
        }
        command = " ".join(
            [
                "env",
                *(f"{name}={shlex.quote(value)}" for name, value in full_env.items()),
                *map(shlex.quote, [*PARLEY, *args]),
            ]
        )
        self.tmux("new-session", "-d", "-s", "parley", "-x", str(WIDTH), "-y", str(HEIGHT))
        # Keep the pane after parley exits, so what it printed last can still be read.
        self.tmux("set-option", "-t", "parley", "remain-on-exit", "on")
        self.tmux("respawn-pane", "-k", "-t", "parley", command)

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

    def close(self) -> None:
        self.tmux("kill-server")
