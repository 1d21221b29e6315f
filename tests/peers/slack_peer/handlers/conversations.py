"""Channels, DMs and threads: what they are, who is in them, and their history, paged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer


def replies(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    """A thread, oldest first, paged by cursor."""
    messages = peer.threads.get((params["channel"], params["ts"]), [])
    oldest = float(params.get("oldest", 0))
    messages = [m for m in messages if float(m["ts"]) >= oldest]
    return _page(peer, params, "messages", messages, limit=1000)


def history(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    """A channel's top-level messages, newest first, after `oldest`, paged by cursor."""
    channel = params["channel"]
    if channel in peer.not_in_channel:
        return {"ok": False, "error": "not_in_channel"}
    oldest = float(params.get("oldest", 0))
    messages = [m for m in reversed(peer.history.get(channel, [])) if float(m["ts"]) > oldest]
    return _page(peer, params, "messages", messages, limit=100)


def info(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    channel = params["channel"]
    direct = channel.startswith("D")
    default = {
        "id": channel,
        "is_channel": not direct,
        "is_im": direct,
        "is_private": False,
        "is_member": channel not in peer.not_in_channel,
    }
    return {"ok": True, "channel": peer.conversations.get(channel, default)}


def members(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    return _page(peer, params, "members", peer.members.get(params["channel"], []), limit=100)


def _page(
    peer: SlackPeer, params: dict[str, Any], name: str, items: list[Any], *, limit: int
) -> dict[str, Any]:
    """One page as Slack's cursor pagination gives it (the cursor is an opaque offset)."""
    start = int(params.get("cursor") or 0)
    end = start + min(int(params.get("limit") or limit), 999)
    page = items[start:end]
    if name == "messages":
        for message in page:
            peer.history_reads[(params["channel"], message["ts"])] += 1
    more = end < len(items)
    return {
        "ok": True,
        name: page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(end) if more else ""},
    }
