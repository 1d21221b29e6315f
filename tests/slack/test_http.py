"""The Events API endpoint under HTTP mode: quiet refusals, 503 while starting, sturdy listeners."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.slack.app import EVENTS_PATH
from adapters.slack.serve import serve
from bot.wiring import open_runtime
from tests.peers.slack_peer import SlackPeer, SlackSender
from tests.slack.harness import SIGNING_SECRET, running_slack
from tests.support.backends import ScriptedBackend
from tests.support.settings import make_settings


@pytest.mark.parametrize("timestamp", ["not-a-number", "", None])
async def test_a_request_without_a_usable_timestamp_is_a_quiet_401(
    tmp_path: Path, timestamp: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.slack.app")
    async with running_slack(tmp_path) as slack:
        caplog.clear()  # what starting said (an unpriced model, say) is not this request's
        headers = {"Content-Type": "application/json", "X-Slack-Signature": "v0=abc"}
        if timestamp is not None:
            headers["X-Slack-Request-Timestamp"] = timestamp
        async with slack.sender.session.post(
            slack.sender.url, data=json.dumps({"type": "event_callback"}), headers=headers
        ) as response:
            assert response.status == 401
        refusals = [r for r in caplog.records if r.name == "adapters.slack.app"]
    assert [r.levelno for r in refusals] == [logging.DEBUG]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Traceback" not in caplog.text


async def test_malformed_events_never_take_the_app_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_slack(tmp_path) as slack:
        broken: list[dict[str, Any]] = [
            {},
            {"type": "app_mention"},
            {"type": "message", "text": ["not", "text"], "user": 7, "channel": None},
            {"type": "app_mention", "user": "U0ALICE", "text": None, "ts": "x", "channel": {}},
        ]
        for event in broken:
            status, _ = await slack.sender.event(event)
            assert status in (200, 404)  # 404: bolt has no listener for an event without a type
        await slack.sender.event(slack.mention("still there?"))
        await slack.peer.wait_for(
            lambda: any("still there?" in m.text for m in slack.peer.messages.values())
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    (skipped,) = [r for r in caplog.records if "skipped a malformed" in r.getMessage()]
    assert "message event" in skipped.getMessage() and "not" not in skipped.getMessage()


class SlowAuthPeer(SlackPeer):
    """A Slack peer whose auth.test waits until the test lets it answer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.auth_answers = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "auth.test":
            await self.auth_answers.wait()
        return await super()._api(request)


async def test_events_while_the_token_is_checked_get_503_then_are_answered(
    tmp_path: Path,
) -> None:
    peer = SlowAuthPeer()
    await peer.start()
    settings = make_settings(
        data_dir=tmp_path,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=peer.api_url,
        slack_mode="http",
    )
    try:
        async with open_runtime(settings, backend=ScriptedBackend()) as runtime:
            await runtime.ops.start("127.0.0.1", 0)  # the port opens first, as under `serve`
            door = asyncio.create_task(serve(runtime))
            async with aiohttp.ClientSession() as session:
                base = f"http://127.0.0.1:{runtime.ops.port}"
                sender = SlackSender(f"{base}{EVENTS_PATH}", SIGNING_SECRET, session)
                mention = {
                    "type": "app_mention",
                    "user": "U0ALICE",
                    "text": "<@U0PARLEY> early bird",
                    "ts": f"{time.time():.6f}",
                    "channel": "C0GENERAL",
                    "team": "T0TEAM",
                }
                async with session.post(f"{base}{EVENTS_PATH}", data="{}") as unsigned:
                    assert unsigned.status == 401
                async with session.post(
                    f"{base}{EVENTS_PATH}",
                    data="x",
                    headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=0"},
                ) as stale:
                    assert stale.status == 401
                status, _ = await sender.event(mention)
                assert status == 503
                async with session.get(f"{base}/readyz") as ready:
                    assert "slack not connected" in (await ready.json())["problems"]
                peer.auth_answers.set()
                for _ in range(200):  # Slack's redeliveries, closer together
                    status, _ = await sender.event(mention)
                    if status != 503:
                        break
                    await asyncio.sleep(0.05)
                assert status == 200
                await peer.wait_for(
                    lambda: any("early bird" in m.text for m in peer.messages.values())
                )
            door.cancel()
            with pytest.raises(asyncio.CancelledError):
                await door
            await runtime.dialogue.shutdown(5)
    finally:
        peer.auth_answers.set()
        await peer.stop()


async def test_a_first_burst_of_events_is_authorized_with_one_auth_test(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        events = [slack.message(f"question {n}", ts=slack.ts()) for n in range(8)]
        statuses = await asyncio.gather(*(slack.sender.event(event) for event in events))
        assert [status for status, _ in statuses] == [200] * 8
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 8)
        # Bolt asks auth.test until its first answer is back; the others waited for that one.
        assert len(slack.peer.called("auth.test")) == 1
