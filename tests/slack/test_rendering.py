"""What the user sees: mrkdwn where Slack needs it, no pings, Slack's limits, a calm update rate."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.types import ChatMessage
from tests.slack.harness import CHANNEL, DM, Slack, running_slack
from tests.support.backends import ScriptedBackend

RISKY = "# Plan\n**Ship it** <!channel> and tell <@U0BOSS>, @here and <!subteam^S1|@ops>."
PINGS = ("<!channel>", "<@U0BOSS>", "@here", "<!subteam")


def _says(text: str) -> Callable[[Sequence[ChatMessage]], str]:
    return lambda messages: text


def _delivered(slack: Slack) -> list[str]:
    """Every text Parley sent to Slack, whichever method and field carried it."""
    texts = []
    for call in slack.peer.calls:
        for field in ("text", "markdown_text"):
            if isinstance(call.params.get(field), str):
                texts.append(call.params[field])
        blocks = call.params.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
        texts.extend(block["text"] for block in blocks if block.get("type") == "markdown")
    return texts


async def test_updates_are_mrkdwn_and_pings_never_leave_raw(tmp_path: Path) -> None:
    async with running_slack(
        tmp_path, ScriptedBackend(_says(RISKY), chunks=3), slack_surface="assistant"
    ) as slack:
        await slack.sender.event(slack.message("plan?"))
        await slack.peer.wait_for(
            lambda: (
                any("Ship it" in m.text for m in slack.peer.thread(DM, None))
                and slack.runtime.dialogue.in_flight == 0
            )
        )
        # Updates are mrkdwn; the final text is Markdown in a block, over the feedback buttons.
        updates = [call.params["text"] for call in slack.peer.called("chat.update")]
        assert any(text.startswith("*Plan*\n*Ship it*") for text in updates)
        (answer,) = slack.peer.thread(DM, None)
        assert answer.markdown and answer.text.replace("\u200b", "") == RISKY
        for text in _delivered(slack):
            assert not any(ping in text for ping in PINGS), text


async def test_streamed_markdown_is_neutralised_too(tmp_path: Path) -> None:
    async with running_slack(tmp_path, ScriptedBackend(_says(RISKY), chunks=40)) as slack:
        await slack.sender.event(slack.mention("plan?"))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        (answer,) = [m for m in slack.peer.messages.values() if m.streaming is False and m.markdown]
        assert answer.text.replace("\u200b", "") == RISKY
        for text in _delivered(slack):
            assert not any(ping in text for ping in PINGS), text


async def test_a_long_answer_is_split_within_slacks_limits(tmp_path: Path) -> None:
    long = "\n\n".join(f"Paragraph {n}: " + "word " * 60 for n in range(40))
    async with running_slack(
        tmp_path, ScriptedBackend(_says(long), chunks=20), slack_surface="assistant"
    ) as slack:
        await slack.sender.event(slack.message("tell me everything"))
        await slack.peer.wait_for(
            lambda: slack.runtime.dialogue.in_flight == 0 and slack.backend.calls
        )
        updates = slack.peer.called("chat.update")
        assert updates and all(len(call.params["text"]) <= 4_000 for call in updates)
        messages = slack.peer.thread(DM, None)
        assert len(messages) >= 3
        shown = "".join(m.text for m in messages).replace("\n", "").replace(" ", "")
        assert shown == long.replace("\n", "").replace(" ", "")


async def test_a_streamed_answer_is_updated_about_once_a_second(tmp_path: Path) -> None:
    backend = ScriptedBackend(chunks=30, duration=3.0)
    async with running_slack(tmp_path, backend, slack_edit_interval=1.0) as slack:
        await slack.sender.event(slack.mention("a three second answer"))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
        start, appends = (
            slack.peer.called("chat.startStream"),
            slack.peer.called("chat.appendStream"),
        )
        assert len(start) == 1
        assert 1 <= len(appends) <= 4
        (answer,) = slack.peer.thread(
            CHANNEL, slack.peer.called("chat.startStream")[0].params["thread_ts"]
        )
        assert answer.text == "echo: a three second answer"


async def test_updates_of_a_posted_answer_are_throttled(tmp_path: Path) -> None:
    backend = ScriptedBackend(chunks=30, duration=3.0)
    async with running_slack(
        tmp_path, backend, slack_edit_interval=1.0, slack_surface="assistant"
    ) as slack:
        await slack.sender.event(slack.message("a three second answer"))
        await slack.peer.wait_for(
            lambda: slack.backend.calls and slack.runtime.dialogue.in_flight == 0
        )
        assert len(slack.peer.called("chat.postMessage")) == 1
        assert 2 <= len(slack.peer.called("chat.update")) <= 5


async def test_without_streaming_a_thread_answer_is_posted_and_updated(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        slack.peer.streaming = False
        event = slack.mention("old workspace")
        await slack.sender.event(event)
        await slack.peer.wait_for(
            lambda: any(
                m.text == "echo: old workspace" for m in slack.peer.thread(CHANNEL, event["ts"])
            )
        )
        assert len(slack.peer.called("chat.postMessage")) == 1


LINKS = "Log in at [https://good.example](https://evil.example) or <https://evil.example|here>."


async def test_links_show_their_real_target_on_every_path(tmp_path: Path) -> None:
    async with running_slack(tmp_path, ScriptedBackend(_says(LINKS), chunks=30)) as slack:
        await slack.sender.event(slack.message("where?"))  # posted, updated in mrkdwn, finished
        await slack.sender.event(slack.mention("where?"))  # streamed as Markdown
        await slack.peer.wait_for(
            lambda: slack.peer.called("chat.stopStream") and slack.runtime.dialogue.in_flight == 0
        )
        answers = [m.text for m in slack.peer.messages.values() if "Log in" in m.text]
        assert len(answers) == 2
        for text in _delivered(slack) + answers:
            assert "|https://good.example" not in text and "](https://evil" not in text, text
            assert "<https://evil.example|" not in text, text
        for text in answers:
            assert "https://good.example (https://evil.example)" in text


async def test_answers_in_one_channel_share_its_write_budget_and_every_final_lands(
    tmp_path: Path,
) -> None:
    answers = 10
    backend = ScriptedBackend(chunks=15, duration=3.0)
    async with running_slack(
        tmp_path, backend, slack_edit_interval=0.2, slack_channel_edits=5
    ) as slack:
        peer = slack.peer
        for number in range(answers):
            await slack.sender.event(slack.mention(f"q{number}"))
        await peer.wait_for(lambda: len(peer.called("chat.stopStream")) == answers, within=20)
    appends = [c for c in peer.called("chat.appendStream") if c.params["channel"] == CHANNEL]
    # Alone, each answer would be appended to about 15 times (every 0.2 s for 3 s): 150 writes.
    # The ten stream starts fill the channel's budget, so interim appends mostly yield.
    assert len(appends) <= 2 * answers
    streamed = sorted(m.text for m in peer.messages.values() if m.markdown)
    assert streamed == sorted(f"echo: q{number}" for number in range(answers))
    assert not any(m.streaming for m in peer.messages.values())
