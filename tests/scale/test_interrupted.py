"""Real `parley slack` and `parley discord` processes killed with SIGKILL mid-stream: the next
start finishes every interrupted answer where it is shown, keeps the questions, and answers
Slack's redelivery."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.replies import INTERRUPTED_MARK
from bot.store.factory import create_store
from bot.types import ConversationKey, Role
from tests.ops.test_serve import free_port, wait_until_ready
from tests.peers.discord_peer import DiscordPeer
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import TEAM, SlackPeer, SlackSender
from tests.support.postgres import postgres_schema

SIGNING_SECRET = "interrupted-test-signing-secret"
CHANNEL, DM = "C0GENERAL", "D0ALICE"
LONG_ANSWER = "word " * 400
"""About 500 chunks: many seconds of streaming, so the kill lands mid-answer."""


@asynccontextmanager
async def database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    async with postgres_schema() as dsn:
        yield dsn


class Parley:
    """`parley slack` (HTTP mode) or `parley discord` as an operator runs it, against the peers."""

    def __init__(self, env: dict[str, str], port: int, door: str = "slack") -> None:
        self.env, self.port, self.door = env, port, door
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", self.door, env=self.env, stderr=asyncio.subprocess.PIPE
        )
        await wait_until_ready(session, f"http://127.0.0.1:{self.port}", self.process)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> str:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(self.process.communicate(), 60)
        return stderr.decode()


async def long_answers() -> OpenAIPeer:
    """A model server whose every answer streams for several seconds."""
    peer = await OpenAIPeer(chunk_delay=0.02).start()
    peer.answer = lambda request: LONG_ANSWER
    return peer


def slack_env(openai_peer: OpenAIPeer, slack: SlackPeer, port: int, data: Path) -> dict[str, str]:
    """What an operator sets for `parley slack` in HTTP mode, against the peers."""
    return {
        **os.environ,
        "OPENAI_BASE_URL": openai_peer.base_url,
        "PARLEY_MODEL": "peer-model",
        "SLACK_BOT_TOKEN": "xoxb-interrupted-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PARLEY_SLACK_API_URL": slack.api_url,
        "PARLEY_SLACK_MODE": "http",
        "PARLEY_HTTP_PORT": str(port),
        "PARLEY_DATA_DIR": str(data),
    }


def mention(text: str, ts: str) -> dict[str, str]:
    return {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@U0PARLEY> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "team": TEAM,
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_answers_cut_by_a_kill_are_finished_at_the_next_start(
    kind: str, tmp_path: Path
) -> None:
    openai_peer = await long_answers()
    slack = SlackPeer()
    await slack.start()
    port = free_port()
    async with database(kind, tmp_path) as url, aiohttp.ClientSession() as session:
        env = {
            **slack_env(openai_peer, slack, port, tmp_path),
            "PARLEY_SLACK_EDIT_INTERVAL": "0.2",
            # The assistant view: a top-level DM updates a placeholder (the other sink).
            "PARLEY_SLACK_SURFACE": "assistant",
            "PARLEY_DATABASE_URL": url,
        }
        parley = Parley(env, port)
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
        try:
            await parley.start(session)
            # A channel mention streams in its thread; a top-level DM updates a placeholder.
            asked = mention("tell me everything", "1600000001.000200")
            dm = {
                "type": "message",
                "channel_type": "im",
                "user": "U0ALICE",
                "text": "and in private?",
                "ts": "1600000002.000200",
                "channel": DM,
                "team": TEAM,
            }
            await sender.event(asked, event_id="EvMention")
            await sender.event(dm, event_id="EvDm")
            stream = lambda: slack.thread(CHANNEL, asked["ts"])  # noqa: E731
            private = lambda: slack.thread(DM, None)  # noqa: E731
            await slack.wait_for(
                lambda: (
                    stream()
                    and "word word" in stream()[0].text
                    and private()
                    and "word word" in private()[0].text
                ),
                within=30,
            )
            await asyncio.sleep(0.5)  # a few more pieces shown (and recorded)
            await parley.kill()
            (streamed,), (updated,) = stream(), private()
            assert streamed.streaming, "the kill left the stream open"
            assert not updated.text.endswith(INTERRUPTED_MARK)

            await parley.start(session)
            await slack.wait_for(
                lambda: not streamed.streaming and updated.text.endswith(INTERRUPTED_MARK),
                within=30,
            )
            assert streamed.text.startswith("word word")
            assert streamed.text.endswith(INTERRUPTED_MARK)
            assert updated.text.startswith("word word")

            # Slack redelivers the DM (its ack was lost with the process): it is answered anew.
            answers_before = len(openai_peer.requests)
            openai_peer.answer = lambda request: "a short answer this time"
            await sender.event(dm, event_id="EvDm", retry_num=1)
            await slack.wait_for(
                lambda: any(m.text == "a short answer this time" for m in private()), within=30
            )
            assert len(openai_peer.requests) == answers_before + 1
            assert "Traceback" not in await parley.stop()
            assert parley.process is not None and parley.process.returncode == 0
        finally:
            if parley.process is not None and parley.process.returncode is None:
                await parley.kill()
            await slack.stop()
            await openai_peer.stop()

        store = create_store(url)
        await store.open()
        try:
            thread = ConversationKey("slack", TEAM, CHANNEL, asked["ts"])
            kept = await store.load(thread, 100_000)
            assert [m.role for m in kept] == [Role.USER, Role.ASSISTANT]
            assert kept[0].content == "tell me everything", "the question stayed in the context"
            assert kept[1].content.startswith("word word")
            private_talk = await store.load(ConversationKey("slack", "dm", DM), 100_000)
            assert private_talk[0].content == "and in private?"
            assert private_talk[-1].content == "a short answer this time"
        finally:
            await store.close()


async def test_answers_still_running_past_the_grace_period_are_marked_before_exit(
    tmp_path: Path,
) -> None:
    openai_peer = await long_answers()
    slack = SlackPeer()
    await slack.start()
    port = free_port()
    env = {**slack_env(openai_peer, slack, port, tmp_path), "PARLEY_SHUTDOWN_GRACE_SECONDS": "0.5"}
    parley = Parley(env, port)
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
        try:
            await parley.start(session)
            asked = mention("a long one", "1600000003.000200")
            await sender.event(asked, event_id="EvLong")
            stream = lambda: slack.thread(CHANNEL, asked["ts"])  # noqa: E731
            await slack.wait_for(lambda: stream() and "word word" in stream()[0].text, within=30)
            logs = await parley.stop()
        finally:
            if parley.process is not None and parley.process.returncode is None:
                await parley.kill()
            await slack.stop()
            await openai_peer.stop()
    assert parley.process is not None and parley.process.returncode == 0, logs
    (streamed,) = stream()
    assert not streamed.streaming
    assert streamed.text.startswith("word word") and streamed.text.endswith(INTERRUPTED_MARK)
    assert "Traceback" not in logs


async def test_discord_answers_cut_by_a_kill_are_finished_at_the_next_start(
    tmp_path: Path,
) -> None:
    openai_peer = await long_answers()
    discord = DiscordPeer()
    general = discord.add_channel("general")
    other = discord.add_channel("other")  # a conversation of its own: both answers run at once
    alice = discord.add_member("Alice")
    await discord.start()
    port = free_port()
    env = {
        **os.environ,
        "OPENAI_BASE_URL": openai_peer.base_url,
        "PARLEY_MODEL": "peer-model",
        "DISCORD_TOKEN": discord.token,
        "PARLEY_DISCORD_API_URL": discord.api_url,
        "PARLEY_DISCORD_GATEWAY_URL": discord.gateway_url,
        "PARLEY_DISCORD_EDIT_INTERVAL": "0.2",
        "PARLEY_HTTP_PORT": str(port),
        "PARLEY_DATA_DIR": str(tmp_path),
    }
    parley = Parley(env, port, door="discord")
    async with aiohttp.ClientSession() as session:
        try:
            await parley.start(session)
            await discord.post_message(
                general, alice, f"<@{discord.bot.id}> tell me everything", mentions=(discord.bot,)
            )
            token = await discord.invoke_command(other, alice, "ask", {"prompt": "and you?"})
            reply = lambda: discord.bot_messages(general)  # noqa: E731
            asked = lambda: discord.interaction_responses.get(token, {}).get("content", "")  # noqa: E731
            await discord.wait_for(
                lambda: reply() and "word word" in reply()[0]["content"] and "word" in asked(),
                within=30,
            )
            await asyncio.sleep(0.5)  # a few more pieces shown (and recorded)
            await parley.kill()
            assert not reply()[0]["content"].endswith(INTERRUPTED_MARK)

            await parley.start(session)
            await discord.wait_for(
                lambda: (
                    reply()[0]["content"].endswith(INTERRUPTED_MARK)
                    and asked().endswith(INTERRUPTED_MARK)
                ),
                within=30,
            )
            assert reply()[0]["content"].startswith("word word")
            assert asked().startswith("word")
            assert "Traceback" not in await parley.stop()
        finally:
            if parley.process is not None and parley.process.returncode is None:
                await parley.kill()
            await discord.close()
            await openai_peer.stop()
