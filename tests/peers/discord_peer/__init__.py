"""A Discord peer on 127.0.0.1: the gateway websocket and the REST API, enough for discord.py.

The real discord.py client connects to it (set `discord.http.Route.BASE` to `api_url` and
`DiscordWebSocket.DEFAULT_GATEWAY` to `gateway_url`), so its event parsing, HTTP layer and
rate-limit handling all run. Tests post user messages and slash commands with `post_message` and
`invoke_command`; every REST request the client makes is kept in `requests` for assertions.

By role: `server` (the app on loopback and the REST routing), `gateway` (the websocket),
`handlers` (one module per API area), `payloads` (Discord's objects), `recorded` (what the
client asked), `peer` (the state tests set up and look at).
"""

from tests.peers.discord_peer.payloads import EPHEMERAL, PeerUser, fake_token
from tests.peers.discord_peer.peer import DiscordPeer
from tests.peers.discord_peer.recorded import Recorded

__all__ = ["EPHEMERAL", "DiscordPeer", "PeerUser", "Recorded", "fake_token"]
