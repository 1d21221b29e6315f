"""The Slack peer's workspace state, what the app did there, and its server."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers.loopback import LoopbackServer
from tests.peers.slack_peer import files, server, socket_mode
from tests.peers.slack_peer.recorded import Call, Ephemeral, Message


@dataclass
class SlackPeer:
    """Answers `POST /api/<method>` like Slack; `POST /respond/<id>` is a response_url."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each channel's earlier top-level messages, oldest first (conversations.history)."""
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """conversations.info's `channel` by id; unlisted: public (a DM if the id starts with D)."""
    members: dict[str, list[str]] = field(default_factory=dict)
    """conversations.members by channel id."""
    history_reads: Counter[tuple[str, str]] = field(default_factory=Counter)
    """How many times each (channel, ts) was sent in a conversations.history/replies page."""
    not_in_channel: set[str] = field(default_factory=set)
    streaming: bool = True
    users_stop_streams: bool = False
    rejects_tokens: bool = False
    """Answer auth.test with invalid_auth, as Slack does for a revoked token."""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=dict)
    """How many next calls of a method get HTTP 429 `ratelimited` with Retry-After: 1."""
    bot_token: str = "xoxb-test"
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """Shared files by id: (content, mimetype), served at /files-pri/<id>/<name> to the bot."""
    redirects: dict[str, str] = field(default_factory=dict)
    """File ids whose download answers 302 to this Location instead."""
    downloads: list[tuple[str, str, str]] = field(default_factory=list)
    """Each file request as (Host header, path, Authorization header)."""

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._server = LoopbackServer()
        self.sockets: list[web.WebSocketResponse] = []
        """The app's Socket Mode connections."""

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def api_url(self) -> str:
        return self._server.url("/api/")

    @property
    def socket_mode_url(self) -> str:
        return self._server.url("/link", scheme="ws")

    def response_url(self, name: str = "") -> str:
        return self._server.url(f"/respond/{name or uuid.uuid4().hex}")

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str | None) -> list[Message]:
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts
        ]

    async def wait_for(self, condition: Callable[[], object], within: float = 10.0) -> None:
        """Poll until condition() is truthy (listeners run after the ack)."""
        deadline = asyncio.get_running_loop().time() + within
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; calls: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.02)

    async def start(self) -> None:
        await self._server.start(server.slack_app(self))

    async def stop(self) -> None:
        for socket in self.sockets:
            await socket.close()
        await self._server.stop()

    async def _api(self, request: web.Request) -> web.Response:
        """The Web API's route: a subclass can hold or change a call around it."""
        return await server.api(self, request)

    @property
    def socket_connected(self) -> bool:
        return any(not socket.closed for socket in self.sockets)

    async def push(self, body: dict[str, Any], kind: str = "events_api") -> str:
        """Deliver a payload over Socket Mode, as Slack does; returns its envelope id."""
        return await socket_mode.push(self, body, kind)

    def share(self, file_id: str, name: str, mimetype: str, content: bytes) -> dict[str, Any]:
        """Store a file and return its object as a `message` event's `files` carries it."""
        self.files[file_id] = (content, mimetype)
        url = self._server.url(f"/files-pri/{file_id}/{name}")
        return files.file_object(file_id, name, mimetype, len(content), url)
