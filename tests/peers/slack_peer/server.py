"""The peer's aiohttp app: the Web API at /api/<method>, response_urls at /respond/<name>,
Socket Mode at /link and private files at /files-pri/."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.peers.slack_peer import files, socket_mode
from tests.peers.slack_peer.handlers import METHODS
from tests.peers.slack_peer.recorded import Call

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


def slack_app(peer: SlackPeer) -> web.Application:
    app = web.Application()
    app.router.add_post("/api/{method}", peer._api)
    app.router.add_get("/api/{method}", peer._api)
    app.router.add_post("/respond/{name}", partial(respond, peer))
    app.router.add_get("/link", partial(socket_mode.connect, peer))
    app.router.add_get("/files-pri/{id}/{name}", partial(files.download, peer))
    return app


async def api(peer: SlackPeer, request: web.Request) -> web.Response:
    """One Web API call: its parameters (query, form or JSON) recorded, then answered, unless
    the method is rate limited."""
    method = request.match_info["method"]
    params: dict[str, Any] = dict(request.query)
    body = await request.read()
    if request.content_type == "application/json" and body:
        params.update(json.loads(body))
    elif body:
        params.update(parse_qsl(body.decode()))
    client = request.transport.get_extra_info("peername") if request.transport else None
    call = Call(method, params, asyncio.get_running_loop().time(), connection=client)
    peer.calls.append(call)
    if peer.rate_limited.get(method, 0) > 0:
        peer.rate_limited[method] -= 1
        refusal = {"ok": False, "error": "ratelimited"}
        return web.json_response(refusal, status=429, headers={"Retry-After": "1"})
    handler = METHODS.get(method)
    call.answer.update(handler(peer, params) if handler else {"ok": True})
    return web.json_response(call.answer)


async def respond(peer: SlackPeer, request: web.Request) -> web.Response:
    peer.responses.append((request.match_info["name"], await request.json()))
    return web.Response(text="ok")
