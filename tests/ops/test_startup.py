"""Start-up problems an operator can fix are one line naming the setting, and exit 2."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.peers.discord_peer import DiscordPeer
from tests.peers.slack_peer import SlackPeer

NO_MODEL_NEEDED = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "PARLEY_MODEL": "any"}


async def start_up_error(tmp_path: Path, command: str, env: dict[str, str]) -> str:
    """Run `parley <command>`, expect exit 2 without a traceback; return its one error line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        env={**os.environ, "PARLEY_DATA_DIR": str(tmp_path), **NO_MODEL_NEEDED, **env},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    output = stderr.decode()
    errors = [line for line in output.splitlines() if line.startswith("parley:")]
    assert process.returncode == 2 and "Traceback" not in output, output
    assert len(errors) == 1, output
    return errors[0]


async def test_a_taken_http_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_APP_TOKEN": "xapp-x",
            "PARLEY_HTTP_PORT": str(port),
        }
        error = await start_up_error(tmp_path, "serve", env)
    assert "PARLEY_HTTP_PORT" in error and str(port) in error


async def test_a_slack_token_refused_at_start_up_is_one_line(tmp_path):
    slack = SlackPeer(rejects_tokens=True)
    await slack.start()
    try:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-revoked",
            "SLACK_APP_TOKEN": "xapp-x",
            "PARLEY_SLACK_API_URL": slack.api_url,
            "PARLEY_HTTP_PORT": "0",
        }
        error = await start_up_error(tmp_path, "slack", env)
    finally:
        await slack.stop()
    assert "invalid_auth" in error and "SLACK_BOT_TOKEN" in error


@pytest.mark.parametrize("command", ["discord", "serve"])
async def test_a_discord_token_refused_at_start_up_is_one_line(tmp_path, command):
    discord = DiscordPeer()
    discord.rejects_token = True
    await discord.start()
    try:
        env = {
            "DISCORD_TOKEN": discord.token,
            "PARLEY_DISCORD_API_URL": discord.api_url,
            "PARLEY_DISCORD_GATEWAY_URL": discord.gateway_url,
            "PARLEY_HTTP_PORT": "0",
        }
        error = await start_up_error(tmp_path, command, env)
    finally:
        await discord.close()
    assert "Discord rejected DISCORD_TOKEN" in error


async def test_serve_with_slack_half_configured_says_what_parley_slack_says(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-only", "PARLEY_HTTP_PORT": "0"}
    serve_error = await start_up_error(tmp_path, "serve", env)
    assert serve_error == await start_up_error(tmp_path, "slack", env)
    assert "SLACK_SIGNING_SECRET" in serve_error and "ExceptionGroup" not in serve_error
