"""People in the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


def users_info(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    user_id = params["user"]
    user = peer.users.get(user_id, {"id": user_id, "name": user_id.lower()})
    if str(params.get("include_locale")).lower() not in ("1", "true"):
        user = {k: v for k, v in user.items() if k != "locale"}  # only when asked for
    return {"ok": True, "user": user}
