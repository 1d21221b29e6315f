"""A Slack DM carries its workspace: the team and user allowlists and the team's budget hold
there too, for messages, `/ask` and `/parley` alike (signed HTTP into the real bolt app)."""

from __future__ import annotations

from pathlib import Path

from tests.slack.harness import ALICE, CHANNEL, DM, running_slack

OTHER_TEAM = "T0OTHER"


def _answered(slack, text: str) -> bool:
    return any(m.text == f"echo: {text}" for m in slack.peer.thread(DM, None))


async def test_a_dm_from_a_workspace_outside_the_allowlist_is_not_answered(tmp_path: Path):
    async with running_slack(tmp_path, slack_teams=["T0TEAM"], slack_surface="assistant") as slack:
        slack.sender.team = OTHER_TEAM
        await slack.sender.event(slack.message("from elsewhere"))
        slack.sender.team = "T0TEAM"
        await slack.sender.event(slack.message("from home"))
        await slack.peer.wait_for(lambda: _answered(slack, "from home"))
    assert not _answered(slack, "from elsewhere")
    assert [call[-1].content for call in slack.backend.calls] == ["from home"]


async def test_dm_commands_from_a_workspace_outside_the_allowlist_are_refused(tmp_path: Path):
    async with running_slack(tmp_path, slack_teams=["T0TEAM"]) as slack:
        slack.sender.team = OTHER_TEAM
        asked = await slack.sender.command(
            "/ask", "hi?", user=ALICE, channel=DM, response_url=slack.peer.response_url()
        )
        system = await slack.sender.command(
            "/parley",
            "system Be a pirate.",
            user=ALICE,
            channel=DM,
            response_url=slack.peer.response_url(),
        )
        slack.sender.team = "T0TEAM"
        shown = await slack.sender.command(
            "/parley", "system", user=ALICE, channel=DM, response_url=slack.peer.response_url()
        )
        await slack.peer.wait_for(lambda: slack.peer.responses)
    assert asked == system == (200, "Parley is not enabled here.")
    assert shown[0] == 200 and "pirate" not in slack.peer.responses[0][1]["text"]
    assert not slack.peer.called("chat.postMessage")
    assert not slack.backend.calls


async def test_a_dm_from_someone_outside_the_user_allowlist_is_not_answered(tmp_path: Path):
    async with running_slack(tmp_path, slack_users=["U0BOB"]) as slack:
        await slack.sender.event(slack.message("let me in"))
        status, body = await slack.sender.command(
            "/ask", "please?", user=ALICE, channel=DM, response_url=slack.peer.response_url()
        )
    assert status == 200 and "not enabled here" in body
    assert not slack.backend.calls
    assert not slack.peer.called("chat.postMessage")


async def test_dm_turns_count_toward_their_workspace_budget(tmp_path: Path):
    async with running_slack(tmp_path, space_daily_tokens=10, slack_surface="assistant") as slack:
        await slack.sender.event(slack.message("spend the budget"))
        await slack.peer.wait_for(lambda: _answered(slack, "spend the budget"))
        mention = slack.mention("anything left?")
        await slack.sender.event(mention)
        await slack.peer.wait_for(lambda: slack.peer.thread(CHANNEL, mention["ts"]))
        (refusal,) = slack.peer.thread(CHANNEL, mention["ts"])
    assert refusal.text.startswith("_This team has used its share of the model for today.")
    assert len(slack.backend.calls) == 1
