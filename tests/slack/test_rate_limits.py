"""Slack's rate limits and refusals never leave a broken message, nor one marked delivered."""

from __future__ import annotations

from pathlib import Path

from adapters.slack.sink import THINKING, ResponseUrlSink
from bot.replies import INTERRUPTED_MARK
from bot.types import ConversationKey
from tests.slack.harness import CHANNEL, Slack, running_slack
from tests.support.backends import ScriptedBackend

ANSWER = "A considered answer, in several pieces."


def conversation(thread_ts: str) -> ConversationKey:
    return ConversationKey("slack", "T0TEAM", CHANNEL, thread_ts)


async def answered(slack: Slack, thread_ts: str) -> None:
    """Until the answer's message exists and no turn is in flight any more."""
    await slack.peer.wait_for(lambda: slack.peer.thread(CHANNEL, thread_ts))
    await slack.peer.wait_for(lambda: slack.runtime.dialogue.in_flight == 0, within=30)


async def test_a_rate_limited_final_update_still_lands(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda messages: ANSWER, chunks=4, duration=0.4)
    async with running_slack(tmp_path, backend, slack_streaming=False) as slack:
        slack.peer.rate_limited["chat.update"] = 3
        mention = slack.mention("take your time")
        await slack.sender.event(mention)
        await answered(slack, mention["ts"])
        (answer,) = slack.peer.thread(CHANNEL, mention["ts"])
        assert answer.text == ANSWER, "not left at the placeholder or an interim text"
        assert THINKING not in answer.text
        assert len(slack.peer.called("chat.update")) > 3, "refused updates were tried again"
        stored = await slack.runtime.store.load(conversation(mention["ts"]), 1000)
        assert [m.content for m in stored] == ["take your time", ANSWER]


async def test_a_rate_limited_stream_stop_still_stops_the_stream(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda messages: ANSWER, chunks=4, duration=0.4)
    async with running_slack(tmp_path, backend) as slack:
        slack.peer.rate_limited["chat.stopStream"] = 2
        mention = slack.mention("stream it")
        await slack.sender.event(mention)
        await answered(slack, mention["ts"])
        (answer,) = slack.peer.thread(CHANNEL, mention["ts"])
        assert not answer.streaming
        assert answer.text == ANSWER
        assert len(slack.peer.called("chat.stopStream")) == 3


async def test_an_answer_that_cannot_be_shown_is_not_marked_delivered(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda messages: ANSWER, chunks=4, duration=0.6)
    async with running_slack(tmp_path, backend, slack_streaming=False) as slack:
        mention = slack.mention("where did it go")
        await slack.sender.event(mention, event_id="EvGone")
        await slack.peer.wait_for(lambda: slack.peer.thread(CHANNEL, mention["ts"]))
        (placeholder,) = slack.peer.thread(CHANNEL, mention["ts"])
        del slack.peer.messages[(placeholder.channel, placeholder.ts)]  # deleted by someone
        await slack.peer.wait_for(lambda: slack.runtime.dialogue.in_flight == 0, within=30)
        key = conversation(mention["ts"])
        assert [m.content for m in await slack.runtime.store.load(key, 1000)] == [
            "where did it go"
        ], "the question is kept, no answer is stored as given"

        await slack.sender.event(mention, event_id="EvGone", retry_num=1)
        await slack.peer.wait_for(
            lambda: any(m.text == ANSWER for m in slack.peer.thread(CHANNEL, mention["ts"])),
            within=30,
        )
        assert len(backend.calls) == 2, "Slack's redelivery was answered, not dropped"


async def test_an_answer_via_response_url_is_finished_from_its_receipt(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        url = slack.peer.response_url("private-ask")
        sink = ResponseUrlSink(url, "ephemeral", header="asked: hi", edit_interval=1)
        receipt = sink.receipt()
        assert receipt is not None
        await slack.door.repair(receipt, INTERRUPTED_MARK)
        ((name, body),) = slack.peer.responses
        assert name == "private-ask"
        assert body["response_type"] == "ephemeral"
        assert body["text"].endswith(INTERRUPTED_MARK)
