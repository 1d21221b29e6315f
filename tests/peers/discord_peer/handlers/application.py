"""The bot and its application: who it is, where the gateway is, its commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.peers.discord_peer.responses import error, json_response

if TYPE_CHECKING:
    from tests.peers.discord_peer.peer import DiscordPeer


async def get_me(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    if peer.rejects_token:
        return error(401, "401: Unauthorized")
    return json_response(peer.bot.me())


async def get_application(
    peer: DiscordPeer, parts: list[str], body: Any, query: Any
) -> web.Response:
    return json_response(
        {
            "id": str(peer.application_id),
            "name": peer.bot.name,
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": {**peer.bot.payload(), "bot": False},
            "verify_key": "0" * 64,
            "flags": 0,
        }
    )


async def get_gateway(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
    return json_response({"url": peer.gateway_url, "shards": 1, "session_start_limit": limit})


async def put_commands(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    commands = [
        {
            **command,
            "id": str(peer.snowflake()),
            "application_id": str(peer.application_id),
            "version": "1",
            "default_member_permissions": None,
            "type": command.get("type", 1),
            # Discord answers a context-menu command (types 2 and 3) with an empty one.
            "description": command.get("description", ""),
        }
        for command in body
    ]
    return json_response(commands)
