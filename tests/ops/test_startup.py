"""Start-up problems an operator can fix are one line naming the setting, and exit 2."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

from tests.peers.slack_peer import SlackPeer


def test_a_taken_http_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "PARLEY_DATA_DIR": str(tmp_path),
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "PARLEY_MODEL": "any",
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_APP_TOKEN": "xapp-x",
            "PARLEY_HTTP_PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "-m", "bot", "serve"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PARLEY_HTTP_PORT" in lines[0] and str(port) in lines[0]


async def test_a_slack_token_refused_at_start_up_is_one_line(tmp_path):
    slack = SlackPeer(rejects_tokens=True)
    await slack.start()
    try:
        env = {
            **os.environ,
            "PARLEY_DATA_DIR": str(tmp_path),
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "PARLEY_MODEL": "any",
            "SLACK_BOT_TOKEN": "xoxb-revoked",
            "SLACK_APP_TOKEN": "xapp-x",
            "PARLEY_SLACK_API_URL": slack.api_url,
            "PARLEY_HTTP_PORT": "0",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "slack",
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await slack.stop()
    output = stderr.decode()
    errors = [line for line in output.splitlines() if line.startswith("parley:")]
    assert process.returncode == 2 and "Traceback" not in output
    assert len(errors) == 1 and "invalid_auth" in errors[0] and "SLACK_BOT_TOKEN" in errors[0]
