"""Thumbs up / down under every Slack answer, kept once per person per answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.slack.sink import LIKED
from tests.slack.harness import ALICE, DM, running_slack


async def test_every_answer_gets_feedback_buttons_and_a_click_is_kept_once_per_person(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path) as slack:
        peer = slack.peer
        root = slack.ts()
        await slack.sender.event(slack.message("name a colour", ts=root))
        await peer.wait_for(lambda: any(m.blocks for m in peer.messages.values()))
        (answer,) = peer.thread(DM, root)
        # A streamed answer: the buttons go under its text with the stream's end, no update after.
        assert answer.text == "echo: name a colour" and not peer.called("chat.update")
        (actions,) = answer.blocks or []
        (buttons,) = actions["elements"]
        assert actions["type"] == "context_actions" and buttons["type"] == "feedback_buttons"

        store = slack.runtime.store

        async def click(user: str, value: str, *, then: tuple[int, int]) -> None:
            status = await slack.sender.feedback(
                user=user, channel=DM, message_ts=answer.ts, value=value
            )
            assert status == 200
            for _ in range(250):  # the click is kept after the ack
                if [(r.likes, r.dislikes) for r in await store.ratings()] == [then]:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"ratings {await store.ratings()}, not {then}")

        up, down = buttons["positive_button"]["value"], buttons["negative_button"]["value"]
        await click(ALICE, up, then=(1, 0))
        await click(ALICE, down, then=(0, 1))  # she changed her mind: her click is replaced
        await click("U0BOB", down, then=(0, 2))
        registry = slack.runtime.dialogue.metrics.registry
        counted = {
            way: registry.get_sample_value(
                "parley_feedback_total", {"platform": "slack", "rating": way}
            )
            for way in ("up", "down")
        }
        assert counted == {"up": 1, "down": 2}


async def test_a_click_from_someone_outside_the_allowlist_is_not_kept(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_users=[ALICE]) as slack:
        peer = slack.peer
        root = slack.ts()
        await slack.sender.event(slack.message("name a colour", ts=root))
        await peer.wait_for(lambda: any(m.blocks for m in peer.messages.values()))
        (answer,) = peer.thread(DM, root)
        buttons = answer.blocks[-1]["elements"][0]
        up = buttons["positive_button"]["value"]
        status = await slack.sender.feedback(
            user="U0BOB", channel=DM, message_ts=answer.ts, value=up
        )
        assert status == 200
        await peer.wait_for(lambda: peer.called("chat.postEphemeral"))
        (told,) = peer.called("chat.postEphemeral")
        assert told.params["user"] == "U0BOB" and told.params["channel"] == DM
        assert told.params["text"] == "You can't use Parley here, so the rating was not kept."
        assert await slack.runtime.store.ratings() == []


async def test_an_updated_answer_gets_its_buttons_with_its_final_text(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_streaming=False) as slack:
        peer = slack.peer
        root = slack.ts()
        await slack.sender.event(slack.message("name a colour", ts=root))
        await peer.wait_for(lambda: any(m.blocks for m in peer.messages.values()))
        (answer,) = peer.thread(DM, root)
        markdown, actions = answer.blocks or []
        assert markdown == {"type": "markdown", "text": "echo: name a colour"}
        assert actions["elements"][0]["type"] == "feedback_buttons"
        # The placeholder, then one update: the final text and the buttons together.
        (update,) = peer.called("chat.update")
        assert update.params["text"] == "echo: name a colour"
        status = await slack.sender.feedback(
            user=ALICE, channel=DM, message_ts=answer.ts, value=LIKED
        )
        assert status == 200
        for _ in range(250):  # the click is kept after the ack
            if [(r.likes, r.dislikes) for r in await slack.runtime.store.ratings()] == [(1, 0)]:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"ratings {await slack.runtime.store.ratings()}")
