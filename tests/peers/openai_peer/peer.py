"""The model peer's settings, what it was asked (for assertions), and its server."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import web

from tests.peers.loopback import LoopbackServer
from tests.peers.openai_peer import handlers
from tests.peers.openai_peer.script import CallTools, Fault, echo_answer


@dataclass
class OpenAIPeer:
    answer: Callable[[dict[str, Any]], str | CallTools] = echo_answer
    chunk_chars: int = 4
    chunk_delay: float = 0.0
    models: tuple[str, ...] = ("peer-model",)
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every chat completion request's body."""
    faults: deque[Fault] = field(default_factory=deque)
    cached_tokens: int = 0
    """Prompt tokens every streamed answer reports as read from the cache."""
    flagged_words: dict[str, str] = field(default_factory=lambda: {"FLAGME": "violence"})
    """Moderation: a text containing a word is flagged for its category."""
    moderated: list[str] = field(default_factory=list)
    """Every text /v1/moderations was asked about."""
    model_listings: int = 0
    """How many GET /v1/models requests arrived (readiness probes, model discovery)."""
    calls_made: int = 0
    """Tool calls issued so far (each gets the id call_N)."""
    _server: LoopbackServer = field(default_factory=LoopbackServer)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.url("/v1")

    async def start(self) -> OpenAIPeer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", partial(handlers.completions, self))
        app.router.add_get("/v1/models", partial(handlers.models, self))
        app.router.add_post("/v1/moderations", partial(handlers.moderations, self))
        # A hanging request (Fault.hang) must not hold up the peer's own shutdown.
        await self._server.start(app, shutdown_timeout=0.5)
        return self

    async def stop(self) -> None:
        await self._server.stop()

    def next_call_id(self) -> str:
        self.calls_made += 1
        return f"call_{self.calls_made}"
