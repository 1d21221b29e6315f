"""A mention, a DM and /ask reach the model and come back in the right place."""

from __future__ import annotations

import time
from pathlib import Path

from tests.slack.harness import ALICE, CHANNEL, DM, running_slack
from tests.support.backends import ScriptedBackend


async def test_mention_is_answered_in_its_thread_without_the_mention(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        event = slack.mention("what is 2+2?")
        status, _ = await slack.sender.event(event)
        assert status == 200
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        assert slack.backend.calls[-1][-1].content == "what is 2+2?"
        (answer,) = slack.peer.thread(CHANNEL, event["ts"])
        assert answer.text == "echo: what is 2+2?"
        start = slack.peer.called("chat.startStream")[0].params
        assert start["recipient_user_id"] == ALICE
        assert start["recipient_team_id"] == "T0TEAM"


async def test_an_answers_web_api_calls_share_one_connection(tmp_path: Path) -> None:
    """One HTTP session for the door: slack_sdk alone opens a connection per call."""
    async with running_slack(tmp_path, ScriptedBackend(chunks=5, duration=1.0)) as slack:
        await slack.sender.event(slack.mention("stream to me"))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
    streamed = [c for c in slack.peer.calls if c.method.startswith("chat.")]
    assert len(streamed) >= 3  # start, appends, stop
    assert len({call.connection for call in streamed}) == 1


async def test_dm_is_answered_in_the_dm(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_surface="assistant") as slack:
        await slack.sender.event(slack.message("hello there"))
        await slack.peer.wait_for(
            lambda: any(m.text == "echo: hello there" for m in slack.peer.thread(DM, None))
        )
        assert not slack.peer.called("chat.startStream")
        assert len(slack.peer.called("chat.postMessage")) == 1


async def test_ask_is_acknowledged_at_once_then_answered_under_the_visible_prompt(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path, ScriptedBackend(duration=1.5)) as slack:
        started = time.monotonic()
        status, body = await slack.sender.command(
            "/ask",
            "why is the sky blue?",
            user=ALICE,
            channel=CHANNEL,
            response_url=slack.peer.response_url(),
        )
        assert status == 200 and body == ""
        assert time.monotonic() - started < 3.0
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        (prompt,) = slack.peer.thread(CHANNEL, None)
        assert prompt.text == f"<@{ALICE}> asked: why is the sky blue?"
        (answer,) = slack.peer.thread(CHANNEL, prompt.ts)
        assert answer.text == "echo: why is the sky blue?"


async def test_ask_in_a_channel_parley_is_not_in_answers_through_response_url(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path) as slack:
        slack.peer.not_in_channel.add(CHANNEL)
        await slack.sender.command(
            "/ask", "hi", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url("r1")
        )
        await slack.peer.wait_for(lambda: slack.peer.responses)
        ((name, body),) = slack.peer.responses
        assert name == "r1" and body["response_type"] == "in_channel"
        assert body["text"] == f"<@{ALICE}> asked: hi\necho: hi"


async def test_ephemeral_ask_answers_only_the_asker(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_command_visibility="ephemeral") as slack:
        await slack.sender.command(
            "/ask", "secret?", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        await slack.peer.wait_for(lambda: slack.peer.responses)
        assert slack.peer.responses[0][1] == {"text": "echo: secret?", "response_type": "ephemeral"}
        assert not slack.peer.called("chat.postMessage")


async def test_parley_command_answers_ephemerally(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        status, _ = await slack.sender.command(
            "/parley", "help", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        assert status == 200
        await slack.peer.wait_for(lambda: slack.peer.responses)
        body = slack.peer.responses[0][1]
        assert body["response_type"] == "ephemeral" and "reset" in body["text"]
        assert not slack.backend.calls


async def test_empty_ask_gets_usage_in_the_ack(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        status, body = await slack.sender.command(
            "/ask", "  ", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        assert status == 200 and "Usage: /ask" in body


async def test_ask_outside_the_allowlist_posts_nothing(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_channels=["C0OTHER"]) as slack:
        status, body = await slack.sender.command(
            "/ask", "hi?", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        assert status == 200 and "not enabled here" in body
        assert not slack.peer.called("chat.postMessage")
        assert not slack.backend.calls


async def test_a_reply_while_the_first_answer_streams_is_answered_too(tmp_path: Path) -> None:
    async with running_slack(tmp_path, ScriptedBackend(duration=1.0)) as slack:
        first = slack.mention("first question")
        await slack.sender.event(first)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.startStream"))
        reply = slack.reply("and a follow-up", first["ts"])
        await slack.sender.event(reply)
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 2)
        answers = [m.text for m in slack.peer.thread(CHANNEL, first["ts"])]
        assert answers == ["echo: first question", "echo: and a follow-up"]
