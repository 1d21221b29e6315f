"""`parley tools` (what the model may call, and where), `parley audit` (what it called), and the
doctor's check of each MCP server."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from bot.config import Settings
from bot.store.base import AuditQuery, ToolCallRecord
from bot.tools.base import Tool
from bot.tools.settings import ToolConfig, parse

START_SECONDS = 20.0
"""How long `parley tools` and `parley doctor` wait for the servers to list their tools."""


def where(name: str, allow: Mapping[str, Sequence[str]]) -> list[str]:
    """The places whose allowlist offers a tool (["*"]: everywhere, there is no allowlist)."""
    if not allow:
        return ["*"]
    return [
        place for place, patterns in allow.items() if any(fnmatchcase(name, p) for p in patterns)
    ]


async def available(config: ToolConfig) -> tuple[list[Tool], list[tuple[str, str]]]:
    """Every tool (the built-ins and each server's, servers started for the purpose) and the
    servers that are down, with why."""
    from bot.tools.builtin import BuiltinTools

    tools = list(BuiltinTools().tools())
    if not config.servers:
        return tools, []
    from bot.tools.mcp import McpServers

    servers = McpServers(config.servers)
    try:
        await servers.start(wait=START_SECONDS)
        down = []
        for server in servers.sources():
            tools.extend(server.tools())
            if not server.up:
                down.append((server.name, server.last_error or "did not start in time"))
        return tools, down
    finally:
        await servers.aclose()


def run_tools(args: argparse.Namespace) -> int:
    from bot.runner import prepare

    settings = prepare(args)
    config = parse(settings.mcp, settings.tools)
    tools, down = asyncio.run(available(config))
    rows = [
        {
            "name": tool.name,
            "server": tool.server,
            "acting": tool.acting,
            "where": where(tool.name, config.allow),
            "description": tool.spec.description,
        }
        for tool in tools
    ]
    if args.json:
        json.dump({"tools": rows, "down": dict(down)}, sys.stdout, indent=2)
        print()
    else:
        for row in rows:
            kind = "acting (asks approval)" if row["acting"] else "read-only"
            print(
                f"{row['name']}\t{row['server']}\t{kind}\t{', '.join(row['where']) or '(nowhere)'}"
            )
        for name, reason in down:
            print(f"{name}: down ({reason})", file=sys.stderr)
    return 1 if down else 0


def audit_line(record: ToolCallRecord) -> str:
    at = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    place = f"{record.platform}:{record.space}:{record.channel}"
    return (
        f"{at}  {place}  {record.user}  {record.tool}  {record.outcome}  "
        f"{record.duration_ms}ms  {record.result_bytes}B  sha256:{record.args_digest[:12]}"
    )


def run_audit(args: argparse.Namespace) -> int:
    from bot.runner import prepare
    from bot.store.factory import store_for
    from bot.usage import since

    settings = prepare(args)
    query = AuditQuery(since(args.since, time.time()), args.tool, args.user)

    async def read() -> list[ToolCallRecord]:
        store = store_for(settings)
        await store.open()
        try:
            return await store.tool_calls(query)
        finally:
            await store.close()

    records = asyncio.run(read())
    for record in records:
        print(json.dumps(asdict(record)) if args.json else audit_line(record))
    return 0


async def check_servers(settings: Settings) -> list[tuple[bool, str, str]]:
    """(ok, subject, detail) for each configured MCP server."""
    config = parse(settings.mcp, settings.tools)
    if not config.servers:
        return []
    tools, down = await available(config)
    failed = dict(down)
    counts: dict[str, int] = {}
    for tool in tools:
        counts[tool.server] = counts.get(tool.server, 0) + 1
    findings: list[tuple[bool, str, str]] = []
    for name, server in config.servers.items():
        subject = f"mcp {name}"
        if name in failed:
            fix = "fix its command" if server.command else "check its url and headers"
            findings.append((False, subject, f"{failed[name]}; {fix} in [mcp.servers.{name}]"))
        else:
            findings.append((True, subject, f"{counts.get(name, 0)} tools listed"))
    return findings
