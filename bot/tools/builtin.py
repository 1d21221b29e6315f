"""Built-in tools: small, safe, and never reaching the network."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.llm.base import ToolSpec
from bot.tools.base import CallContext, Tool, ToolFailed

SERVER = "time"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def _now(arguments: Mapping[str, Any], context: CallContext) -> str:
    """In the zone the model asks for, else the asker's (an unknown one of theirs: UTC)."""
    asked = arguments.get("timezone")
    if asked:
        zone = _zone(str(asked))
        if zone is None:
            raise ToolFailed(f"unknown time zone {str(asked)[:40]!r}")
    else:
        zone = (context.time_zone and _zone(context.time_zone)) or ZoneInfo("UTC")
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


class BuiltinTools:
    """The built-in tools, always there."""

    name = SERVER

    def tools(self) -> list[Tool]:
        return [NOW]
