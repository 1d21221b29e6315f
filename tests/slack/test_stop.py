"""A user who stops a stream in Slack stops the generation."""

from __future__ import annotations

from pathlib import Path

from bot.types import ConversationKey
from tests.slack.harness import CHANNEL, running_slack
from tests.support.backends import ScriptedBackend


async def test_stopped_by_user_stops_the_model(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda messages: "word " * 200, chunks=200, duration=30.0)
    async with running_slack(tmp_path, backend) as slack:
        slack.peer.users_stop_streams = True
        event = slack.mention("go on forever")
        await slack.sender.event(event)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.appendStream"))
        # The 30 s answer ends long before its time: the turn was stopped, not finished.
        await slack.peer.wait_for(lambda: slack.runtime.dialogue.in_flight == 0, within=10)
        assert len(slack.peer.called("chat.appendStream")) == 1
        assert not slack.peer.called("chat.stopStream")
        key = ConversationKey("slack", "T0TEAM", CHANNEL, event["ts"])
        stats = await slack.runtime.store.stats(key)
        assert stats.messages == 2
