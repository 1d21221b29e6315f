"""Refusals are throttled: a flood from one user over a limit gets one refusal post per window,
not one per message (signed HTTP into the real bolt app, counted at the Slack peer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.slack.harness import DM, Slack, running_slack
from tests.support.clock import inside_one_minute

FLOOD = 50
LIMIT = 2


def limited_turns(slack: Slack) -> str:
    page = slack.runtime.dialogue.metrics.render().decode()
    return next(
        (line for line in page.splitlines() if line.startswith("parley_rate_limited_turns")), ""
    )


async def test_a_flood_over_the_rate_limit_gets_exactly_one_refusal(tmp_path: Path) -> None:
    await inside_one_minute(10)  # the limit's window is this minute: keep the flood inside one
    async with running_slack(
        tmp_path, user_turns_per_minute=LIMIT, slack_surface="assistant"
    ) as slack:
        events = [slack.message(f"message {i}") for i in range(FLOOD)]
        statuses = await asyncio.gather(*(slack.sender.event(event) for event in events))
        assert all(status == 200 for status, _ in statuses)
        await slack.peer.wait_for(lambda: limited_turns(slack).endswith(f" {FLOOD - LIMIT}.0"))
        await slack.runtime.dialogue.shutdown(5)  # the answers admitted are finished
    posts = [m.text for m in slack.peer.thread(DM, None)]
    refusals = [text for text in posts if "faster than I can take them" in text]
    assert len(refusals) == 1
    assert len(posts) == LIMIT + 1, posts
    assert len(slack.backend.calls) == LIMIT
