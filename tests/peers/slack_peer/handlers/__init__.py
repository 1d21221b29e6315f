"""The Web API by area; each method's handler takes the peer and the call's parameters and
returns Slack's answer. A method not listed answers `{"ok": true}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.peers.slack_peer.handlers import auth, chat, conversations, users

if TYPE_CHECKING:
    from tests.peers.slack_peer.peer import SlackPeer

Handler = Callable[["SlackPeer", dict[str, Any]], dict[str, Any]]

METHODS: dict[str, Handler] = {
    "apps.connections.open": auth.apps_connections_open,
    "auth.test": auth.auth_test,
    "users.info": users.users_info,
    "chat.postMessage": chat.post_message,
    "chat.postEphemeral": chat.post_ephemeral,
    "chat.update": chat.update,
    "chat.startStream": chat.start_stream,
    "chat.appendStream": chat.append_stream,
    "chat.stopStream": chat.stop_stream,
    "conversations.replies": conversations.replies,
    "conversations.history": conversations.history,
    "conversations.info": conversations.info,
    "conversations.members": conversations.members,
}
