"""Interactions and their webhook: the first response, edits of it, follow-ups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.peers.discord_peer.payloads import EPHEMERAL
from tests.peers.discord_peer.responses import json_response

if TYPE_CHECKING:
    from tests.peers.discord_peer.peer import DiscordPeer


async def callback(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    """The interaction's first response (a message, or a deferral of one)."""
    interaction_id, token = parts[1], parts[2]
    response_id = peer.snowflake()
    data = body.get("data") or {}
    ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
    peer.interaction_responses[token] = {
        "id": str(response_id),
        "content": data.get("content", ""),
        "ephemeral": ephemeral,
    }
    channel_id, _ = peer.interaction_places.get(token, (0, False))
    peer.interaction_places[token] = (channel_id, ephemeral)
    return json_response(
        {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_id": str(response_id),
                "response_message_loading": body["type"] == 5,
                "response_message_ephemeral": False,
            },
            "resource": {"type": body["type"]},
        }
    )


async def edit_message(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    """An edit of the original response (`@original` or its id) or of a follow-up."""
    token, message_id = parts[2], parts[4]
    followup = peer.followups.get(int(message_id)) if message_id.isdigit() else None
    if followup is not None:
        followup["content"] = body.get("content", followup["content"])
        if "components" in body:
            followup["components"] = body["components"]
        return json_response(followup)
    original = peer.interaction_responses.setdefault(token, {"id": str(peer.snowflake())})
    if message_id in ("@original", original["id"]):  # the original answers to both
        original["content"] = body.get("content", "")
        message_id = original["id"]
    return json_response(peer.webhook_message(token, int(message_id), body.get("content", "")))


async def followup(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    ephemeral = bool(body.get("flags", 0) & EPHEMERAL)
    token = parts[2]
    message = peer.webhook_message(token, peer.snowflake(), body.get("content", ""), ephemeral)
    message["components"] = body.get("components", [])
    peer.followups[int(message["id"])] = message
    return json_response(message)
