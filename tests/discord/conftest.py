"""Fixtures: a Discord peer on loopback and the real Discord door (discord.py) connected to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.app import DiscordDoor, build_client, discord_endpoints
from adapters.discord.settings import DiscordSettings
from bot.config import Settings
from bot.wiring import Runtime, open_runtime
from tests.peers.discord_peer import DiscordPeer, PeerUser
from tests.support.backends import ScriptedBackend
from tests.support.settings import make_settings

GUILD_READY_TIMEOUT = 0.05


@pytest.fixture(autouse=True)
def discord_defaults_untouched() -> Iterator[None]:
    """Each client is pointed at the peer by itself: discord.py's class attributes, which every
    client in the process reads, keep Discord's own endpoints."""
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    assert saved == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


@dataclass
class World:
    """The peer with one guild: #general, #random, Alice, an admin, and another bot; a DM."""

    peer: DiscordPeer
    general: int
    random: int
    alice: PeerUser
    admin: PeerUser
    other_bot: PeerUser
    alice_dm: int


@pytest.fixture
async def world() -> AsyncIterator[World]:
    peer = DiscordPeer()
    general = peer.add_channel("general")
    random = peer.add_channel("random")
    alice = peer.add_member("Alice")
    admin = peer.add_member("Ada", admin=True)
    other_bot = peer.add_member("OtherBot", bot=True)
    await peer.start()
    try:
        yield World(peer, general, random, alice, admin, other_bot, peer.add_dm(alice))
    finally:
        await peer.close()


def discord_settings(peer: DiscordPeer, data_dir: Path, **overrides: Any) -> Settings:
    return make_settings(
        data_dir=data_dir,
        discord_token=peer.token,
        discord_api_url=peer.api_url,
        discord_gateway_url=peer.gateway_url,
        shutdown_grace_seconds=2,
        **overrides,
    )


@dataclass
class Running:
    door: DiscordDoor
    runtime: Runtime
    backend: ScriptedBackend


@asynccontextmanager
async def serving(
    peer: DiscordPeer,
    settings: Settings,
    backend: ScriptedBackend,
    *,
    sync_guild: str | None = None,
) -> AsyncIterator[Running]:
    """The real runtime and the Discord door, connected to the peer until the block ends."""
    async with open_runtime(settings, backend=backend) as runtime:
        door = DiscordDoor(runtime, sync_guild=sync_guild)
        door.client._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
        task = asyncio.create_task(door.serve())
        try:
            await peer.wait_for(lambda: task.done() or peer.connected)
            if task.done():
                task.result()  # start-up failed: show why
            async with asyncio.timeout(10):
                await door.client.wait_until_ready()
            # A test's own calls through the door's client go to the peer too.
            with discord_endpoints(settings.of(DiscordSettings)):
                yield Running(door, runtime, backend)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def settings_for(world: World, tmp_path: Path) -> Any:
    def make(**overrides: Any) -> Settings:
        return discord_settings(world.peer, tmp_path, **overrides)

    return make


@pytest.fixture
async def client(world: World, tmp_path: Path) -> AsyncIterator[discord.Client]:
    """A real discord.py client logged in to the peer, without a door (for the sinks)."""
    settings = discord_settings(world.peer, tmp_path)
    client = build_client(settings.of(DiscordSettings))
    client._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    with discord_endpoints(settings.of(DiscordSettings)):
        async with client:
            await client.login(world.peer.token)
            task = asyncio.create_task(client.connect())
            async with asyncio.timeout(10):
                await client.wait_until_ready()
            yield client
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
