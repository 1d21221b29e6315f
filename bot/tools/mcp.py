"""MCP servers as tool sources, on the official `mcp` SDK (imported only when one is configured).

Each server runs under a supervisor task: connect (start the command over stdio, or reach the
URL over streamable HTTP), list its tools, refresh them on `list_changed`, ping it while idle;
when it dies its tools are hidden and it is restarted with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from functools import partial
from typing import Any

from bot.extras import require
from bot.llm.base import ToolSpec
from bot.tools.base import CallContext, Tool, ToolFailed
from bot.tools.settings import ServerConfig

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
PING_SECONDS = 10.0
"""How often an idle server is pinged, so a dead one is noticed (and restarted) before a call."""
CONNECT_TIMEOUT = 30.0
ERROR_CHARS = 200


def acting(tool: Any, marked: Sequence[str]) -> bool:
    """Whether a tool needs the asker's approval: unless its annotations say it is read-only
    (`readOnlyHint: true`; absent means false, per the MCP spec), or when config marks it."""
    annotations = tool.annotations
    read_only = annotations is not None and annotations.read_only_hint is True
    return not read_only or tool.name in marked or "*" in marked


def result_text(result: Any) -> str:
    """A CallToolResult as text for the model: its text blocks, else its structured content."""
    parts = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and hasattr(block.resource, "text"):
            parts.append(block.resource.text)
        else:
            parts.append(f"[{kind or 'content'} not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


class McpServer:
    """One configured server: a ToolSource whose tools are `NAME.tool`, empty while it is down."""

    def __init__(self, config: ServerConfig, *, backoff: Sequence[float] = BACKOFF_SECONDS) -> None:
        self.name = config.name
        self._config = config
        self._backoff = backoff
        self._client: Any = None
        self._tools: list[Tool] = []
        self._lost = asyncio.Event()
        self._relist = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        """Why the server is down, in one line (for `parley doctor`); None while it is up."""

    @property
    def up(self) -> bool:
        return self._client is not None

    def tools(self) -> list[Tool]:
        return list(self._tools) if self._client is not None else []

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.name}")

    async def ready(self) -> bool:
        """Wait until the first connection attempt ended; whether the server is up."""
        await self._ready.wait()
        return self.up

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _supervise(self) -> None:
        attempt = 0
        while True:
            try:
                async with AsyncExitStack() as stack:
                    # asyncio.timeout, not wait_for: the SDK's task groups must be entered and
                    # left by this same task.
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        client = await self._connect(stack)
                        await self._list(client)
                    self._client, self.last_error, attempt = client, None, 0
                    self._ready.set()
                    log.info("MCP server %s is up with %d tools", self.name, len(self._tools))
                    await self._watch(client)
            except asyncio.CancelledError:
                raise
            except BaseException as error:  # the SDK raises exception groups from its task groups
                self.last_error = _one_line(error)
                log.warning("MCP server %s is down: %s", self.name, self.last_error)
            finally:
                self._client = None
            self._ready.set()
            await asyncio.sleep(self._backoff[min(attempt, len(self._backoff) - 1)])
            attempt += 1

    async def _connect(self, stack: AsyncExitStack) -> Any:
        from mcp import Client, StdioServerParameters

        config = self._config
        target: Any
        if config.command is not None:
            env = config.resolved_env()
            target = StdioServerParameters(command=config.command, args=list(config.args), env=env)
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            assert config.url is not None
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=config.resolved_headers(), timeout=httpx2.Timeout(30.0, read=300.0)
                )
            )
            target = streamable_http_client(config.url, http_client=http)
        client = Client(target, message_handler=self._on_message, cache=None)
        return await stack.enter_async_context(client)

    async def _list(self, client: Any) -> None:
        found: list[Any] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            found.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        self._tools = [self._tool(tool) for tool in found]

    def _tool(self, tool: Any) -> Tool:
        spec = ToolSpec(
            f"{self.name}.{tool.name}",
            (tool.description or tool.title or "")[:1024],
            tool.input_schema or {"type": "object"},
        )
        return Tool(
            spec, self.name, acting(tool, self._config.acting), partial(self._call, tool.name)
        )

    async def _watch(self, client: Any) -> None:
        """Until the server is lost (a call found it gone, or its change stream ended): keep
        its tools current."""
        changes = asyncio.ensure_future(self._follow_changes(client))
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({changes, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (changes, lost):
                waiter.cancel()
            await asyncio.gather(changes, lost, return_exceptions=True)
        self._lost.clear()
        self._client = None  # its tools are hidden at once, before the connection is torn down
        raise ConnectionError("the connection was lost")

    async def _follow_changes(self, client: Any) -> None:
        """A 2026-07-28 server tells of changed tools on a `subscriptions/listen` stream (which
        ends when the server goes); an older one sends `list_changed` notifications and
        answers pings, which this checks while idle."""
        from mcp.client.subscriptions import ListenNotSupportedError

        try:
            async with client.listen(tools_list_changed=True) as changes:
                async for _ in changes:
                    await self._relisted(client)
        except ListenNotSupportedError:
            await self._follow_notifications(client)

    async def _follow_notifications(self, client: Any) -> None:
        while True:
            try:
                async with asyncio.timeout(PING_SECONDS):
                    await self._relist.wait()
            except TimeoutError:
                async with asyncio.timeout(PING_SECONDS):
                    await client.send_ping()
                continue
            self._relist.clear()
            await self._relisted(client)

    async def _relisted(self, client: Any) -> None:
        await self._list(client)
        log.info("MCP server %s now has %d tools", self.name, len(self._tools))

    def _lose(self) -> None:
        """Hide the tools now and let the supervisor restart the server."""
        self._client = None
        self._lost.set()

    async def _on_message(self, message: Any) -> None:
        import mcp_types

        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._relist.set()
        elif isinstance(message, Exception):
            log.debug("MCP server %s transport error: %s", self.name, _one_line(message))

    async def _call(self, tool: str, arguments: Mapping[str, Any], context: CallContext) -> str:
        client = self._client
        if client is None:
            raise ToolFailed(f"the {self.name} server is unavailable right now")
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        try:
            result = await client.call_tool(tool, dict(arguments))
        except MCPError as error:
            if error.code != CONNECTION_CLOSED:  # the server answered with an error
                raise ToolFailed(error.message[:ERROR_CHARS]) from error
            self._lose()
            raise ToolFailed(f"the {self.name} server stopped during the call") from error
        except Exception as error:  # the connection broke: restart the server
            self._lose()
            raise ToolFailed(f"the {self.name} server stopped during the call") from error
        text = result_text(result)
        if result.is_error:
            raise ToolFailed(text[:ERROR_CHARS] or f"`{self.name}.{tool}` failed")
        return text


class McpServers:
    """Every configured server, started with Parley and stopped with it."""

    def __init__(self, configs: Mapping[str, ServerConfig]) -> None:
        if configs:
            require("mcp", "mcp", "MCP servers ([mcp.servers] in the config)")
        self.servers = [McpServer(config) for config in configs.values()]

    async def start(self, wait: float = 10.0) -> None:
        """Start every server; wait up to `wait` seconds for their tools (a slow one joins
        later)."""
        for server in self.servers:
            server.start()
        with suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await asyncio.gather(*(server.ready() for server in self.servers))

    def sources(self) -> list[McpServer]:
        return list(self.servers)

    async def aclose(self) -> None:
        await asyncio.gather(*(server.aclose() for server in self.servers))


def _one_line(error: BaseException) -> str:
    """The innermost meaningful message of an error (exception groups unwrapped)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:ERROR_CHARS]}" if text else type(error).__name__
