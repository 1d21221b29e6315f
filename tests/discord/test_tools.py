"""Tools on Discord end to end: the real discord.py door against the Discord peer, the real
openai client against the scripted OpenAI peer, and the MCP test server over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.store.base import AuditQuery
from bot.tools.names import wire_name
from tests.discord.conftest import World, serving
from tests.discord.test_door import mention
from tests.peers.discord_peer import DiscordPeer, PeerUser
from tests.peers.openai_peer import OpenAIPeer
from tests.support.tool_turns import CREATE, LOOKUP, calling, mcp_servers, offered, ran

TICKET = (CREATE, {"title": "Printer on fire"})


def tool_settings(settings_for: Any, peer: OpenAIPeer, log: Path, **overrides: Any) -> Any:
    return settings_for(
        openai_base_url=peer.base_url,
        model="peer-model",
        max_retries=0,
        discord_conversation="channel",  # the channel is one conversation: turns follow on
        mcp=mcp_servers(log),
        **overrides,
    )


async def ask(peer: DiscordPeer, channel: int, user: PeerUser, text: str) -> None:
    await peer.post_message(channel, user, mention(peer, text), mentions=(peer.bot,))


async def answer(
    peer: DiscordPeer, channel: int, start: str, *, containing: str = ""
) -> dict[str, Any]:
    """The bot's message that starts so (and holds `containing`), once it does."""

    def shown() -> dict[str, Any] | None:
        for message in peer.bot_messages(channel):
            if message["content"].startswith(start) and containing in message["content"]:
                return message
        return None

    return await peer.wait_for(shown)


def tool_buttons(message: dict[str, Any]) -> list[str]:
    return [
        button["custom_id"]
        for row in message.get("components", [])
        for button in row["components"]
        if button["custom_id"].startswith("parley:tool:")
    ]


async def request(peer: DiscordPeer, channel: int) -> dict[str, Any]:
    """The approval request waiting in the channel (a settled one says what came of it)."""
    return await peer.wait_for(
        lambda: next(
            (m for m in peer.bot_messages(channel) if "wants to run" in m["content"]), None
        )
    )


async def click(
    peer: DiscordPeer, channel: int, message: dict[str, Any], user: PeerUser, verdict: str
) -> str:
    (approve, deny) = tool_buttons(message)
    token = await peer.click(
        channel, int(message["id"]), user, approve if verdict == "approve" else deny
    )
    reply = await peer.wait_for(lambda: peer.interaction_responses.get(token))
    assert reply["ephemeral"]
    return reply["content"]


