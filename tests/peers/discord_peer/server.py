"""The peer's aiohttp app: the gateway at /gw/, attachments at /cdn/, and the REST API at
/api/v10/, where every request is recorded, then routed to its area's handler."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.peers.discord_peer.handlers import application, channels, interactions, members
from tests.peers.discord_peer.recorded import Recorded
from tests.peers.discord_peer.responses import error

if TYPE_CHECKING:
    from tests.peers.discord_peer.peer import DiscordPeer

Handler = Callable[["DiscordPeer", list[str], Any, Any], Awaitable[web.Response]]


def route(method: str, parts: list[str]) -> Handler | None:
    """The handler of a REST request by its method and path parts; None if Discord has none."""
    match method, parts:
        case "GET", ["users", "@me"]:
            return application.get_me
        case "GET", ["oauth2", "applications", "@me"]:
            return application.get_application
        case "GET", ["gateway", "bot"]:
            return application.get_gateway
        case "PUT", ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]:
            return application.put_commands
        case "POST", ["channels", _, "typing"]:
            return channels.typing
        case "POST", ["channels", _, "messages"]:
            return channels.create_message
        case "PATCH", ["channels", _, "messages", _]:
            return channels.edit_message
        case "GET", ["channels", _, "messages"]:
            return channels.history
        case "GET", ["channels", _, "messages", _]:
            return channels.get_message
        case "POST", ["channels", _, "messages", _, "threads"]:
            return channels.start_thread
        case "GET", ["guilds", _, "members", _]:
            return members.get_member
        case "POST", ["interactions", _, _, "callback"]:
            return interactions.callback
        case "PATCH", ["webhooks", _, _, "messages", _]:
            return interactions.edit_message
        case "POST", ["webhooks", _, _]:
            return interactions.followup
    return None


def discord_app(peer: DiscordPeer) -> web.Application:
    async def rest(request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        peer.requests.append(Recorded(request.method, path, dict(request.query), body))
        parts = path.strip("/").split("/")
        handler = route(request.method, parts)
        if handler is None:
            return error(404, "404: Not Found")
        try:
            return await handler(peer, parts, body, request.query)
        finally:
            peer.changed()

    async def cdn(request: web.Request) -> web.Response:
        return web.Response(body=peer.attachments[request.match_info["name"]])

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_get("/gw/", peer.gateway.handle)
    app.router.add_get("/cdn/{name}", cdn)
    app.router.add_route("*", "/api/v10/{path:.*}", rest)
    return app
