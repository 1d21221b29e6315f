"""Approve / Deny buttons on Discord, through a real discord.py client against the peer: the
request in the answer's place, every click routed by its custom_id, the outcome replacing the
buttons without a ping."""

from __future__ import annotations

from typing import Any

import discord

from adapters.discord.approvals import Approvals, custom_id
from adapters.discord.sink import ChannelReply, InteractionReply
from bot.replies import ApprovalOutcome, ApprovalRequest, Approving
from tests.discord.conftest import World, discord_settings, serving
from tests.peers.discord_peer import DiscordPeer
from tests.support.backends import ScriptedBackend

REQUEST = ApprovalRequest(
    id="req-1", tool="tickets.create", summary='title="Printer on fire"', asker_id="", timeout=5
)
SUCCESS, DANGER = 3, 4
"""Discord's button styles."""


class Clicks:
    """Stands in for the door's judge: keeps each click and answers with a line."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    async def __call__(self, interaction: discord.Interaction, request_id: str, ok: bool) -> str:
        self.seen.append((str(interaction.user.id), request_id, ok))
        return "Approved." if ok else "Denied."


def buttons(message: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [
        (button["label"], button["custom_id"], button["style"])
        for row in message.get("components", [])
        for button in row["components"]
    ]


async def click_and_wait(peer: DiscordPeer, channel: int, message: int, user: Any, cid: str) -> Any:
    token = await peer.click(channel, message, user, cid)
    return await peer.wait_for(lambda: peer.interaction_responses.get(token))


async def test_a_request_replies_with_buttons_a_click_is_routed_and_settling_removes_them(
    world: World, client: discord.Client
) -> None:
    peer = world.peer
    clicks = Clicks()
    approvals = Approvals(clicks)
    approvals.register(client)
    question = await peer.post_message(world.general, world.alice, "open a ticket")
    channel = client.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    sink = ChannelReply(
        channel,
        reply_to=channel.get_partial_message(int(question["id"])),
        min_edit_interval=1,
        approvals=approvals,
    )
    assert isinstance(sink, Approving)

    await sink.ask_approval(REQUEST)
    (asked,) = [m for m in peer.bot_messages(world.general) if m.get("components")]
    assert asked["content"] == (
        'Parley wants to run `tickets.create` with: title="Printer on fire"'
    )
    assert asked["message_reference"]["message_id"] == question["id"]
    assert buttons(asked) == [
        ("Approve", "parley:tool:approve:req-1", SUCCESS),
        ("Deny", "parley:tool:deny:req-1", DANGER),
    ]
    response = await click_and_wait(
        peer, world.general, int(asked["id"]), world.alice, "parley:tool:deny:req-1"
    )
    assert response == {"id": response["id"], "content": "Denied.", "ephemeral": True}
    assert clicks.seen == [(str(world.alice.id), "req-1", False)]

    await sink.settle_approval(REQUEST, ApprovalOutcome.DENIED, str(world.alice.id))
    settled = peer.messages[world.general][int(asked["id"])]
    assert settled["content"] == f"`tickets.create`: denied by <@{world.alice.id}>, not run."
    assert settled["components"] == []
    (edit,) = [r for r in peer.calls("PATCH") if r.path.endswith(asked["id"])]
    assert edit.body["allowed_mentions"] == {"parse": []}  # the name shows, nobody is pinged


async def test_a_click_on_a_request_from_before_a_restart_reaches_the_new_process(
    world: World, client: discord.Client
) -> None:
    """The buttons' ids carry the request: a process that never posted them routes them too."""
    peer = world.peer
    before, after = Clicks(), Clicks()
    earlier = Approvals(before)
    earlier.register(client)
    sink = ChannelReply(
        client.get_channel(world.general), reply_to=None, min_edit_interval=1, approvals=earlier
    )
    await sink.ask_approval(REQUEST)
    (asked,) = [m for m in peer.bot_messages(world.general) if m.get("components")]
    Approvals(after).register(client)  # as the door does at start-up
    response = await click_and_wait(
        peer, world.general, int(asked["id"]), world.admin, custom_id(REQUEST.id, True)
    )
    assert response["content"] == "Approved." and response["ephemeral"]
    assert (before.seen, after.seen) == ([], [(str(world.admin.id), REQUEST.id, True)])


async def test_a_slash_command_answer_asks_in_a_follow_up(world: World, tmp_path: Any) -> None:
    peer = world.peer
    clicks = Clicks()
    sinks: list[InteractionReply] = []
    settings = discord_settings(peer, tmp_path)
    async with serving(peer, settings, ScriptedBackend()) as running:
        approvals = Approvals(clicks)
        approvals.register(running.door.client)

        @running.door.client.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is discord.InteractionType.application_command:
                sink = InteractionReply(
                    interaction, ephemeral=False, min_edit_interval=1, approvals=approvals
                )
                await sink.acknowledge()
                sinks.append(sink)

        await peer.invoke_command(world.general, world.alice, "ask", {"prompt": "ticket"})
        sink = await peer.wait_for(lambda: sinks and sinks[0])
        await sink.ask_approval(REQUEST)
        (asked,) = [m for m in peer.followups.values() if m.get("components")]
        assert [label for label, _, _ in buttons(asked)] == ["Approve", "Deny"]
        response = await click_and_wait(
            peer, world.general, int(asked["id"]), world.alice, custom_id(REQUEST.id, True)
        )
        assert response["ephemeral"]
        await sink.settle_approval(REQUEST, ApprovalOutcome.TIMED_OUT, None)
        assert asked["components"] == []
        assert asked["content"] == "`tickets.create`: no answer in time, not run."


async def test_a_click_where_parley_is_not_enabled_counts_for_nothing(
    world: World, settings_for: Any
) -> None:
    """The allowlists judge clicks like messages: outside #general the door answers the clicker
    alone and the core never hears of it."""
    peer = world.peer
    settings = settings_for(discord_channels=[str(world.general)])
    async with serving(peer, settings, ScriptedBackend()):
        # As a request posted there before the allowlist changed.
        elsewhere = await peer.post_message(world.random, peer.bot, "a request")
        elsewhere["components"] = Approvals(Clicks()).view(REQUEST).to_components()
        response = await click_and_wait(
            peer, world.random, int(elsewhere["id"]), world.alice, custom_id(REQUEST.id, True)
        )
        assert response["content"] == "Parley is not enabled here." and response["ephemeral"]