async def test_a_read_only_tool_answers_is_audited_and_remembered(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer, log = world.peer, tmp_path / "mcp.log"
    openai_peer.answer = calling({"PRJ-1": (LOOKUP, {"query": "PRJ-1"})})
    settings = tool_settings(settings_for, openai_peer, log)
    async with serving(peer, settings, None) as running:
        await ask(peer, world.general, world.alice, "what is PRJ-1?")
        found = await answer(peer, world.general, "found: ")
        assert "Ticket PRJ-1: status OPEN" in found["content"]
        await ask(peer, world.general, world.alice, "who owns it?")
        await answer(peer, world.general, "no tools this time")
        (record,) = await running.runtime.store.tool_calls(AuditQuery())
    assert (record.tool, record.outcome, record.user) == (LOOKUP, "ok", str(world.alice.id))
    assert ran(log) == ["lookup PRJ-1"]
    # The next turn carries the call and its result; the model was not sent to the tool again.
    later = openai_peer.requests[-1]["messages"]
    (call,) = [m for m in later if m.get("tool_calls")]
    (result,) = [m for m in later if m["role"] == "tool"]
    assert call["tool_calls"][0]["function"]["name"] == wire_name(LOOKUP)
    assert result["tool_call_id"] == call["tool_calls"][0]["id"]
    assert "status OPEN" in result["content"] and len(openai_peer.requests) == 3


async def test_an_acting_tool_runs_only_after_the_askers_approve_click(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer, log = world.peer, tmp_path / "mcp.log"
    openai_peer.answer = calling({"ticket": TICKET})
    settings = tool_settings(settings_for, openai_peer, log, tool_approval_timeout=60)
    async with serving(peer, settings, None):
        await ask(peer, world.general, world.alice, "open a ticket")
        asked = await request(peer, world.general)
        assert asked["content"].startswith(f"Parley wants to run `{CREATE}` with: ")
        assert "Printer on fire" in asked["content"]
        # Someone else's click does nothing but tell them so.
        told = await click(peer, world.general, asked, world.admin, "approve")
        assert told == "Only the person who asked can approve this."
        assert ran(log) == [] and tool_buttons(asked)
        told = await click(peer, world.general, asked, world.alice, "approve")
        assert told.startswith("Approved")
        done = await answer(peer, world.general, "found: ")
        assert "Created ticket PRJ-99" in done["content"]
        assert ran(log) == ["create_ticket Printer on fire"]
        assert tool_buttons(asked) == []
        assert asked["content"] == f"`{CREATE}`: approved by <@{world.alice.id}>."

        # Denied: not run, and the model is told.
        await ask(peer, world.general, world.alice, "open another ticket")
        second = await request(peer, world.general)
        assert (await click(peer, world.general, second, world.alice, "deny")).startswith("Denied")
        await answer(peer, world.general, "found: ", containing="denied")
        assert ran(log) == ["create_ticket Printer on fire"]
        assert second["content"] == f"`{CREATE}`: denied by <@{world.alice.id}>, not run."


async def test_no_click_in_time_means_not_run_and_the_buttons_settle(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer, log = world.peer, tmp_path / "mcp.log"
    openai_peer.answer = calling({"ticket": TICKET})
    settings = tool_settings(settings_for, openai_peer, log, tool_approval_timeout=0.3)
    async with serving(peer, settings, None):
        await ask(peer, world.general, world.alice, "open a ticket")
        asked = await request(peer, world.general)
        done = await answer(peer, world.general, "found: ")
        assert "in time" in done["content"]  # the model was told nobody approved
        assert ran(log) == []
        assert tool_buttons(asked) == []
        assert asked["content"] == f"`{CREATE}`: no answer in time, not run."


async def test_a_tool_not_allowed_in_a_channel_is_not_offered_there(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer, log = world.peer, tmp_path / "mcp.log"
    general = f"discord:{peer.guild_id}:{world.general}"
    openai_peer.answer = calling({})
    settings = tool_settings(settings_for, openai_peer, log, tools={"allow": {general: ["jira.*"]}})
    async with serving(peer, settings, None):
        await ask(peer, world.general, world.alice, "hello here")
        await answer(peer, world.general, "no tools this time")
        await ask(peer, world.random, world.alice, "hello there")
        await answer(peer, world.random, "no tools this time")
    here, there = (offered(body) for body in openai_peer.requests)
    assert {wire_name(LOOKUP), wire_name(CREATE)} <= here
    assert not {wire_name(LOOKUP), wire_name(CREATE)} & there


async def test_place_recent_reads_the_channel_with_links_when_called(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer = world.peer
    said = peer.add_history(world.general, world.admin, "the deploy is at five")
    openai_peer.answer = calling({"what was said": ("place.recent", {"count": 5})})
    settings = tool_settings(settings_for, openai_peer, tmp_path / "mcp.log")
    async with serving(peer, settings, None) as running:
        await ask(peer, world.general, world.alice, "what was said here?")
        found = await answer(peer, world.general, "found: ")
        (record,) = await running.runtime.store.tool_calls(AuditQuery())
    link = f"https://discord.com/channels/{peer.guild_id}/{world.general}/{said['id']}"
    (result,) = [m for m in openai_peer.requests[-1]["messages"] if m["role"] == "tool"]
    assert f"{world.admin.name}: the deploy is at five ({link})" in result["content"]
    assert "the deploy is at five" in found["content"]
    assert (record.tool, record.outcome, record.user) == ("place.recent", "ok", str(world.alice.id))
    assert record.result_bytes == len(result["content"].encode())


async def test_place_recent_is_offered_only_where_the_allowlist_lists_it(
    world: World, settings_for: Any, openai_peer: OpenAIPeer, tmp_path: Path
) -> None:
    peer = world.peer
    openai_peer.answer = calling({"what was said": ("place.recent", {})})
    allow = {"allow": {"*": ["time.now"]}}
    settings = tool_settings(settings_for, openai_peer, tmp_path / "mcp.log", tools=allow)
    async with serving(peer, settings, None) as running:
        await ask(peer, world.general, world.alice, "what was said here?")
        await answer(peer, world.general, "no tools this time")
        assert await running.runtime.store.tool_calls(AuditQuery()) == []
    assert offered(openai_peer.requests[0]) == {wire_name("time.now")}
