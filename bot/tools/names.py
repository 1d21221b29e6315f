"""Tools on the wire: OpenAI allows names ^[a-zA-Z0-9_-]{1,64}$, the core says `server.tool`;
the OpenAI function format, which chat templates read too."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from bot.llm.base import ToolSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX = 64


def wire_name(name: str) -> str:
    """A safe name for `name`, the same every time (history replays with it): unchanged when
    already safe, else made safe and suffixed with a digest so distinct names stay distinct."""
    if len(name) <= _MAX and not _UNSAFE.search(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', name)[: _MAX - 9]}_{digest}"


def function_schema(tool: ToolSpec) -> dict[str, Any]:
    """A tool in the OpenAI function format, under its wire name."""
    function = {"name": wire_name(tool.name), "description": tool.description}
    return {"type": "function", "function": {**function, "parameters": dict(tool.parameters)}}


def core_names(tools: Iterable[ToolSpec]) -> dict[str, str]:
    """Wire name -> core name, to read a model's calls back (an unknown name stays as written)."""
    return {wire_name(tool.name): tool.name for tool in tools}
