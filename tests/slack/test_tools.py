"""Tools on Slack end to end: the real bolt app over signed HTTP against the Slack peer, the real
openai client against the scripted OpenAI peer, and the MCP test server over stdio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from adapters.slack.approvals import APPROVE_ACTION, DENY_ACTION
from bot.store.base import AuditQuery
from bot.tools.names import wire_name
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import Message
from tests.slack.harness import ALICE, CHANNEL, DM, Slack, running_slack
from tests.support.tool_turns import CREATE, LOOKUP, calling, mcp_servers, offered, ran

BOB = "U0BOB"
TICKET = (CREATE, {"title": "Printer on fire"})


@asynccontextmanager
async def slack_with_tools(
    tmp_path: Path, openai_peer: OpenAIPeer, **overrides: Any
) -> AsyncIterator[Slack]:
    async with running_slack(
        tmp_path,
        openai_base_url=openai_peer.base_url,
        model="peer-model",
        max_retries=0,
        mcp=mcp_servers(tmp_path / "mcp.log"),
        **overrides,
    ) as slack:
        yield slack


def shown(slack: Slack, channel: str, thread: str, start: str, containing: str = "") -> Any:
    """The answer in the thread that starts so (and holds `containing`), once it does."""
    for message in slack.peer.thread(channel, thread):
        if message.text.startswith(start) and containing in message.text:
            return message
    return None


async def answer(
    slack: Slack, channel: str, thread: str, start: str, containing: str = ""
) -> Message:
    await slack.peer.wait_for(lambda: shown(slack, channel, thread, start, containing))
    return shown(slack, channel, thread, start, containing)


async def request(slack: Slack, thread: str) -> Message:
    """The approval request waiting in the channel thread (a settled one loses its buttons)."""

    def asked() -> list[Message]:
        return [
            m
            for m in slack.peer.thread(CHANNEL, thread)
            if any(b.get("type") == "actions" for b in m.blocks or [])
        ]

    await slack.peer.wait_for(asked)
    (waiting,) = asked()
    return waiting


async def click(slack: Slack, message: Message, action: str, user: str) -> str:
    """Click a button; the line the clicker alone is shown."""
    before = len(slack.peer.ephemerals)
    assert await slack.sender.click(message, action, user=user) == 200
    await slack.peer.wait_for(lambda: len(slack.peer.ephemerals) > before)
    told = slack.peer.ephemerals[-1]
    assert (told.user, told.channel) == (user, message.channel)
    return told.text


async def test_a_read_only_tool_answers_is_audited_and_remembered_in_a_dm(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = calling({"PRJ-1": (LOOKUP, {"query": "PRJ-1"})})
    async with slack_with_tools(tmp_path, openai_peer) as slack:
        root = slack.ts()
        await slack.sender.event(slack.message("what is PRJ-1?", ts=root))
        found = await answer(slack, DM, root, "found: ")
        assert "Ticket PRJ-1: status OPEN" in found.text
        await slack.sender.event(slack.message("who owns it?", thread_ts=root))
        await answer(slack, DM, root, "no tools this time")
        (record,) = await slack.runtime.store.tool_calls(AuditQuery())
    assert (record.tool, record.outcome, record.user) == (LOOKUP, "ok", ALICE)
    assert ran(tmp_path / "mcp.log") == ["lookup PRJ-1"]
    later = openai_peer.requests[-1]["messages"]
    (call,) = [m for m in later if m.get("tool_calls")]
    (result,) = [m for m in later if m["role"] == "tool"]
    assert call["tool_calls"][0]["function"]["name"] == wire_name(LOOKUP)
    assert result["tool_call_id"] == call["tool_calls"][0]["id"]
    assert len(openai_peer.requests) == 3


async def test_an_acting_tool_runs_only_after_the_askers_approve_click(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    log = tmp_path / "mcp.log"
    openai_peer.answer = calling({"ticket": TICKET})
    async with slack_with_tools(tmp_path, openai_peer, tool_approval_timeout=60) as slack:
        root = slack.ts()
        await slack.sender.event(slack.mention("open a ticket", ts=root))
        asked = await request(slack, root)
        section = (asked.blocks or [])[0]["text"]["text"]
        assert section.startswith(f"Parley wants to run `{CREATE}` with: ")
        told = await click(slack, asked, APPROVE_ACTION, BOB)
        assert told == "Only the person who asked can approve this."
        assert ran(log) == []
        assert (await click(slack, asked, APPROVE_ACTION, ALICE)).startswith("Approved")
        done = await answer(slack, CHANNEL, root, "found: ")
        assert "Created ticket PRJ-99" in done.text
        assert ran(log) == ["create_ticket Printer on fire"]
        settled = f"`{CREATE}`: approved by <@{ALICE}>."
        assert asked.blocks == [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": settled}]}
        ]

        await slack.sender.event(slack.reply("<@U0PARLEY> open another ticket", root))
        second = await request(slack, root)
        assert (await click(slack, second, DENY_ACTION, ALICE)).startswith("Denied")
        await answer(slack, CHANNEL, root, "found: ", containing="denied")
        assert ran(log) == ["create_ticket Printer on fire"]


async def test_no_click_in_time_means_not_run_and_the_buttons_settle(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = calling({"ticket": TICKET})
    async with slack_with_tools(tmp_path, openai_peer, tool_approval_timeout=0.3) as slack:
        root = slack.ts()
        await slack.sender.event(slack.mention("open a ticket", ts=root))
        asked = await request(slack, root)
        done = await answer(slack, CHANNEL, root, "found: ")
        assert "in time" in done.text
        assert ran(tmp_path / "mcp.log") == []
        line = f"`{CREATE}`: no answer in time, not run."
        assert asked.blocks == [{"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]


async def test_a_tool_not_allowed_in_a_channel_is_not_offered_there(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = calling({})
    allow = {"slack:T0TEAM:C0GENERAL": ["jira.*"]}
    async with slack_with_tools(tmp_path, openai_peer, tools={"allow": allow}) as slack:
        here = slack.ts()
        await slack.sender.event(slack.mention("hello here", ts=here))
        await answer(slack, CHANNEL, here, "no tools this time")
        there = slack.ts()
        await slack.sender.event(slack.mention("hello there", ts=there) | {"channel": "C0OTHER"})
        await answer(slack, "C0OTHER", there, "no tools this time")
    general, other = (offered(body) for body in openai_peer.requests)
    assert {wire_name(LOOKUP), wire_name(CREATE)} <= general
    assert not {wire_name(LOOKUP), wire_name(CREATE)} & other


async def test_time_now_answers_in_the_askers_zone_from_users_info(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = calling({"time": ("time.now", {})})
    async with running_slack(
        tmp_path, openai_base_url=openai_peer.base_url, model="peer-model", max_retries=0
    ) as slack:
        # users.info gives every person's zone as `tz`, with its label and offset.
        slack.peer.users[ALICE] = {
            "id": ALICE,
            "name": "alice",
            "tz": "America/Los_Angeles",
            "tz_label": "Pacific Standard Time",
            "tz_offset": -28800,
        }
        root = slack.ts()
        await slack.sender.event(slack.message("what time is it?", ts=root))
        found = await answer(slack, DM, root, "found: ")
    assert "America/Los_Angeles (UTC-0" in found.text
