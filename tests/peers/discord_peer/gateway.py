"""The gateway websocket: hello, heartbeats, IDENTIFY answered with READY and GUILD_CREATE, and
events dispatched to the sessions whose shard serves their guild."""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web


class Session:
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


Welcome = Callable[[Session], tuple[dict[str, Any], dict[str, Any] | None]]
"""For an identified session: its READY data and, when its shard serves the guild, the guild."""


class Gateway:
    """Every open session; `on_identified` runs after a session has its READY."""

    def __init__(self, welcome: Welcome, on_identified: Callable[[], None]) -> None:
        self.sessions: list[Session] = []
        self._welcome = welcome
        self._on_identified = on_identified

    @property
    def identified(self) -> int:
        return sum(session.identified for session in self.sessions)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = Session(ws, request.query.get("compress"))
        self.sessions.append(session)
        await session.send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await session.send({"op": 11, "d": None, "s": None, "t": None})
                elif message["op"] == 2:
                    await self._identify(session, message["d"])
        finally:
            self.sessions.remove(session)
        return ws

    async def _identify(self, session: Session, data: dict[str, Any]) -> None:
        shard = data.get("shard") or [0, 1]
        session.shard = (shard[0], shard[1])
        ready, guild = self._welcome(session)
        await session.send({"op": 0, "t": "READY", "d": ready})
        if guild is not None:
            await session.send({"op": 0, "t": "GUILD_CREATE", "d": guild})
        session.identified = True
        self._on_identified()

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        for session in list(self.sessions):
            if session.serves(guild_id):
                await session.send({"op": 0, "t": event, "d": data})

    async def close(self, code: int = WSCloseCode.OK) -> None:
        """Close every session with this close code."""
        for session in list(self.sessions):
            await session.ws.close(code=code)
