"""The acceptance counts: one post (or stream) per answer plus throttled updates, and the store as
the memory: a thread is read once, when Parley is first called into it, and never again."""

from __future__ import annotations

from pathlib import Path

from tests.slack.harness import CHANNEL, Slack, running_slack
from tests.support.backends import ScriptedBackend

HISTORY_METHODS = ("conversations.replies", "conversations.history")


def _history_reads(slack: Slack) -> int:
    return sum(len(slack.peer.called(method)) for method in HISTORY_METHODS)


async def test_three_turns_in_a_thread_cost_one_stream_each_and_no_history(tmp_path: Path) -> None:
    async with running_slack(tmp_path, ScriptedBackend(chunks=4, duration=0.4)) as slack:
        root = slack.mention("turn one")
        await slack.sender.event(root)
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 1)
        for turn, text in enumerate(("turn two", "turn three"), start=2):
            reply = slack.reply(text, root["ts"])
            await slack.sender.event(reply)
            await slack.peer.wait_for(
                lambda turn=turn: len(slack.peer.called("chat.stopStream")) == turn
            )
        assert len(slack.peer.called("chat.startStream")) == 3
        assert not slack.peer.called("chat.postMessage")
        assert len(slack.peer.called("chat.appendStream")) <= 3 * 2
        assert _history_reads(slack) == 0
        assert [m.content for m in slack.backend.calls[-1][1:]] == [
            "turn one",
            "echo: turn one",
            "turn two",
            "echo: turn two",
            "turn three",
        ]


async def test_joining_a_busy_thread_reads_it_once(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        root_ts = slack.ts()
        slack.peer.threads[(CHANNEL, root_ts)] = [
            {"user": "U0BOB", "text": "the deploy failed at step 3", "ts": root_ts},
            {"user": "U0CAROL", "text": "logs say disk full", "ts": slack.ts()},
        ]
        mention = slack.mention("summarize this thread", thread_ts=root_ts)
        slack.peer.threads[(CHANNEL, root_ts)].append(
            {"user": "U0ALICE", "text": mention["text"], "ts": mention["ts"]}
        )
        await slack.sender.event(mention)
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        assert _history_reads(slack) == 1
        seen = [m.content for m in slack.backend.calls[0][1:]]
        assert seen == [
            "the deploy failed at step 3",
            "logs say disk full",
            "summarize this thread",
        ]

        again = slack.mention("and the fix?", thread_ts=root_ts)
        await slack.sender.event(again)
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 2)
        assert _history_reads(slack) == 1
        assert [m.content for m in slack.backend.calls[1][1:]][:2] == seen[:2]
