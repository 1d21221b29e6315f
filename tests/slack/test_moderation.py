"""Moderation on Slack: a flagged question is refused, a flagged answer never shown."""

from __future__ import annotations

from pathlib import Path

from tests.slack.harness import DM, running_slack
from tests.support.backends import ScriptedBackend


async def test_flagged_input_is_refused_and_flagged_output_withheld(
    tmp_path: Path, openai_peer
) -> None:
    backend = ScriptedBackend(
        lambda messages: "sure: FLAGME" if "trick" in messages[-1].content else "fine"
    )
    settings = {"moderation": "both", "openai_base_url": openai_peer.base_url}
    async with running_slack(tmp_path, backend, **settings) as slack:
        await slack.sender.event(slack.message("FLAGME please"))
        await slack.peer.wait_for(
            lambda: any(
                "moderation flagged the message" in m.text
                for m in slack.peer.messages.values()
                if m.channel == DM
            )
        )
        await slack.sender.event(slack.message("a trick question"))
        await slack.peer.wait_for(
            lambda: any(
                "withheld" in m.text for m in slack.peer.messages.values() if m.channel == DM
            )
        )
    assert len(backend.calls) == 1, "the flagged question never reached the model"
    sent = [str(call.params) for call in slack.peer.calls]
    assert not any("sure: FLAGME" in params for params in sent), "the flagged answer never showed"
