"""The real bolt app on 127.0.0.1, wired to the real runtime, against the Slack peer."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from adapters.slack.app import EVENTS_PATH, SlackDoor
from bot.llm.openai.settings import OpenAISettings
from bot.wiring import Runtime, open_runtime
from tests.peers.slack_peer import SlackPeer, SlackSender
from tests.support.backends import ScriptedBackend
from tests.support.settings import make_settings

SIGNING_SECRET = "test-signing-secret"
CHANNEL = "C0GENERAL"
DM = "D0ALICE"
ALICE = "U0ALICE"


class SlackEvents:
    """What people do in Slack, as the Events API delivers it: mentions, DMs, thread replies."""

    def __init__(self) -> None:
        self._ts = itertools.count(1)

    def ts(self) -> str:
        """A user message timestamp, distinct from the peer's own."""
        return f"{1_600_000_000 + next(self._ts)}.000200"

    def mention(self, text: str, *, ts: str | None = None, thread_ts: str | None = None) -> dict:
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": ALICE,
            "text": f"<@U0PARLEY> {text}",
            "ts": ts or self.ts(),
            "channel": CHANNEL,
            "team": "T0TEAM",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def message(
        self,
        text: str,
        *,
        channel: str = DM,
        channel_type: str = "im",
        ts: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict:
        event: dict[str, Any] = {
            "type": "message",
            "user": ALICE,
            "text": text,
            "ts": ts or self.ts(),
            "channel": channel,
            "channel_type": channel_type,
            "team": "T0TEAM",
            **extra,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def reply(self, text: str, thread_ts: str) -> dict:
        """A person's reply, without a mention, in a channel thread."""
        return self.message(text, channel=CHANNEL, channel_type="channel", thread_ts=thread_ts)


@dataclass
class Slack(SlackEvents):
    peer: SlackPeer
    sender: SlackSender
    backend: ScriptedBackend | None
    runtime: Runtime
    door: SlackDoor

    def __post_init__(self) -> None:
        super().__init__()


@asynccontextmanager
async def running_slack(
    tmp_path: Path,
    backend: ScriptedBackend | None = None,
    **overrides: Any,
) -> AsyncIterator[Slack]:
    """The app with a scripted backend, or with `openai_base_url` in the overrides the real
    openai client against that server."""
    peer = SlackPeer()
    await peer.start()
    settings = make_settings(
        **{
            "data_dir": tmp_path,
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": peer.api_url,
            "slack_edit_interval": 0.2,
            "shutdown_grace_seconds": 5,
        }
        | overrides
    )
    # With OPENAI_BASE_URL in the overrides the real openai client answers, from that server.
    backend = backend or (None if settings.of(OpenAISettings).base_url else ScriptedBackend())
    try:
        async with open_runtime(settings, backend=backend) as runtime:
            # The Events API on the process's one HTTP server, as HTTP mode serves it.
            door = SlackDoor(runtime)
            door.ready = True  # as serve() marks it once Slack accepted the token
            runtime.ops.mount("POST", EVENTS_PATH, door.handle_http)
            await runtime.ops.start("127.0.0.1", 0)
            async with aiohttp.ClientSession() as session:
                sender = SlackSender(
                    f"http://127.0.0.1:{runtime.ops.port}{EVENTS_PATH}", SIGNING_SECRET, session
                )
                yield Slack(peer, sender, backend, runtime, door)
                await runtime.dialogue.shutdown(5)
                await door.close()
    finally:
        await peer.stop()
