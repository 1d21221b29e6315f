"""`parley doctor`: each problem on a line with its fix, and a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import SlackPeer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def doctor(tmp_path: Path, slack: SlackPeer, env: dict[str, str]) -> tuple[int, list[str]]:
    """`parley doctor` with Slack configured against `slack`; its exit code and stdout lines."""
    slack_env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-1",
        "PARLEY_SLACK_API_URL": slack.api_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        env={**os.environ, "PARLEY_DATA_DIR": str(tmp_path), **slack_env, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    return process.returncode, out.decode().splitlines()


async def test_a_bad_slack_token_and_an_unreachable_model_are_both_reported(tmp_path: Path):
    slack = SlackPeer(rejects_tokens=True)
    await slack.start()
    try:
        unreachable = f"http://127.0.0.1:{free_port()}/v1"
        code, lines = await doctor(
            tmp_path,
            slack,
            {"OPENAI_BASE_URL": unreachable, "PARLEY_MODEL": "any", "PARLEY_MAX_RETRIES": "0"},
        )
    finally:
        await slack.stop()
    assert code != 0
    slack = [line for line in lines if line.startswith("FAIL  slack:")]
    model = [line for line in lines if line.startswith("FAIL  model:")]
    assert len(slack) == 1 and "invalid_auth" in slack[0] and "set SLACK_BOT_TOKEN" in slack[0]
    assert len(model) == 1 and "fix OPENAI_BASE_URL or start the model server" in model[0]
    assert any(line.startswith("ok    store:") for line in lines)


async def test_a_healthy_setup_passes(tmp_path: Path):
    openai_peer = await OpenAIPeer().start()
    slack = SlackPeer()
    await slack.start()
    try:
        code, lines = await doctor(tmp_path, slack, {"OPENAI_BASE_URL": openai_peer.base_url})
    finally:
        await slack.stop()
        await openai_peer.stop()
    assert code == 0, lines
    assert all(line.startswith("ok") for line in lines)
    assert any("model peer-model" in line for line in lines)
    # What the backend can do, and the guess it makes about a compatible server's model.
    (model,) = [line for line in lines if line.startswith("ok    model:")]
    assert "(streams, reads images, calls tools, serves reasoning models, switches models)" in model
    assert model.endswith("a guess (8192 tokens): set PARLEY_CONTEXT_WINDOW")
