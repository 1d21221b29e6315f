"""`parley serve` as operators run it: Discord and Slack in one process, health, metrics, logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.peers.discord_peer import DiscordPeer, PeerUser
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import BOT_USER, TEAM, SlackPeer, SlackSender

SLACK_TOKEN = "xoxb-serve-test-secret-1234"
SIGNING_SECRET = "serve-test-signing-secret-5678"
OPENAI_KEY = "sk-serve-test-secret-9012"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def wait_until_ready(session: aiohttp.ClientSession, base: str, process) -> None:
    async with asyncio.timeout(60):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"parley serve exited with {process.returncode}")
            try:
                if (await get(session, f"{base}/readyz"))[0] == 200:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


def metric(page: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in page.splitlines():
        if line.startswith(f"{name}{{") and line.split("}")[0].endswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def turns_counted(
    session: aiohttp.ClientSession, base: str, platforms: tuple[str, ...]
) -> str:
    """The metrics page once every platform's answered turn is counted and none is in flight.

    Answers show first, the count follows, and the in-flight gauge drops just after the count.
    """
    async with asyncio.timeout(20):
        while True:
            status, page = await get(session, f"{base}/metrics")
            assert status == 200
            counts = [
                metric(page, "parley_turns_total", platform=platform, outcome="complete")
                for platform in platforms
            ]
            if all(count == 1 for count in counts) and "parley_turns_in_flight 0.0" in page:
                return page
            assert all(count <= 1 for count in counts)
            await asyncio.sleep(0.1)


@dataclass
class Served:
    """`parley serve` running against the peers: Discord (#general, Alice) and Slack HTTP mode."""

    process: asyncio.subprocess.Process
    base: str
    session: aiohttp.ClientSession
    discord: DiscordPeer
    general: int
    alice: PeerUser
    slack: SlackPeer
    stderr: str = ""

    async def ask_discord(self, text: str) -> None:
        await self.discord.post_message(
            self.general,
            self.alice,
            f"<@{self.discord.bot.id}> {text}",
            mentions=(self.discord.bot,),
        )
        await self.discord.wait_for(
            lambda: any(text in m["content"] for m in self.discord.bot_messages(self.general)),
            within=20,
        )

    async def ask_slack(self, text: str, ts: str) -> None:
        sender = SlackSender(f"{self.base}/slack/events", SIGNING_SECRET, self.session)
        mention = {
            "type": "app_mention",
            "user": "U0ALICE",
            "text": f"<@{BOT_USER}> {text}",
            "ts": ts,
            "channel": "C0GENERAL",
            "team": TEAM,
        }
        status, _ = await sender.event(mention)
        assert status == 200
        await self.slack.wait_for(
            lambda: any(text in m.text for m in self.slack.messages.values()), within=20
        )


@asynccontextmanager
async def serving(tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    """Start the peers and `parley serve` (extra env on top), ready; SIGTERM it at the end."""
    openai_peer = await OpenAIPeer().start()
    discord = DiscordPeer()
    general = discord.add_channel("general")
    alice = discord.add_member("Alice")
    await discord.start()
    slack = SlackPeer()
    await slack.start()
    port = free_port()
    environment = {
        **os.environ,
        "OPENAI_BASE_URL": openai_peer.base_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "PARLEY_MODEL": "peer-model",
        "DISCORD_TOKEN": discord.token,
        "PARLEY_DISCORD_API_URL": discord.api_url,
        "PARLEY_DISCORD_GATEWAY_URL": discord.gateway_url,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PARLEY_SLACK_API_URL": slack.api_url,
        "PARLEY_SLACK_MODE": "http",
        "PARLEY_HTTP_PORT": str(port),
        "PARLEY_DATA_DIR": str(tmp_path),
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", env=environment, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            served = Served(process, base, session, discord, general, alice, slack)
            await wait_until_ready(session, base, process)
            yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        served.stderr = stderr.decode()
        await discord.close()
        await slack.stop()
        await openai_peer.stop()
    assert process.returncode == 0, served.stderr


async def test_serve_answers_discord_and_slack_in_one_process(tmp_path: Path):
    async with serving(tmp_path, PARLEY_LOG_FORMAT="json", PARLEY_LOG_LEVEL="DEBUG") as served:
        session, base = served.session, served.base
        assert await get(session, f"{base}/healthz") == (200, '{"status": "ok"}')
        await served.ask_discord("hello from discord")
        await served.ask_slack("hello from slack", "1700000000.000100")
        page = await turns_counted(session, base, ("discord", "slack"))
        assert "parley_time_to_first_token_seconds_count" in page
    logs = served.stderr
    for secret in (SLACK_TOKEN, SIGNING_SECRET, OPENAI_KEY, served.discord.token):
        assert secret not in logs
    records = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r.get("conversation", "").startswith("discord:") for r in records)


async def readiness(session: aiohttp.ClientSession, base: str) -> dict:
    async with session.get(f"{base}/readyz") as response:
        return await response.json()


async def test_a_door_that_dies_restarts_while_the_other_keeps_serving(tmp_path: Path):
    async with serving(tmp_path) as served:
        # 4013 (invalid intents): discord.py does not reconnect, connect() raises.
        await served.discord.close_sessions(4013)
        restarting = "discord restarting after error: ConnectionClosed"
        for _ in range(400):
            if restarting in (await readiness(served.session, served.base))["problems"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("/readyz never reported the restart")
        await served.ask_slack("slack carries on", "1700000000.000200")
        await wait_until_ready(served.session, served.base, served.process)
        await served.ask_discord("back again")
