"""MCP servers through the real SDK: tools listed and namespaced, annotations read, calls over
stdio and streamable HTTP, header secrets from the environment, a crash hidden and restarted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.tools.base import CallContext, ToolFailed
from bot.tools.mcp import McpServer, McpServers
from bot.tools.settings import ServerConfig
from tests.tools.conftest import stdio_server

ASKER = CallContext("dana")


async def started(config: ServerConfig) -> McpServers:
    servers = McpServers({config.name: config})
    await servers.start()
    return servers


async def test_stdio_tools_are_namespaced_and_acting_follows_the_annotations() -> None:
    servers = await started(stdio_server(acting=("lookup",)))
    try:
        (server,) = servers.sources()
        acting = {tool.name: tool.acting for tool in server.tools()}
        assert acting == {
            "jira.lookup": True,  # read-only, but config marks it acting
            "jira.create_ticket": True,  # no readOnlyHint: acting
            "jira.big": False,
            "jira.crash": False,
            "jira.reveal": False,
        }
        tools = {tool.name: tool for tool in server.tools()}
        assert "status OPEN" in await tools["jira.lookup"].run({"query": "PRJ-1"}, ASKER)
    finally:
        await servers.aclose()


async def test_streamable_http_with_a_header_from_the_environment(
    http_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MCP_TOKEN", "Bearer s3cret")
    config = ServerConfig(
        "web",
        url=f"http://127.0.0.1:{http_server}/mcp",
        headers={"Authorization": "env:TEST_MCP_TOKEN"},
    )
    servers = await started(config)
    try:
        (server,) = servers.sources()
        tools = {tool.name: tool for tool in server.tools()}
        assert set(tools) == {
            "web.lookup",
            "web.create_ticket",
            "web.big",
            "web.crash",
            "web.reveal",
        }
        assert "PRJ-7" in await tools["web.lookup"].run({"query": "PRJ-7"}, ASKER)
    finally:
        await servers.aclose()


async def test_a_server_that_dies_mid_call_is_one_line_hidden_then_restarted(
    tmp_path: Path,
) -> None:
    log = tmp_path / "calls.log"
    server = McpServer(stdio_server(log=log), backoff=(0.2,))
    server.start()
    try:
        assert await server.ready()
        crash = next(tool for tool in server.tools() if tool.name == "jira.crash")
        with pytest.raises(ToolFailed, match=r"^the jira server stopped during the call$"):
            await crash.run({}, ASKER)
        assert server.tools() == []  # hidden while it is down
        for _ in range(200):
            if server.tools():
                break
            await asyncio.sleep(0.05)
        lookup = next(tool for tool in server.tools() if tool.name == "jira.lookup")
        assert "PRJ-2" in await lookup.run({"query": "PRJ-2"}, ASKER)
        assert log.read_text().splitlines() == ["crash", "lookup PRJ-2"]
    finally:
        await server.aclose()


async def test_a_call_on_a_server_that_is_down_is_one_short_line() -> None:
    server = McpServer(ServerConfig("gone", command="/nonexistent/mcp-server"), backoff=(60.0,))
    server.start()
    try:
        assert not await server.ready()
        assert server.tools() == []
        assert server.last_error is not None and "\n" not in server.last_error
    finally:
        await server.aclose()


async def test_a_ten_megabyte_result_comes_back_whole_for_the_core_to_cap() -> None:
    servers = await started(stdio_server())
    try:
        (server,) = servers.sources()
        big = next(tool for tool in server.tools() if tool.name == "jira.big")
        assert len(await big.run({}, ASKER)) == 10_000_000
    finally:
        await servers.aclose()


async def test_a_tool_added_later_is_offered_once_the_server_says_its_list_changed() -> None:
    servers = await started(stdio_server())
    try:
        (server,) = servers.sources()
        tools = {tool.name: tool for tool in server.tools()}
        assert "jira.report" not in tools
        await tools["jira.reveal"].run({}, ASKER)
        for _ in range(200):  # the client lists the tools again on the change event
            if "jira.report" in {tool.name for tool in server.tools()}:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the new tool was never listed")
        report = next(tool for tool in server.tools() if tool.name == "jira.report")
        assert not report.acting
        assert "3 tickets opened" in await report.run({}, ASKER)
    finally:
        await servers.aclose()
