"""Socket Mode: the app's websocket, hello on connect, envelopes pushed, acks recorded."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


async def connect(peer: SlackPeer, request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    peer.sockets.append(socket)
    await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
    async for frame in socket:
        if frame.type == WSMsgType.TEXT:
            peer.socket_acks.append(json.loads(frame.data))
    return socket


async def push(peer: SlackPeer, body: dict[str, Any], kind: str) -> str:
    """Deliver a payload to every open socket in its envelope; returns the envelope id."""
    envelope_id = uuid.uuid4().hex
    envelope = {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": body,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": 0,
        "retry_reason": "",
    }
    for socket in peer.sockets:
        if not socket.closed:
            await socket.send_str(json.dumps(envelope))
    return envelope_id
