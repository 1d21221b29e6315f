"""The Discord peer's state, the set-up tests do, what users do, and what tests look at."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.peers.discord_peer import payloads
from tests.peers.discord_peer.gateway import Gateway, Session
from tests.peers.discord_peer.payloads import DISCORD_EPOCH_MS, PeerUser, fake_token, now
from tests.peers.discord_peer.recorded import Recorded
from tests.peers.discord_peer.server import discord_app
from tests.peers.loopback import LoopbackServer


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
        self.interaction_places: dict[str, tuple[int, bool]] = {}
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
        self.refuses_threads = False
        """Refuse to start threads with 403 Missing Permissions, as for a bot lacking the right."""
        """How many next message edits fail with 503 (Discord briefly unavailable)."""
        self.rejects_token = False
        """Answer GET /users/@me with 401, as Discord does for a reset token."""
        self.gateway = Gateway(self._welcome, self.changed)
        self._changed = asyncio.Event()
        self._server = LoopbackServer()

    # ----- set-up -------------------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0xFFF)

    def add_member(self, name: str, *, bot: bool = False, admin: bool = False) -> PeerUser:
        user = PeerUser(self.snowflake(), name, bot=bot, roles=(self.admin_role,) if admin else ())
        self.members[user.id] = user
        return user

    def add_channel(self, name: str) -> int:
        channel_id = self.snowflake()
        position = len(self.channels)
        self.channels[channel_id] = payloads.text_channel(channel_id, self.guild_id, name, position)
        self.messages[channel_id] = {}
        return channel_id

    def add_dm(self, user: PeerUser) -> int:
        channel_id = self.snowflake()
        self.channels[channel_id] = payloads.dm_channel(channel_id, user)
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
        thread = self.store_thread(thread_id, parent_id, name, owner.id)
        if starter is not None:
            marker = self.store_message(thread_id, owner, "")
            marker["type"] = 21
            marker["message_reference"] = {
                "message_id": str(starter),
                "channel_id": str(parent_id),
                "guild_id": str(self.guild_id),
            }
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, self.guild_id)
        return thread_id

    # ----- lifecycle ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.url()

    @property
    def api_url(self) -> str:
        return self._server.url("/api/v10")

    @property
    def gateway_url(self) -> str:
        return self._server.url("/gw/", scheme="ws")

    async def start(self) -> None:
        await self._server.start(discord_app(self))

    async def close(self) -> None:
        await self.gateway.close()
        await self._server.stop()

    # ----- gateway ------------------------------------------------------------------------

    def _welcome(self, session: Session) -> tuple[dict[str, Any], dict[str, Any] | None]:
        serves_guild = session.serves(self.guild_id)
        ready = {
            "v": 10,
            "user": self.bot.me(),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}] if serves_guild else [],
            "session_id": f"session-{id(session)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "shard": list(session.shard),
            "private_channels": [],
            "relationships": [],
        }
        if not serves_guild:
            return ready, None
        channels, members = list(self.channels.values()), list(self.members.values())
        return ready, payloads.guild(self.guild_id, self.admin_role, channels, members)

    async def close_sessions(self, code: int) -> None:
        """Close every gateway session with this close code (4013, say: one the client does not
        reconnect after)."""
        await self.gateway.close(code)

    @property
    def connected(self) -> int:
        """How many gateway sessions have identified."""
        return self.gateway.identified

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        await self.gateway.dispatch(event, data, guild_id)

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
        message = self.store_message(
            channel_id, author, content, mentions=mentions, reply_to=reply_to
        )
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
            await self.dispatch("MESSAGE_CREATE", message, self.guild_of(channel_id))
        return message

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> None:
        """Its author edits a message: MESSAGE_UPDATE carries the whole message, as in API v10."""
        message = self.messages[channel_id][message_id]
        message["content"], message["edited_timestamp"] = content, now()
        await self.dispatch("MESSAGE_UPDATE", message, self.guild_of(channel_id))

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """Someone deletes a message: MESSAGE_DELETE carries only its ids."""
        del self.messages[channel_id][message_id]
        guild_id = self.guild_of(channel_id)
        ids = {"id": str(message_id), "channel_id": str(channel_id)}
        if guild_id is not None:
            ids["guild_id"] = str(guild_id)
        await self.dispatch("MESSAGE_DELETE", ids, guild_id)

    def add_history(self, channel_id: int, author: PeerUser, content: str) -> dict[str, Any]:
        """A message that was sent before the client connected: kept, not dispatched."""
        return self.store_message(channel_id, author, content)

    def loose_message(self, channel_id: int, author: PeerUser, content: str) -> dict[str, Any]:
        """A user message payload the peer does not keep: for tests that break it, then send it
        with `dispatch` as a raw gateway event."""
        message = self.store_message(channel_id, author, content)
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
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(3, channel_id, user, {"message": message, "data": data})

    async def _interact(
        self,
        kind: int,
        channel_id: int,
        user: PeerUser,
        fields: dict[str, Any],
        permissions: int | None = None,
    ) -> str:
        data = payloads.interaction(
            self.snowflake(),
            self.application_id,
            kind,
            self.channels[channel_id],
            self.guild_of(channel_id),
            user,
            permissions,
            fields,
            installed_in=self.guild_id,
        )
        token = data["token"]
        self.interaction_places[token] = (channel_id, False)
        await self.dispatch("INTERACTION_CREATE", data, self.guild_of(channel_id))
        return token

    # ----- what tests look at -------------------------------------------------------------

    def calls(self, method: str, prefix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def message_writes(self) -> list[Recorded]:
        """Every request that creates or edits a visible message (channel or interaction)."""
        return [r for r in self.requests if r.writes_message]

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

    def changed(self) -> None:
        """Wake `wait_for`: the REST API or the gateway changed what the peer holds."""
        self._changed.set()

    # ----- what the handlers keep ---------------------------------------------------------

    def guild_of(self, channel_id: int) -> int | None:
        return self.guild_id if "guild_id" in self.channels[channel_id] else None

    def store_thread(
        self, thread_id: int, parent_id: int, name: str, owner_id: int
    ) -> dict[str, Any]:
        thread = payloads.thread(thread_id, self.guild_id, parent_id, name, owner_id)
        self.channels[thread_id] = thread
        self.messages[thread_id] = {}
        return thread

    def store_message(
        self,
        channel_id: int,
        author: PeerUser,
        content: str,
        *,
        mentions: tuple[PeerUser, ...] = (),
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A new message in a channel, kept in `messages`."""
        message_id = self.snowflake()
        referenced = self.messages[channel_id].get(reply_to) if reply_to is not None else None
        message = payloads.message(
            message_id,
            channel_id,
            self.guild_of(channel_id),
            author,
            content,
            mentions=mentions,
            reply_to=reply_to,
            referenced=referenced,
        )
        self.messages[channel_id][message_id] = message
        return message

    def webhook_message(
        self, token: str, message_id: int, content: str, ephemeral: bool | None = None
    ) -> dict[str, Any]:
        """An interaction's response or follow-up: like Discord, a message in the channel the
        interaction came from, which people can reply to, unless only its user sees it."""
        channel_id, ephemeral_response = self.interaction_places.get(token, (0, True))
        hidden = ephemeral_response if ephemeral is None else ephemeral
        message = payloads.webhook_message(
            message_id, channel_id, self.bot, self.application_id, content, hidden
        )
        if channel_id and not hidden:
            self.messages[channel_id][message_id] = message
        return message
