"""Who the token is, and where Socket Mode connects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.peers.slack_peer.workspace import BOT_ID, BOT_USER, TEAM, WORKSPACE_URL

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


def auth_test(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    if peer.rejects_tokens:
        return {"ok": False, "error": "invalid_auth"}
    return {
        "ok": True,
        "user_id": BOT_USER,
        "bot_id": BOT_ID,
        "team_id": TEAM,
        "team": "Test",
        "user": "parley",
        "url": WORKSPACE_URL,
    }


def apps_connections_open(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": peer.socket_mode_url}
