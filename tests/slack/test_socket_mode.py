"""Socket Mode: the same app, reached over Slack's websocket instead of the Events API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from adapters.slack.serve import serve
from bot.wiring import open_runtime
from tests.peers.slack_peer import TEAM, SlackPeer
from tests.slack.harness import ALICE, CHANNEL
from tests.support.backends import ScriptedBackend
from tests.support.settings import make_settings


async def test_a_mention_over_socket_mode_is_acked_and_answered(tmp_path: Path) -> None:
    peer = SlackPeer()
    await peer.start()
    settings = make_settings(
        data_dir=tmp_path,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_api_url=peer.api_url,
    )
    try:
        async with open_runtime(settings, backend=ScriptedBackend()) as runtime:
            serving = asyncio.create_task(serve(runtime))
            await peer.wait_for(lambda: peer.socket_connected)
            event = {
                "type": "app_mention",
                "user": ALICE,
                "text": "<@U0PARLEY> over the socket",
                "ts": "1600000001.000200",
                "channel": CHANNEL,
            }
            envelope_id = await peer.push(
                {
                    "type": "event_callback",
                    "team_id": TEAM,
                    "event_id": "EvSOCKET",
                    "event_time": int(time.time()),
                    "event": event,
                }
            )
            await peer.wait_for(lambda: peer.called("chat.stopStream"))
            assert any(ack.get("envelope_id") == envelope_id for ack in peer.socket_acks)
            (answer,) = peer.thread(CHANNEL, event["ts"])
            assert answer.text == "echo: over the socket"
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    finally:
        await peer.stop()
