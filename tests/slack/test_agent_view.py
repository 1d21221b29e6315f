"""The agent messaging experience (the default): the Messages tab, one thread per top-level DM,
a status and a title, and what the user views remembered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.types import ConversationKey
from tests.slack.harness import ALICE, DM, running_slack


async def test_opening_the_messages_tab_suggests_prompts(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        opened = {"type": "app_home_opened", "user": ALICE, "channel": DM, "tab": "home"}
        await slack.sender.event(opened)
        await slack.sender.event(opened | {"tab": "messages"})
        await slack.peer.wait_for(
            lambda: slack.peer.called("assistant.threads.setSuggestedPrompts")
        )
        (call,) = slack.peer.called("assistant.threads.setSuggestedPrompts")
        assert call.params["channel_id"] == DM
        assert [prompt["title"] for prompt in call.params["prompts"]] == [
            "Summarise",
            "Explain",
            "Draft",
        ]


async def test_each_top_level_dm_is_its_own_thread_and_conversation(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        first, second = slack.ts(), slack.ts()
        await slack.sender.event(slack.message("plan a trip", ts=first))
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 1)
        await slack.sender.event(slack.message("write a poem", ts=second))
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 2)

        assert [m.text for m in slack.peer.thread(DM, first)] == ["echo: plan a trip"]
        assert [m.text for m in slack.peer.thread(DM, second)] == ["echo: write a poem"]
        # Two conversations: the second prompt reached the model without the first.
        assert [[m.content for m in call[1:]] for call in slack.backend.calls] == [
            ["plan a trip"],
            ["write a poem"],
        ]
        for ts in (first, second):
            assert await slack.runtime.store.knows(ConversationKey("slack", "dm", DM, ts))
        statuses = slack.peer.called("assistant.threads.setStatus")
        assert [(c.params["thread_ts"], bool(c.params["status"])) for c in statuses] == [
            (first, True),
            (second, True),
        ]
        titles = slack.peer.called("assistant.threads.setTitle")
        assert [(c.params["thread_ts"], c.params["title"]) for c in titles] == [
            (first, "plan a trip"),
            (second, "write a poem"),
        ]

        # A reply in the first thread continues that conversation, and is not re-titled.
        await slack.sender.event(slack.message("by train", thread_ts=first))
        await slack.peer.wait_for(lambda: len(slack.peer.called("chat.stopStream")) == 3)
        assert [m.content for m in slack.backend.calls[2][1:]] == [
            "plan a trip",
            "echo: plan a trip",
            "by train",
        ]
        assert len(slack.peer.called("assistant.threads.setTitle")) == 2


async def test_what_the_user_views_is_remembered_per_user(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        store = slack.runtime.store

        async def changes_to(context: dict) -> None:
            event = {"type": "app_context_changed", "user": ALICE, "context": context}
            await slack.sender.event(event | {"event_ts": slack.ts()})
            for _ in range(250):
                if json.loads(await store.recall_viewing(ALICE) or "null") == context:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"not remembered: {context}")

        await changes_to({})
        await changes_to({"entities": [{"type": "slack#/types/channel_id", "value": "C0DESIGN"}]})
        assert await store.recall_viewing("U0BOB") is None
        assert [call.method for call in slack.peer.calls] == ["auth.test"]
