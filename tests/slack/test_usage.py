"""A scripted day on Slack: the store, `/parley usage`, `parley usage` and /admin agree to the
cent."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bot.prices import ModelPrice, dollars
from tests.slack.harness import ALICE, CHANNEL, DM, running_slack
from tests.support.usage import fetch_admin_page, parley_usage_csv, recorded

TOKEN = "slack-admin-token"
PRICES = {"scripted": ModelPrice(input=3_000, output=15_000)}


async def test_a_day_on_slack_agrees_everywhere(tmp_path: Path) -> None:
    settings = {
        "model": "scripted",
        "prices": PRICES,
        "slack_admins": [ALICE],
        "admin_token": SecretStr(TOKEN),
    }
    async with running_slack(tmp_path, **settings) as slack:
        for index, text in enumerate(("standup notes?", "and the release?"), start=1):
            await slack.sender.event(slack.mention(text))
            await slack.peer.wait_for(
                lambda n=index: len(slack.peer.called("chat.stopStream")) == n
            )
        await slack.sender.event(slack.message("a private word"))
        await slack.peer.wait_for(
            lambda: any(
                m.text == "echo: a private word"
                for m in slack.peer.messages.values()
                if m.channel == DM
            )
        )
        spaces = await recorded(slack.runtime.store, turns=3)
        await slack.sender.command(
            "/parley", "usage", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        await slack.peer.wait_for(lambda: slack.peer.responses)
        shown = slack.peer.responses[0][1]["text"]
        admin_page = await fetch_admin_page(slack.runtime.ops.port, TOKEN)
    (team,) = spaces
    assert team.label == "slack:T0TEAM" and team.turns == 3, "the DM counts toward its workspace"
    assert f"This place: today 3 turns, {team.input_tokens} tokens in" in shown
    assert dollars(team.cost_micros) in shown and team.cost_micros > 0
    assert parley_usage_csv(tmp_path, "space") == {"slack:T0TEAM": team.cost_micros / 1_000_000}
    assert f"<b>{dollars(team.cost_micros)}</b>" in admin_page
    assert "a private word" not in admin_page and "standup notes" not in admin_page
