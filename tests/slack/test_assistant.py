"""The legacy assistant view (PARLEY_SLACK_SURFACE=assistant): suggested prompts when a thread
opens, a thinking status at work, what the user views remembered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.slack.harness import ALICE, DM, running_slack


async def test_assistant_thread_gets_prompts_then_a_status_and_a_streamed_answer(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path, slack_surface="assistant") as slack:
        thread_ts = slack.ts()
        started = {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": ALICE,
                "channel_id": DM,
                "thread_ts": thread_ts,
                "context": {},
            },
            "event_ts": thread_ts,
        }
        status, _ = await slack.sender.event(started)
        assert status == 200
        await slack.peer.wait_for(
            lambda: slack.peer.called("assistant.threads.setSuggestedPrompts")
        )
        prompts = slack.peer.called("assistant.threads.setSuggestedPrompts")[0].params
        assert prompts["channel_id"] == DM and prompts["thread_ts"] == thread_ts
        assert len(prompts["prompts"]) == 3

        await slack.sender.event(slack.message("draft a haiku", thread_ts=thread_ts))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        (status_call,) = slack.peer.called("assistant.threads.setStatus")
        assert status_call.params["thread_ts"] == thread_ts and status_call.params["status"]
        methods = [call.method for call in slack.peer.calls]
        assert methods.index("assistant.threads.setStatus") < methods.index("chat.startStream")
        (answer,) = slack.peer.thread(DM, thread_ts)
        assert answer.text == "echo: draft a haiku"
        assert not slack.peer.called("conversations.replies")


async def test_context_changes_are_remembered_without_reading_the_thread(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_surface="assistant") as slack:
        changed = {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {
                "user_id": ALICE,
                "channel_id": DM,
                "thread_ts": "1.0",
                "context": {"channel_id": "C0OTHER"},
            },
            "event_ts": "1.1",
        }
        status, _ = await slack.sender.event(changed)
        assert status == 200
        await slack.peer.wait_for(lambda: slack.peer.called("auth.test"))
        await asyncio.sleep(0.3)
        assert [call.method for call in slack.peer.calls] == ["auth.test"]
        assert await slack.runtime.store.recall_viewing(ALICE) == '{"channel_id": "C0OTHER"}'
