"""Approve / Deny buttons on Slack, through the real bolt app and Web API client against the
peer: a Block Kit request in the answer's thread, clicks judged by the allowlists, the outcome
replacing the buttons."""

from __future__ import annotations

from pathlib import Path

from adapters.slack.approvals import APPROVE_ACTION, DENY_ACTION
from adapters.slack.sink import MessageSink, StreamSink
from bot.replies import ApprovalOutcome, ApprovalRequest, Approving
from tests.slack.harness import ALICE, CHANNEL, running_slack

REQUEST = ApprovalRequest(
    id="req-1", tool="tickets.create", summary="title=<!channel> & co", asker_id=ALICE, timeout=5
)


async def test_a_request_shows_two_buttons_in_the_thread_and_settling_replaces_them(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path) as slack:
        peer, root = slack.peer, slack.ts()
        sink = MessageSink(slack.door.client, CHANNEL, root, edit_interval=0.2)
        assert isinstance(sink, Approving)
        assert isinstance(
            StreamSink(slack.door.client, CHANNEL, root, edit_interval=1, on_stopped=lambda: None),
            Approving,
        )
        await sink.ask_approval(REQUEST)
        (asked,) = peer.thread(CHANNEL, root)
        section, actions = asked.blocks or []
        line = "Parley wants to run `tickets.create` with: title=&lt;!channel&gt; &amp; co"
        assert section == {"type": "section", "text": {"type": "mrkdwn", "text": line}}
        assert asked.text == line  # the notification's fallback says the same, no ping
        assert [
            (b["type"], b["action_id"], b["style"], b["value"], b["text"]["text"])
            for b in actions["elements"]
        ] == [
            ("button", APPROVE_ACTION, "primary", "req-1", "Approve"),
            ("button", DENY_ACTION, "danger", "req-1", "Deny"),
        ]
        await sink.settle_approval(REQUEST, ApprovalOutcome.APPROVED, ALICE)
        settled = f"`tickets.create`: approved by <@{ALICE}>."
        assert asked.blocks == [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": settled}]}
        ]
        await sink.settle_approval(REQUEST, ApprovalOutcome.APPROVED, ALICE)  # once is enough
        assert asked.edits == 1


async def test_a_click_where_parley_is_not_enabled_is_answered_to_the_clicker_alone(
    tmp_path: Path,
) -> None:
    async with running_slack(tmp_path, slack_channels=["C0OTHER"]) as slack:
        peer, root = slack.peer, slack.ts()
        sink = MessageSink(slack.door.client, CHANNEL, root, edit_interval=0.2)
        await sink.ask_approval(REQUEST)
        (asked,) = peer.thread(CHANNEL, root)
        assert await slack.sender.click(asked, APPROVE_ACTION, user=ALICE) == 200
        await peer.wait_for(lambda: peer.ephemerals)
        (told,) = peer.ephemerals
        assert (told.channel, told.user, told.thread_ts) == (CHANNEL, ALICE, root)
        assert told.text == "Parley is not enabled here."
        assert asked.edits == 0  # the buttons stay for the asker
