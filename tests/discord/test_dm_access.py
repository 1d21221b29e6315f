"""Discord DMs keep to the server and role allowlists: with those set, a DM is answered for a
member (with an allowed role) of an allowed server, looked up over REST once, or for a user the
user allowlist names; PARLEY_DISCORD_DMS opens or closes DMs (the real discord.py client)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.discord.conftest import World, serving
from tests.peers.discord_peer import DiscordPeer, PeerUser, Recorded
from tests.support.backends import ScriptedBackend

NOT_ENABLED_HERE = "Parley is not enabled here."


def member_lookups(peer: DiscordPeer) -> list[Recorded]:
    return peer.calls("GET", f"/guilds/{peer.guild_id}/members/")


async def answered(peer: DiscordPeer, channel: int, text: str) -> None:
    await peer.wait_for(
        lambda: any(m["content"] == f"echo: {text}" for m in peer.bot_messages(channel))
    )


def stranger(peer: DiscordPeer) -> tuple[PeerUser, int]:
    """Someone who shares no server with Parley, and their DM with it."""
    user = PeerUser(peer.snowflake(), "Stranger")
    return user, peer.add_dm(user)


def asked(backend: ScriptedBackend) -> list[str]:
    return [call[-1].content for call in backend.calls]


async def test_with_servers_listed_only_their_members_are_answered_in_dms(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    outsider, outsider_dm = stranger(peer)
    settings = settings_for(discord_guilds=[str(peer.guild_id)])
    async with serving(peer, settings, ScriptedBackend()) as running:
        await peer.post_message(outsider_dm, outsider, "let me in")
        await peer.post_message(world.alice_dm, world.alice, "hello")
        await answered(peer, world.alice_dm, "hello")
        await peer.post_message(world.alice_dm, world.alice, "again")
        await answered(peer, world.alice_dm, "again")
        token = await peer.invoke_command(outsider_dm, outsider, "ask", {"prompt": "please?"})
        await peer.wait_for(lambda: peer.interaction_responses.get(token))
    assert asked(running.backend) == ["hello", "again"]
    assert not peer.bot_messages(outsider_dm)
    assert peer.interaction_responses[token]["content"] == NOT_ENABLED_HERE
    looked_up = [r.path.rsplit("/", 1)[1] for r in member_lookups(peer)]
    assert sorted(looked_up) == sorted([str(outsider.id), str(world.alice.id)])  # once each


async def test_dms_sent_while_their_sender_is_looked_up_share_the_lookup_and_keep_order(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    settings = settings_for(discord_guilds=[str(peer.guild_id)])
    words = ["one", "two", "three"]
    async with serving(peer, settings, ScriptedBackend()) as running:
        for word in words:  # each arrives before the first one's member lookup is answered
            await peer.post_message(world.alice_dm, world.alice, word)
        for word in words:
            await answered(peer, world.alice_dm, word)
    assert asked(running.backend) == words
    assert len(member_lookups(peer)) == 1


async def test_with_roles_listed_a_dm_needs_an_allowed_role_in_the_server(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    admin_dm = peer.add_dm(world.admin)
    settings = settings_for(discord_roles=[str(peer.admin_role)])
    async with serving(peer, settings, ScriptedBackend()) as running:
        await peer.post_message(world.alice_dm, world.alice, "no role")
        await peer.post_message(admin_dm, world.admin, "with the role")
        await answered(peer, admin_dm, "with the role")
        await peer.wait_for(lambda: len(member_lookups(peer)) == 2)
        await asyncio.sleep(0.1)
    assert asked(running.backend) == ["with the role"]
    assert not peer.bot_messages(world.alice_dm)


async def test_a_user_the_user_allowlist_names_needs_no_server(
    world: World, settings_for: Any
) -> None:
    peer = world.peer
    friend, friend_dm = stranger(peer)
    settings = settings_for(discord_guilds=[str(peer.guild_id)], discord_users=[str(friend.id)])
    async with serving(peer, settings, ScriptedBackend()) as running:
        await peer.post_message(world.alice_dm, world.alice, "not named")
        await peer.post_message(friend_dm, friend, "named")
        await answered(peer, friend_dm, "named")
    assert asked(running.backend) == ["named"]
    assert not member_lookups(peer)


async def test_dms_can_be_opened_to_anyone_or_closed(world: World, settings_for: Any) -> None:
    peer = world.peer
    outsider, outsider_dm = stranger(peer)
    opened = settings_for(discord_guilds=[str(peer.guild_id)], discord_dms="open")
    async with serving(peer, opened, ScriptedBackend()):
        await peer.post_message(outsider_dm, outsider, "anyone home?")
        await answered(peer, outsider_dm, "anyone home?")
    closed = settings_for(discord_dms="off")
    async with serving(peer, closed, ScriptedBackend()) as running:
        await peer.post_message(world.alice_dm, world.alice, "closed?")
        token = await peer.invoke_command(world.alice_dm, world.alice, "ask", {"prompt": "hm?"})
        await peer.wait_for(lambda: peer.interaction_responses.get(token))
        await peer.post_message(
            world.general, world.alice, f"<@{peer.bot.id}> in the server", mentions=(peer.bot,)
        )
        await answered(peer, world.general, "in the server")
    assert asked(running.backend) == ["in the server"]
    assert peer.interaction_responses[token]["content"] == NOT_ENABLED_HERE
    assert not member_lookups(peer)
