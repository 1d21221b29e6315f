"""What OpenAI refuses in a chat request's tools and messages, checked as it checks them."""

from __future__ import annotations

import re
from typing import Any

_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tool_protocol_error(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in a request's tools and messages: a bad function name, a tool
    call not answered by a `tool` message before the next other message, a stray tool message."""
    for tool in body.get("tools") or ():
        if tool.get("type") != "function" or not _FUNCTION_NAME.match(tool["function"]["name"]):
            return f"Invalid 'tools': {tool!r}"
    unanswered: set[str] = set()
    for message in body["messages"]:
        if message["role"] == "tool":
            if message.get("tool_call_id") not in unanswered:
                return "Messages with role 'tool' must be a response to a preceding 'tool_calls'"
            unanswered.discard(message["tool_call_id"])
            continue
        if unanswered:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'"
            )
        for call in message.get("tool_calls") or ():
            if not _FUNCTION_NAME.match(call["function"]["name"]):
                return f"Invalid function name {call['function']['name']!r}"
            unanswered.add(call["id"])
    return None
