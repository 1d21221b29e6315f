"""The tools part of the config file: `[mcp.servers.NAME]` and `[tools]`, checked once at start.

Header and env values of the form `env:NAME` are read from the environment when a server starts,
so the file never holds a secret (and nothing here is ever logged).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.config import ConfigError
from bot.tools.builtin import NAMESPACES

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
ENV_PREFIX = "env:"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One MCP server: a command to start (stdio) or a URL (streamable HTTP)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    acting: tuple[str, ...] = ()
    """Tools (names without the server, or "*") that need approval whatever their annotations."""

    def resolved_env(self) -> dict[str, str]:
        return {
            key: resolve(value, f"mcp.servers.{self.name}.env.{key}")
            for key, value in self.env.items()
        }

    def resolved_headers(self) -> dict[str, str]:
        return {
            key: resolve(value, f"mcp.servers.{self.name}.headers.{key}")
            for key, value in self.headers.items()
        }


@dataclass(frozen=True, slots=True)
class ToolConfig:
    servers: dict[str, ServerConfig] = field(default_factory=dict)
    allow: dict[str, list[str]] = field(default_factory=dict)
    """Place -> tool patterns; empty: every configured tool everywhere."""
    preapproved: dict[str, list[str]] = field(default_factory=dict)
    """Place -> acting tool patterns that run there without a click."""


def resolve(value: str, where: str) -> str:
    """A config value, or the environment variable it names with `env:NAME`."""
    if not value.startswith(ENV_PREFIX):
        return value
    name = value[len(ENV_PREFIX) :]
    found = os.environ.get(name)
    if found is None:
        raise ConfigError(
            f"{where} names the environment variable {name}, which is not set: set it"
        )
    return found


def parse(mcp: Mapping[str, Any], tools: Mapping[str, Any]) -> ToolConfig:
    """The config file's `mcp` and `tools` tables; ConfigError names the key and the fix."""
    servers_table = _table(mcp.get("servers", {}), "mcp.servers")
    unknown = set(mcp) - {"servers"}
    if unknown:
        raise ConfigError(f"unknown key mcp.{sorted(unknown)[0]}: only [mcp.servers.NAME] tables")
    servers = {
        name: _server(name, _table(table, f"mcp.servers.{name}"))
        for name, table in servers_table.items()
    }
    unknown = set(tools) - {"allow", "preapproved"}
    if unknown:
        raise ConfigError(
            f"unknown key tools.{sorted(unknown)[0]}: [tools] takes allow and preapproved"
        )
    return ToolConfig(
        servers=servers,
        allow=_places(tools.get("allow", {}), "tools.allow"),
        preapproved=_places(tools.get("preapproved", {}), "tools.preapproved"),
    )


def _server(name: str, table: Mapping[str, Any]) -> ServerConfig:
    where = f"mcp.servers.{name}"
    if not _NAME.match(name) or name in NAMESPACES:
        raise ConfigError(
            f"{where}: name a server with 1-32 letters, digits, _ or -, and not "
            f"{', '.join(sorted(NAMESPACES))} (built in)"
        )
    unknown = set(table) - {"command", "args", "env", "url", "headers", "acting"}
    if unknown:
        raise ConfigError(f"unknown key {where}.{sorted(unknown)[0]}: see docs/tools.md")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise ConfigError(f"{where}: give either command (stdio) or url (streamable HTTP)")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}.url: an http:// or https:// address")
    if command is not None and not (isinstance(command, str) and command):
        raise ConfigError(f"{where}.command: the program to start, as a string")
    if url is None and "headers" in table:
        raise ConfigError(f"{where}.headers: only for a url server")
    if command is None and ("args" in table or "env" in table):
        raise ConfigError(f"{where}: args and env are only for a command server")
    return ServerConfig(
        name=name,
        command=command,
        args=tuple(_strings(table.get("args", []), f"{where}.args")),
        env=_string_table(table.get("env", {}), f"{where}.env"),
        url=url,
        headers=_string_table(table.get("headers", {}), f"{where}.headers"),
        acting=tuple(_strings(table.get("acting", []), f"{where}.acting")),
    )


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: a table")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: a list of strings")
    return value


def _string_table(value: Any, where: str) -> dict[str, str]:
    table = _table(value, where)
    if not all(isinstance(item, str) for item in table.values()):
        raise ConfigError(f'{where}: string values (secrets as "env:NAME")')
    return dict(table)


def _places(value: Any, where: str) -> dict[str, list[str]]:
    table = _table(value, where)
    return {place: _strings(patterns, f'{where}."{place}"') for place, patterns in table.items()}
