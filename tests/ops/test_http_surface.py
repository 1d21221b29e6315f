"""The process's HTTP server: /readyz probes upstream sparingly; /metrics can listen apart."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.config import Settings
from bot.wiring import open_runtime
from tests.peers.openai_peer import OpenAIPeer


async def test_a_burst_of_readyz_costs_one_upstream_call(
    peer_settings: Settings, openai_peer: OpenAIPeer
) -> None:
    async with open_runtime(peer_settings) as runtime:
        await runtime.ops.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{runtime.ops.port}/readyz"
        before = openai_peer.model_listings
        async with aiohttp.ClientSession() as session:

            async def ready() -> int:
                async with session.get(url) as response:
                    return response.status

            statuses = await asyncio.gather(*(ready() for _ in range(25)))
            statuses += [await ready() for _ in range(25)]
        await runtime.ops.stop()
    assert statuses == [200] * 50
    assert openai_peer.model_listings - before == 1


async def test_metrics_can_listen_apart_from_the_public_port(peer_settings: Settings) -> None:
    async with open_runtime(peer_settings) as runtime:
        await runtime.ops.start("127.0.0.1", 0, metrics_host="127.0.0.1", metrics_port=0)
        public = f"http://127.0.0.1:{runtime.ops.port}"
        private = f"http://127.0.0.1:{runtime.ops.metrics_port}"
        assert runtime.ops.port != runtime.ops.metrics_port
        async with aiohttp.ClientSession() as session:
            statuses = []
            for url in (f"{public}/metrics", f"{public}/healthz", f"{private}/metrics"):
                async with session.get(url) as response:
                    statuses.append(response.status)
                    body = await response.text()
            async with session.get(f"{private}/healthz") as response:
                statuses.append(response.status)
        await runtime.ops.stop()
    assert statuses == [404, 200, 200, 404]
    assert "parley_turns_in_flight" in body
