"""What a tool is to the core: a spec the model sees, whether it acts, and how to run it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.llm.base import ToolSpec
from bot.types import History


class ToolFailed(Exception):
    """A tool call that did not return a result; its message is one short line for the model."""


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who asked for a call: what a built-in tool may use (never a platform name)."""

    user_id: str
    time_zone: str | None = None
    """The asker's IANA zone where the door knows it."""
    history: History | None = None
    """How to read the place the turn is in, where the door can (read only when called)."""


Run = Callable[[Mapping[str, Any], CallContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool as the core knows it: `spec.name` is `server.tool`."""

    spec: ToolSpec
    server: str
    acting: bool
    """Whether it has side effects (MCP annotations or config): it runs after the asker's click."""
    run: Run
    reads_place: bool = False
    """Offered only to a turn whose door can read the place's history."""

    @property
    def name(self) -> str:
        return self.spec.name


class ToolSource(Protocol):
    """A provider of tools (the built-ins, an MCP server); `tools()` lists those usable now."""

    name: str

    def tools(self) -> list[Tool]: ...
