"""Built-in tools: small, safe, read-only, and reaching no network beyond the door's own."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.llm.base import ToolSpec
from bot.tools.base import CallContext, Tool, ToolFailed

SERVER = "time"
PLACE = "place"
NAMESPACES = frozenset({SERVER, PLACE})
"""The built-in tools' server names: an MCP server may not take them."""
RECENT_DEFAULT = 20
RECENT_MAX = 50
"""Messages place.recent reads at most: one history page on every platform."""
RECENT_CHARS = 1000
"""Characters of each message kept (the loop caps the whole result too)."""


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _askers_zone(context: CallContext) -> ZoneInfo:
    return (context.time_zone and _zone(context.time_zone)) or ZoneInfo("UTC")


async def _now(arguments: Mapping[str, Any], context: CallContext) -> str:
    """In the zone the model asks for, else the asker's (an unknown one of theirs: UTC)."""
    asked = arguments.get("timezone")
    if asked:
        zone = _zone(str(asked))
        if zone is None:
            raise ToolFailed(f"unknown time zone {str(asked)[:40]!r}")
    else:
        zone = _askers_zone(context)
    now = datetime.now(UTC).astimezone(zone)
    return f"{now.strftime('%A %Y-%m-%d %H:%M:%S')} {zone.key} (UTC{now.strftime('%z')})"


NOW = Tool(
    ToolSpec(
        "time.now",
        "The current date and time, in the user's time zone where known, else UTC.",
        {
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "An IANA zone such as Europe/Paris (optional)",
                }
            },
        },
    ),
    SERVER,
    acting=False,
    run=_now,
)


async def _recent(arguments: Mapping[str, Any], context: CallContext) -> str:
    """The place's last messages, oldest first, each with its time, author and link."""
    count = arguments.get("count", RECENT_DEFAULT)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ToolFailed(f"count: a whole number from 1 to {RECENT_MAX}")
    if context.history is None:
        raise ToolFailed("this place's history cannot be read here")
    zone = _askers_zone(context)
    lines = []
    async with aclosing(context.history(0.0, min(count, RECENT_MAX))) as messages:
        async for message in messages:
            at = datetime.fromtimestamp(message.at, zone).strftime("%Y-%m-%d %H:%M")
            text = message.text[:RECENT_CHARS].replace("\n", " ")
            lines.append(f"[{at}] {message.author}: {text} ({message.link})")
    if not lines:
        return "No messages here yet."
    return f"Times in {zone.key}, oldest first:\n" + "\n".join(reversed(lines))


RECENT = Tool(
    ToolSpec(
        "place.recent",
        "The latest messages of the channel or thread this conversation is in, with links.",
        {
            "type": "object",
            "properties": {
                "count": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": RECENT_MAX,
                    "description": f"How many messages (default {RECENT_DEFAULT})",
                }
            },
        },
    ),
    PLACE,
    acting=False,
    run=_recent,
    reads_place=True,
)


class BuiltinTools:
    """The built-in tools, always there (place.recent only where the door can read the place)."""

    name = SERVER

    def tools(self) -> list[Tool]:
        return [NOW, RECENT]
