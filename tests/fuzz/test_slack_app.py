"""Malformed Slack events, correctly signed, through the real bolt app: every one is acknowledged,
none reaches the core half-translated, and the app still answers a real mention afterwards."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.loop import LoopHarness
from tests.fuzz.strategies import chat_text, json_value, slack_id, slack_ts
from tests.slack.harness import CHANNEL, Slack, running_slack

FIELDS = ("channel", "ts", "user", "text", "thread_ts", "subtype", "channel_type", "bot_id")
plausible = {
    "channel": slack_id,
    "ts": slack_ts,
    "user": slack_id,
    "text": chat_text,
    "thread_ts": slack_ts,
    "subtype": st.none(),
    "channel_type": st.sampled_from(["im", "channel"]),
    "bot_id": st.none(),
}
BOLT_READS = ("channel", "user")
"""Fields bolt parses itself before any listener runs (it fails on a non-string one)."""
field_value = {
    name: strategy if name in BOLT_READS else strategy | json_value
    for name, strategy in plausible.items()
}
malformed_event = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(["app_mention", "message"]),
    st.fixed_dictionaries({}, optional=field_value),
)
"""Any subset of an event's fields, most of them plausible or of any JSON type."""


class SlackHarness(LoopHarness):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.slack: Slack = self.enter(running_slack(tmp_path))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SlackHarness]:
    made = SlackHarness(tmp_path)
    yield made
    made.close()


def test_malformed_events_are_survived(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    slack = harness.slack

    @settings(max_examples=100, deadline=None)
    @given(event=malformed_event)
    def post(event: dict[str, Any]) -> None:
        status, _ = harness.run(slack.sender.event(event))
        assert status == 200

    post()
    event = slack.mention("still there?")
    status, _ = harness.run(slack.sender.event(event))
    assert status == 200
    harness.run(slack.peer.wait_for(lambda: slack.peer.thread(CHANNEL, event["ts"])))
    gc.collect()  # a task that died with an exception is reported when collected
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, [record.getMessage() for record in errors]
