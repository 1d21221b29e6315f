"""Slack's delivery quirks: signatures, retries, twin events, bots and edits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.slack.harness import CHANNEL, DM, Slack, running_slack

ANSWER_METHODS = ("chat.postMessage", "chat.startStream", "chat.update", "chat.appendStream")


def _answers(slack: Slack) -> int:
    return sum(
        len(slack.peer.called(method)) for method in ("chat.postMessage", "chat.startStream")
    )


async def _settle(slack: Slack) -> None:
    """Let listeners that would answer do so (nothing to poll for when nothing should happen)."""
    await asyncio.sleep(0.3)
    await slack.peer.wait_for(lambda: slack.runtime.dialogue.in_flight == 0)


async def test_forged_signature_is_refused_and_nothing_happens(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        status, _ = await slack.sender.event(slack.mention("hi"), secret="not-the-secret")
        assert status == 401
        await _settle(slack)
        assert not slack.peer.calls and not slack.backend.calls


async def test_stale_request_is_refused(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        status, _ = await slack.sender.event(slack.mention("hi"), age=6 * 60)
        assert status == 401
        await _settle(slack)
        assert not slack.peer.calls and not slack.backend.calls


async def test_a_retried_event_is_answered_once(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        event = slack.mention("once please")
        first, _ = await slack.sender.event(event, event_id="Ev1")
        again, _ = await slack.sender.event(event, event_id="Ev1", retry_num=1)
        assert (first, again) == (200, 200)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        await _settle(slack)
        assert _answers(slack) == 1 and len(slack.backend.calls) == 1


async def test_a_mention_and_its_message_twin_are_answered_once(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        root = slack.mention("start")
        await slack.sender.event(root)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        await _settle(slack)
        reply = slack.mention("and again", thread_ts=root["ts"])
        twin = slack.message(
            reply["text"],
            channel=CHANNEL,
            channel_type="channel",
            ts=reply["ts"],
            thread_ts=root["ts"],
            client_msg_id="cm-1",
        )
        await asyncio.gather(slack.sender.event(reply), slack.sender.event(twin))
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 2)
        await _settle(slack)
        assert _answers(slack) == 2 and len(slack.backend.calls) == 2


async def test_bots_parley_itself_and_edits_are_ignored(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        for event in (
            slack.message("beep", bot_id="B0OTHER"),
            slack.message("beep", subtype="bot_message", bot_id="B0OTHER"),
            slack.message("me", user="U0PARLEY", bot_id="B0PARLEY"),
            slack.message("edit", subtype="message_changed"),
            slack.message("gone", subtype="message_deleted"),
            slack.message("top-level chatter", channel=CHANNEL, channel_type="channel"),
        ):
            status, _ = await slack.sender.event(event)
            assert status == 200
        await _settle(slack)
        assert _answers(slack) == 0 and not slack.backend.calls


async def test_thread_replies_are_followed_only_where_parley_answered(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        stranger = slack.reply("hm", "1.0")
        await slack.sender.event(stranger)
        await _settle(slack)
        assert not slack.backend.calls
    async with running_slack(tmp_path / "off", slack_follow_threads=False) as slack:
        root = slack.mention("start")
        await slack.sender.event(root)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        follow = slack.reply("more", root["ts"])
        await slack.sender.event(follow)
        await _settle(slack)
        assert len(slack.backend.calls) == 1


async def test_dm_top_level_is_one_running_conversation(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_surface="assistant") as slack:
        await slack.sender.event(slack.message("first"))
        await slack.peer.wait_for(lambda: len(slack.peer.thread(DM, None)) == 1)
        await _settle(slack)
    async with running_slack(tmp_path, slack_surface="assistant") as slack:
        await slack.sender.event(slack.message("second", ts="1650000000.000200"))
        await slack.peer.wait_for(lambda: slack.backend.calls)
        assert [m.content for m in slack.backend.calls[0][1:]] == ["first", "echo: first", "second"]
