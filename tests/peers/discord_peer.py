"""A Discord peer on 127.0.0.1: the gateway websocket and the REST API, enough for discord.py.

The real discord.py client connects to it (set `discord.http.Route.BASE` to `api_url` and
`DiscordWebSocket.DEFAULT_GATEWAY` to `gateway_url`), so its event parsing, HTTP layer and
rate-limit handling all run. Tests post user messages and slash commands with `post_message` and
`invoke_command`; every REST request the client makes is kept in `requests` for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1_420_070_400_000
ALL_PERMISSIONS = str((1 << 50) - 1)
MANAGE_GUILD = 1 << 5
EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 38)  # view, send, history, threads
EPHEMERAL = 1 << 6
"""The message flag of what only its interaction's user sees."""


def fake_token(user_id: int) -> str:
    """A bot token shaped like Discord's: its first segment is the base64 of the user id."""
    first = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{first}.GfAKE0.not-a-real-secret-0123456789"


@dataclass
class Recorded:
    """One REST request the client made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class PeerUser:
    id: int
    name: str
    bot: bool = False
    roles: tuple[int, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member(self) -> dict[str, Any]:
        return {
            "user": self.payload(),
            "roles": [str(role) for role in self.roles],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Connection:
    """One gateway session: compresses frames the way the client asked in its URL."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.shard: tuple[int, int] = (0, 1)
        self.identified = False
        self._sequence = itertools.count(1)
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None

    async def send(self, payload: dict[str, Any]) -> None:
        if payload.get("op") == 0:
            payload["s"] = next(self._sequence)
        text = json.dumps(payload)
        if self._zlib is None:
            await self.ws.send_str(text)
        else:
            data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)

    def serves(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id


class DiscordPeer:
    """One bot user, one guild with text channels and members, DMs, threads and interactions."""

    def __init__(
        self, *, bot_id: int = 1_100_000_000_000_000_001, bot_name: str = "Parley"
    ) -> None:
        self._counter = itertools.count(1)
        self.bot = PeerUser(bot_id, bot_name, bot=True)
        self.application_id = bot_id
        self.token = fake_token(bot_id)
        self.guild_id = self.snowflake()
        self.admin_role = self.snowflake()
        self.channels: dict[int, dict[str, Any]] = {}
        self.members: dict[int, PeerUser] = {self.bot.id: self.bot}
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}
        self.requests: list[Recorded] = []
        self.interaction_responses: dict[str, dict[str, Any]] = {}
        """Each interaction's first response by token: its content and whether it is ephemeral."""
        self._interaction_places: dict[str, tuple[int, bool]] = {}
        """Each interaction token's channel, and whether its response is ephemeral."""
        self.history_reads: Counter[int] = Counter()
        """How many times each message was sent in a GET /channels/X/messages page."""
        self.followups: dict[int, dict[str, Any]] = {}
        """Follow-up messages of interactions by id, as last edited."""
        self.attachments: dict[str, bytes] = {}
        self.edit_status: int | None = None
        """When set, message edits fail with this HTTP status (e.g. 403 for an archived thread)."""
        self.edit_outages = 0
        """How many next message edits fail with 503 (Discord briefly unavailable)."""
        self.rejects_token = False
        """Answer GET /users/@me with 401, as Discord does for a reset token."""
        self._connections: list[_Connection] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- set-up -------------------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0xFFF)

    def add_member(self, name: str, *, bot: bool = False, admin: bool = False) -> PeerUser:
        user = PeerUser(self.snowflake(), name, bot=bot, roles=(self.admin_role,) if admin else ())
        self.members[user.id] = user
        return user

    def add_channel(self, name: str) -> int:
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "name": name,
            "guild_id": str(self.guild_id),
            "position": len(self.channels),
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        self.messages[channel_id] = {}
        return channel_id

    def add_dm(self, user: PeerUser) -> int:
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "recipients": [user.payload()],
            "last_message_id": None,
        }
        self.messages[channel_id] = {}
        return channel_id

    async def add_thread(
        self, parent_id: int, name: str, owner: PeerUser, *, starter: int | None = None
    ) -> int:
        """A thread someone else opened, on its own or from the `starter` message of its parent
        channel, announced to the client as Discord does.

        A thread opened from a message has that message's id, and Discord puts a system message
        (type 21) referencing it first in the thread.
        """
        thread_id = starter or self.snowflake()
        thread = self._thread(thread_id, parent_id, name, owner.id)
        if starter is not None:
            marker = self._message(thread_id, owner, "")
            marker["type"] = 21
            marker["message_reference"] = {
                "message_id": str(starter),
                "channel_id": str(parent_id),
                "guild_id": str(self.guild_id),
            }
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, self.guild_id)
        return thread_id

    def _thread(self, thread_id: int, parent_id: int, name: str, owner_id: int) -> dict[str, Any]:
        thread = {
            "id": str(thread_id),
            "type": 11,
            "name": name,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now(),
                "locked": False,
                "create_timestamp": _now(),
            },
        }
        self.channels[thread_id] = thread
        self.messages[thread_id] = {}
        return thread

    # ----- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw/"

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/gw/", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for connection in self._connections:
            await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- gateway ------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws, request.query.get("compress"))
        self._connections.append(connection)
        await connection.send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await connection.send({"op": 11, "d": None, "s": None, "t": None})
                elif message["op"] == 2:
                    await self._identify(connection, message["d"])
        finally:
            self._connections.remove(connection)
        return ws

    async def _identify(self, connection: _Connection, data: dict[str, Any]) -> None:
        shard = data.get("shard") or [0, 1]
        connection.shard = (shard[0], shard[1])
        serves_guild = connection.serves(self.guild_id)
        ready = {
            "v": 10,
            "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}] if serves_guild else [],
            "session_id": f"session-{id(connection)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "shard": list(connection.shard),
            "private_channels": [],
            "relationships": [],
        }
        await connection.send({"op": 0, "t": "READY", "d": ready})
        if serves_guild:
            await connection.send({"op": 0, "t": "GUILD_CREATE", "d": self._guild()})
        connection.identified = True
        self._changed.set()

    def _guild(self) -> dict[str, Any]:
        guild_channels = [c for c in self.channels.values() if c.get("type") == 0]
        threads = [c for c in self.channels.values() if c.get("type") == 11]
        roles = [
            _role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
            _role(self.admin_role, "admins", MANAGE_GUILD | EVERYONE_PERMISSIONS, 1),
        ]
        return {
            "id": str(self.guild_id),
            "name": "Test Guild",
            "icon": None,
            "owner_id": "1",
            "roles": roles,
            "channels": guild_channels,
            "threads": threads,
            "members": [user.member() for user in self.members.values()],
            "member_count": len(self.members),
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "large": False,
            "unavailable": False,
            "joined_at": _now(),
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }

    async def close_sessions(self, code: int) -> None:
        """Close every gateway session with this close code (4013, say: one the client does not
        reconnect after)."""
        for connection in list(self._connections):
            await connection.ws.close(code=code)

    @property
    def connected(self) -> int:
        """How many gateway sessions have identified."""
        return sum(c.identified for c in self._connections)

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        for connection in list(self._connections):
            if connection.serves(guild_id):
                await connection.send({"op": 0, "t": event, "d": data})

    # ----- what users do ------------------------------------------------------------------

    async def post_message(
        self,
        channel_id: int,
        author: PeerUser,
        content: str,
        *,
        mentions: tuple[PeerUser, ...] = (),
        reply_to: int | None = None,
        attachments: tuple[tuple[str, str, bytes], ...] = (),
        deliveries: int = 1,
    ) -> dict[str, Any]:
        """A user's message appears in a channel (delivered `deliveries` times, like a gateway
        redelivery). Attachments are (filename, content type, bytes)."""
        message = self._message(channel_id, author, content, mentions=mentions, reply_to=reply_to)
        for filename, content_type, data in attachments:
            key = f"{self.snowflake()}-{filename}"
            self.attachments[key] = data
            message["attachments"].append(
                {
                    "id": str(self.snowflake()),
                    "filename": filename,
                    "content_type": content_type,
                    "size": len(data),
                    "url": f"{self.base_url}/cdn/{key}",
                    "proxy_url": f"{self.base_url}/cdn/{key}",
                }
            )
        for _ in range(deliveries):
            await self.dispatch("MESSAGE_CREATE", message, self._guild_of(channel_id))
        return message

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> None:
        """Its author edits a message: MESSAGE_UPDATE carries the whole message, as in API v10."""
        message = self.messages[channel_id][message_id]
        message["content"], message["edited_timestamp"] = content, _now()
        await self.dispatch("MESSAGE_UPDATE", message, self._guild_of(channel_id))

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """Someone deletes a message: MESSAGE_DELETE carries only its ids."""
        del self.messages[channel_id][message_id]
        guild_id = self._guild_of(channel_id)
        ids = {"id": str(message_id), "channel_id": str(channel_id)}
        if guild_id is not None:
            ids["guild_id"] = str(guild_id)
        await self.dispatch("MESSAGE_DELETE", ids, guild_id)

    def add_history(self, channel_id: int, author: PeerUser, content: str) -> dict[str, Any]:
        """A message that was sent before the client connected: kept, not dispatched."""
        return self._message(channel_id, author, content)

    def loose_message(self, channel_id: int, author: PeerUser, content: str) -> dict[str, Any]:
        """A user message payload the peer does not keep: for tests that break it, then send it
        with `dispatch` as a raw gateway event."""
        message = self._message(channel_id, author, content)
        del self.messages[channel_id][int(message["id"])]
        return message

    async def invoke_command(
        self,
        channel_id: int,
        user: PeerUser,
        name: str,
        options: dict[str, str] | None = None,
        *,
        permissions: int | None = None,
    ) -> str:
        """A user runs a slash command (with these permissions in the channel, as Discord
        resolves them; default all); returns the interaction token."""
        command = {
            "id": str(self.snowflake()),
            "name": name,
            "type": 1,
            "options": [
                {"name": key, "type": 3, "value": value} for key, value in (options or {}).items()
            ],
        }
        return await self._interact(2, channel_id, user, {"data": command}, permissions)

    async def invoke_message_command(
        self, channel_id: int, user: PeerUser, name: str, message_id: int, *, locale: str = "en-US"
    ) -> str:
        """A user runs a message context-menu command (type 3) on a message; returns the
        interaction token."""
        command = {
            "id": str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): self.messages[channel_id][message_id]}},
        }
        return await self._interact(2, channel_id, user, {"data": command, "locale": locale})

    async def click(self, channel_id: int, message_id: int, user: PeerUser, custom_id: str) -> str:
        """A user clicks a button on a message or an interaction's follow-up (a component
        interaction); returns its token."""
        message = self.messages[channel_id].get(message_id) or self.followups[message_id]
        return await self._interact(
            3,
            channel_id,
            user,
            {
                "message": message,
                "data": {"custom_id": custom_id, "component_type": 2},
            },
        )

    async def _interact(
        self,
        kind: int,
        channel_id: int,
        user: PeerUser,
        fields: dict[str, Any],
        permissions: int | None = None,
    ) -> str:
        interaction_id = self.snowflake()
        token = f"interaction-token-{interaction_id}"
        self._interaction_places[token] = (channel_id, False)
        channel = self.channels[channel_id]
        guild_id = self._guild_of(channel_id)
        data: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": str(channel_id),
            "channel": channel,
            "locale": "en-US",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "attachment_size_limit": 8 * 1024 * 1024,
            **fields,
        }
        if guild_id is None:
            data["user"] = user.payload()
            data["context"] = 1
        else:
            data["guild_id"] = str(guild_id)
            data["guild_locale"] = "en-US"
            granted = ALL_PERMISSIONS if permissions is None else str(permissions)
            data["member"] = {**user.member(), "permissions": granted}
            data["context"] = 0
        await self.dispatch("INTERACTION_CREATE", data, guild_id)
        return token

    # ----- what tests look at -------------------------------------------------------------

    def calls(self, method: str, prefix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def message_writes(self) -> list[Recorded]:
        """Every request that creates or edits a visible message (channel or interaction)."""
        return [r for r in self.requests if _writes_message(r)]

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.get(channel_id, {}).values()
            if m["author"]["id"] == str(self.bot.id)
        ]

    async def wait_for(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until condition() over the peer's state is truthy; return its value."""
        async with asyncio.timeout(within):
            while not (value := condition()):
                self._changed.clear()
                await self._changed.wait()
        return value

    # ----- REST ---------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.Response:
        return web.Response(body=self.attachments[request.match_info["name"]])

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        self.requests.append(Recorded(request.method, path, dict(request.query), body))
        parts = path.strip("/").split("/")
        handler = self._route(request.method, parts)
        if handler is None:
            return _json({"message": "404: Not Found", "code": 0}, status=404)
        try:
            return await handler(parts, body, request.query)
        finally:
            self._changed.set()

    def _route(self, method: str, parts: list[str]) -> Any:
        match method, parts:
            case "GET", ["users", "@me"]:
                return self._get_me
            case "GET", ["oauth2", "applications", "@me"]:
                return self._get_application
            case "GET", ["gateway", "bot"]:
                return self._get_gateway
            case "PUT", ["applications", _, "commands"] | [
                "applications",
                _,
                "guilds",
                _,
                "commands",
            ]:
                return self._put_commands
            case "POST", ["channels", _, "typing"]:
                return self._typing
            case "POST", ["channels", _, "messages"]:
                return self._create_message
            case "PATCH", ["channels", _, "messages", _]:
                return self._edit_message
            case "GET", ["channels", _, "messages"]:
                return self._history
            case "GET", ["channels", _, "messages", _]:
                return self._get_message
            case "POST", ["channels", _, "messages", _, "threads"]:
                return self._start_thread
            case "GET", ["guilds", _, "members", _]:
                return self._get_member
            case "POST", ["interactions", _, _, "callback"]:
                return self._interaction_callback
            case "PATCH", ["webhooks", _, _, "messages", _]:
                return self._edit_webhook_message
            case "POST", ["webhooks", _, _]:
                return self._followup
        return None

    async def _get_me(self, parts: list[str], body: Any, query: Any) -> web.Response:
        if self.rejects_token:
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json({**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, parts: list[str], body: Any, query: Any) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": self.bot.name,
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {**self.bot.payload(), "bot": False},
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _get_gateway(self, parts: list[str], body: Any, query: Any) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _put_commands(self, parts: list[str], body: Any, query: Any) -> web.Response:
        commands = [
            {
                **command,
                "id": str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": "1",
                "default_member_permissions": None,
                "type": command.get("type", 1),
                # Discord answers a context-menu command (types 2 and 3) with an empty one.
                "description": command.get("description", ""),
            }
            for command in body
        ]
        return _json(commands)

    async def _typing(self, parts: list[str], body: Any, query: Any) -> web.Response:
        return web.Response(status=204)

    async def _create_message(self, parts: list[str], body: Any, query: Any) -> web.Response:
        channel_id = int(parts[1])
        reply_to = (body.get("message_reference") or {}).get("message_id")
        message = self._message(
            channel_id,
            self.bot,
            body.get("content", ""),
            reply_to=int(reply_to) if reply_to else None,
        )
        if body.get("components"):
            message["components"] = body["components"]
        await self.dispatch("MESSAGE_CREATE", message, self._guild_of(channel_id))
        return _json(message)

    async def _edit_message(self, parts: list[str], body: Any, query: Any) -> web.Response:
        if self.edit_outages > 0:
            self.edit_outages -= 1
            return _json({"message": "Service Unavailable", "code": 0}, status=503)
        if self.edit_status is not None:
            return _json({"message": "Thread is archived", "code": 50083}, status=self.edit_status)
        message = self.messages.get(int(parts[1]), {}).get(int(parts[3]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        message["content"] = body.get("content", message["content"])
        if "components" in body:
            message["components"] = body["components"]
        message["edited_timestamp"] = _now()
        return _json(message)

    async def _history(self, parts: list[str], body: Any, query: Any) -> web.Response:
        messages = sorted(
            self.messages.get(int(parts[1]), {}).values(), key=lambda m: -int(m["id"])
        )
        if "before" in query:
            messages = [m for m in messages if int(m["id"]) < int(query["before"])]
        page = messages[: int(query.get("limit", 50))]
        for message in page:
            self.history_reads[int(message["id"])] += 1
        return _json(page)

    async def _get_message(self, parts: list[str], body: Any, query: Any) -> web.Response:
        message = self.messages.get(int(parts[1]), {}).get(int(parts[3]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(message)

    async def _start_thread(self, parts: list[str], body: Any, query: Any) -> web.Response:
        parent_id, message_id = int(parts[1]), int(parts[3])
        thread = self._thread(message_id, parent_id, body["name"], self.bot.id)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, self.guild_id)
        return _json(thread)

    async def _get_member(self, parts: list[str], body: Any, query: Any) -> web.Response:
        member = self.members.get(int(parts[3]))
        if parts[1] != str(self.guild_id) or member is None:
            return _json({"message": "Unknown Member", "code": 10007}, status=404)
        return _json(member.member())

    async def _interaction_callback(self, parts: list[str], body: Any, query: Any) -> web.Response:
        interaction_id, token = parts[1], parts[2]
        response_id = self.snowflake()
        data = body.get("data") or {}
        ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
        self.interaction_responses[token] = {
            "id": str(response_id),
            "content": data.get("content", ""),
            "ephemeral": ephemeral,
        }
        channel_id, _ = self._interaction_places.get(token, (0, False))
        self._interaction_places[token] = (channel_id, ephemeral)
        return _json(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_id": str(response_id),
                    "response_message_loading": body["type"] == 5,
                    "response_message_ephemeral": False,
                },
                "resource": {"type": body["type"]},
            }
        )

    async def _edit_webhook_message(self, parts: list[str], body: Any, query: Any) -> web.Response:
        token, message_id = parts[2], parts[4]
        followup = self.followups.get(int(message_id)) if message_id.isdigit() else None
        if followup is not None:
            followup["content"] = body.get("content", followup["content"])
            if "components" in body:
                followup["components"] = body["components"]
            return _json(followup)
        original = self.interaction_responses.setdefault(token, {"id": str(self.snowflake())})
        if message_id in ("@original", original["id"]):  # the original answers to both
            original["content"] = body.get("content", "")
            message_id = original["id"]
        return _json(self._webhook_message(token, int(message_id), body.get("content", "")))

    async def _followup(self, parts: list[str], body: Any, query: Any) -> web.Response:
        ephemeral = bool(body.get("flags", 0) & EPHEMERAL)
        token = parts[2]
        message = self._webhook_message(token, self.snowflake(), body.get("content", ""), ephemeral)
        message["components"] = body.get("components", [])
        self.followups[int(message["id"])] = message
        return _json(message)

    # ----- payloads -----------------------------------------------------------------------

    def _guild_of(self, channel_id: int) -> int | None:
        return self.guild_id if "guild_id" in self.channels[channel_id] else None

    def _message(
        self,
        channel_id: int,
        author: PeerUser,
        content: str,
        *,
        mentions: tuple[PeerUser, ...] = (),
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        guild_id = self._guild_of(channel_id)
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author.payload(),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [user.payload() for user in mentions],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
            member = author.member()
            del member["user"]
            message["member"] = member
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                "guild_id": str(guild_id) if guild_id else None,
            }
            referenced = self.messages[channel_id].get(reply_to)
            # Discord resolves one level of a reply chain; deeper levels must be fetched.
            message["referenced_message"] = (
                {k: v for k, v in referenced.items() if k != "referenced_message"}
                if referenced
                else None
            )
        self.messages[channel_id][message_id] = message
        return message

    def _webhook_message(
        self, token: str, message_id: int, content: str, ephemeral: bool | None = None
    ) -> dict[str, Any]:
        """An interaction's response or follow-up: like Discord, a message in the channel the
        interaction came from, which people can reply to, unless only its user sees it."""
        channel_id, ephemeral_response = self._interaction_places.get(token, (0, True))
        hidden = ephemeral_response if ephemeral is None else ephemeral
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot.payload(),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 20,
            "flags": EPHEMERAL if hidden else 0,
            "webhook_id": str(self.application_id),
        }
        if channel_id and not hidden:
            self.messages[channel_id][message_id] = message
        return message


def _role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def _writes_message(request: Recorded) -> bool:
    parts = request.path.strip("/").split("/")
    creates = request.method == "POST" and (
        (len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages")
        or (len(parts) == 3 and parts[0] == "webhooks")
    )
    edits = request.method == "PATCH" and "messages" in parts
    return creates or edits


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly application/json: with a charset discord.py reads the body as text.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )
