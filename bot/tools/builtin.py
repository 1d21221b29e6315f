"""Built-in tools: small, safe, and never reaching the network."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.llm.base import ToolSpec
from bot.tools.base import CallContext, Tool, ToolFailed

SERVER = "time"


async def _now(arguments: Mapping[str, Any], context: CallContext) -> str:
    zone_name = arguments.get("timezone") or context.time_zone or "UTC"
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ToolFailed(f"unknown time zone {str(zone_name)[:40]!r}") from error
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
