"""Shared files: the object a `message` event carries, and the private download behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


def file_object(file_id: str, name: str, mimetype: str, size: int, url: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": name.rpartition(".")[2],
        "size": size,
        "url_private": url,
        "url_private_download": url + "?download=1",
    }


async def download(peer: SlackPeer, request: web.Request) -> web.Response:
    """A private file: only with the bot token in the Authorization header, as on Slack."""
    auth = request.headers.get("Authorization", "")
    peer.downloads.append((request.host, request.path, auth))
    file_id = request.match_info["id"]
    if file_id in peer.redirects:
        raise web.HTTPFound(peer.redirects[file_id])
    if auth != f"Bearer {peer.bot_token}" or file_id not in peer.files:
        return web.Response(status=404, text="<html>sign in</html>", content_type="text/html")
    content, mimetype = peer.files[file_id]
    return web.Response(body=content, content_type=mimetype)
