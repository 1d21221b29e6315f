"""The toolbox of a process: the built-in tools and the configured MCP servers (started with
Parley and stopped with it), the place policy, approvals and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.metrics import Metrics
from bot.store.base import Store
from bot.tools.approvals import Approvals
from bot.tools.base import ToolSource
from bot.tools.builtin import BuiltinTools
from bot.tools.loop import Toolbox, ToolLimits
from bot.tools.policy import ToolPolicy


def tool_limits(settings: Settings) -> ToolLimits:
    return ToolLimits(
        max_steps=settings.tool_max_steps,
        call_timeout=settings.tool_call_timeout,
        max_result_bytes=settings.tool_max_result_bytes,
    )


@asynccontextmanager
async def open_toolbox(
    settings: Settings, store: Store, metrics: Metrics
) -> AsyncIterator[Toolbox]:
    """The toolbox; MCP servers (and the mcp SDK) only when the config declares some."""
    from bot.tools.settings import parse

    config = parse(settings.mcp, settings.tools)
    sources: list[ToolSource] = [BuiltinTools()]
    servers = None
    if config.servers:
        from bot.tools.mcp import McpServers

        servers = McpServers(config.servers)
        await servers.start()
        sources.extend(servers.sources())
    try:
        yield Toolbox(
            sources,
            ToolPolicy(config.allow, config.preapproved),
            Approvals(store, settings.tool_approval_timeout),
            store,
            metrics,
            tool_limits(settings),
        )
    finally:
        if servers is not None:
            await servers.aclose()
