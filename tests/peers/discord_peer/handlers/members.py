"""The guild's members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.peers.discord_peer.responses import error, json_response

if TYPE_CHECKING:
    from tests.peers.discord_peer.peer import DiscordPeer


async def get_member(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    member = peer.members.get(int(parts[3]))
    if parts[1] != str(peer.guild_id) or member is None:
        return error(404, "Unknown Member", 10007)
    return json_response(member.member())
