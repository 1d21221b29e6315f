"""Slack on loopback: a Web API peer that records every call, and the Events API side that sends
correctly signed events and slash commands to an app.

By role: `server` (the app on loopback and the Web API entry), `handlers` (one module per API
area), `socket_mode` and `files` (the websocket and private downloads), `recorded` (what the
app did), `peer` (the workspace state tests set up and look at), `sender` (Slack posting to
the app).
"""

from tests.peers.slack_peer.peer import SlackPeer
from tests.peers.slack_peer.recorded import Call, Ephemeral, Message
from tests.peers.slack_peer.sender import SlackSender
from tests.peers.slack_peer.workspace import BOT_ID, BOT_USER, TEAM, WORKSPACE_URL

__all__ = [
    "BOT_ID",
    "BOT_USER",
    "TEAM",
    "WORKSPACE_URL",
    "Call",
    "Ephemeral",
    "Message",
    "SlackPeer",
    "SlackSender",
]
