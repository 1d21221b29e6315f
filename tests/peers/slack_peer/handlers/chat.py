"""Messages the app posts: posted, ephemeral, updated, and streamed (start, append, stop)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.peers.slack_peer.recorded import Ephemeral, Message

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer

UPDATE_LIMIT = 4_000


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    """Blocks as sent: a JSON string in a form body, a list in a JSON one."""
    return json.loads(value) if isinstance(value, str) else value


def post_message(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    channel = params["channel"]
    if channel in peer.not_in_channel:
        return {"ok": False, "error": "not_in_channel"}
    ts = peer.next_ts()
    blocks = _blocks(params.get("blocks"))
    shown = _markdown_block(blocks)
    markdown = "markdown_text" in params or shown is not None
    text = shown if shown is not None else params.get("markdown_text", params.get("text", ""))
    peer.messages[(channel, ts)] = Message(
        channel, ts, text or "", params.get("thread_ts"), markdown=markdown, blocks=blocks
    )
    return {"ok": True, "channel": channel, "ts": ts}


def _markdown_block(blocks: list[dict[str, Any]] | None) -> str | None:
    """With blocks Slack shows them (`text` is the notification); a markdown block as Markdown."""
    shown = [b["text"] for b in blocks or [] if b.get("type") == "markdown"]
    return shown[0] if shown else None


def post_ephemeral(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    """Shown to `user` alone; Slack answers with a `message_ts` and keeps no message."""
    if not (params.get("channel") and params.get("user")):
        return {"ok": False, "error": "invalid_arguments"}
    if not (params.get("text") or params.get("blocks")):
        return {"ok": False, "error": "no_text"}
    if params["channel"] in peer.not_in_channel:
        return {"ok": False, "error": "not_in_channel"}
    channel, user = params["channel"], params["user"]
    told = Ephemeral(channel, user, params.get("text", ""), params.get("thread_ts"))
    peer.ephemerals.append(told)
    return {"ok": True, "message_ts": peer.next_ts()}


def update(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    message = peer.messages.get((params["channel"], params["ts"]))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    if len(params.get("text", "")) > UPDATE_LIMIT:
        return {"ok": False, "error": "msg_too_long"}
    message.blocks = _blocks(params.get("blocks"))
    shown = _markdown_block(message.blocks)
    message.text = shown if shown is not None else params.get("text", "")
    message.markdown = shown is not None
    message.edits += 1
    return {"ok": True, "channel": message.channel, "ts": message.ts}


def start_stream(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    if not peer.streaming:
        return {"ok": False, "error": "unknown_method"}
    channel = params["channel"]
    if not params.get("thread_ts"):
        return {"ok": False, "error": "invalid_arguments"}
    if channel.startswith("C") and not (
        params.get("recipient_user_id") and params.get("recipient_team_id")
    ):
        return {"ok": False, "error": "missing_recipient_user_id"}
    ts = peer.next_ts()
    peer.messages[(channel, ts)] = Message(
        channel,
        ts,
        params.get("markdown_text", ""),
        params["thread_ts"],
        markdown=True,
        streaming=True,
    )
    return {"ok": True, "channel": channel, "ts": ts}


def append_stream(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    message = peer.messages[(params["channel"], params["ts"])]
    if peer.users_stop_streams:
        message.streaming = False
        return {"ok": False, "error": "stopped_by_user"}
    if not message.streaming:
        return {"ok": False, "error": "message_not_in_streaming_state"}
    message.text += params.get("markdown_text", "")
    message.edits += 1
    return {"ok": True, "channel": message.channel, "ts": message.ts}


def stop_stream(peer: SlackPeer, params: dict[str, Any]) -> dict[str, Any]:
    message = peer.messages[(params["channel"], params["ts"])]
    if not message.streaming:
        return {"ok": False, "error": "message_not_in_streaming_state"}
    message.text += params.get("markdown_text", "")
    message.streaming = False
    if "blocks" in params:  # shown under the streamed text
        message.blocks = _blocks(params["blocks"])
    return {"ok": True, "channel": message.channel, "ts": message.ts}
