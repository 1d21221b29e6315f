"""Point one discord.py client at the configured REST and gateway URLs (proxies, compatible
servers, tests), leaving discord.py's class attributes, and so every other client, untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where one client's REST calls and gateway connections go instead of Discord's own."""

    api: str
    gateway: yarl.URL | None = None

    @classmethod
    def of(cls, api_url: str, gateway_url: str | None) -> Endpoints:
        return cls(api_url.rstrip("/"), yarl.URL(gateway_url) if gateway_url else None)

    def rest(self, route: Route) -> Route:
        """The route with its URL on the configured REST base (discord.py built it on its own)."""
        if route.url.startswith(Route.BASE):
            route.url = self.api + route.url[len(Route.BASE) :]
        return route

    def websocket(self, url: str) -> str:
        """The gateway URL to dial: the configured one in place of Discord's default (with the
        query discord.py built); a resume URL the gateway itself sent is kept."""
        default = DiscordWebSocket.DEFAULT_GATEWAY
        dialled = yarl.URL(url)
        if self.gateway is None or dialled.with_query(None) != default:
            return url
        return str(self.gateway.with_query(dialled.query))


def point_client(client: discord.Client, endpoints: Endpoints) -> None:
    """Send this client's REST requests and gateway connections to `endpoints`.

    discord.py builds every URL from class attributes (`Route.BASE`, `DEFAULT_GATEWAY`) and has
    no per-client setting, so this client's own HTTPClient rewrites them as it sends. A Client
    (and an AutoShardedClient given a shard count) dials DEFAULT_GATEWAY without asking
    GET /gateway/bot; resumes then use the `resume_gateway_url` the gateway sends in READY.
    """
    http = client.http
    request, ws_connect = http.request, http.ws_connect

    async def rebased_request(route: Route, **kwargs: Any) -> Any:
        return await request(endpoints.rest(route), **kwargs)

    async def rebased_ws_connect(url: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
        return await ws_connect(endpoints.websocket(url), **kwargs)

    http.request = rebased_request  # type: ignore[method-assign]
    http.ws_connect = rebased_ws_connect  # type: ignore[method-assign]


class _RebasedWebhooks(AsyncWebhookAdapter):
    """Interaction responses and follow-ups (discord.py sends them as webhook calls)."""

    def __init__(self, endpoints: Endpoints) -> None:
        super().__init__()
        self._endpoints = endpoints

    async def request(self, route: Route, *args: Any, **kwargs: Any) -> Any:
        return await super().request(self._endpoints.rest(route), *args, **kwargs)


@contextmanager
def webhooks_to(endpoints: Endpoints) -> Iterator[None]:
    """Interaction responses made in this context (and the tasks it starts) go to `endpoints`.

    discord.py picks its webhook adapter from a context variable, made for this: no other task's
    calls change.
    """
    token = async_context.set(_RebasedWebhooks(endpoints))
    try:
        yield
    finally:
        async_context.reset(token)
