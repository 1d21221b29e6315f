"""Channels and their messages: typing, send, edit, read one or a page of history, open a
thread from a message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.peers.discord_peer.payloads import now
from tests.peers.discord_peer.responses import error, json_response

if TYPE_CHECKING:
    from tests.peers.discord_peer.peer import DiscordPeer


async def typing(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    return web.Response(status=204)


async def create_message(
    peer: DiscordPeer, parts: list[str], body: Any, query: Any
) -> web.Response:
    channel_id = int(parts[1])
    reply_to = (body.get("message_reference") or {}).get("message_id")
    message = peer.store_message(
        channel_id,
        peer.bot,
        body.get("content", ""),
        reply_to=int(reply_to) if reply_to else None,
    )
    if body.get("components"):
        message["components"] = body["components"]
    await peer.dispatch("MESSAGE_CREATE", message, peer.guild_of(channel_id))
    return json_response(message)


async def edit_message(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    if peer.edit_outages > 0:
        peer.edit_outages -= 1
        return error(503, "Service Unavailable")
    if peer.edit_status is not None:
        return error(peer.edit_status, "Thread is archived", 50083)
    message = peer.messages.get(int(parts[1]), {}).get(int(parts[3]))
    if message is None:
        return error(404, "Unknown Message", 10008)
    message["content"] = body.get("content", message["content"])
    if "components" in body:
        message["components"] = body["components"]
    message["edited_timestamp"] = now()
    return json_response(message)


async def history(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    """A page of a channel's messages, newest first, before a message when asked."""
    messages = sorted(peer.messages.get(int(parts[1]), {}).values(), key=lambda m: -int(m["id"]))
    if "before" in query:
        messages = [m for m in messages if int(m["id"]) < int(query["before"])]
    page = messages[: int(query.get("limit", 50))]
    for message in page:
        peer.history_reads[int(message["id"])] += 1
    return json_response(page)


async def get_message(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    message = peer.messages.get(int(parts[1]), {}).get(int(parts[3]))
    if message is None:
        return error(404, "Unknown Message", 10008)
    return json_response(message)


async def start_thread(peer: DiscordPeer, parts: list[str], body: Any, query: Any) -> web.Response:
    parent_id, message_id = int(parts[1]), int(parts[3])
    if peer.refuses_threads:
        return error(403, "Missing Permissions", 50013)
    thread = peer.store_thread(message_id, parent_id, body["name"], peer.bot.id)
    await peer.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, peer.guild_id)
    return json_response(thread)
