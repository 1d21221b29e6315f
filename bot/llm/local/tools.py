"""Tool calling for local models: whether the chat template takes tools, past calls as the template
reads them, and the calls read back out of the text the model writes.

Templates in the Hermes form (Qwen2.5, Hermes 2 and 3, and models tuned like them) read the
`tools` variable and teach the model to call like this, after any text of its own:

    <tool_call>
    {"name": "time_now", "arguments": {"timezone": "Europe/Paris"}}
    </tool_call>

The text streams as it comes; the markup never reaches the user.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from bot.llm.local.text import partial_length
from bot.tools.names import wire_name
from bot.types import ChatMessage, Role, ToolCall

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
_NAME = re.compile(r'"name"\s*:\s*"([^"]*)"')


def takes_tools(tokenizer: Any) -> bool:
    """Whether the chat template reads `tools` and teaches the Hermes call form (a template that
    never reads them would drop them silently; one of another form writes calls nothing reads)."""
    if not getattr(tokenizer, "chat_template", None):
        return False
    from jinja2 import TemplateError

    # The check transformers' own processors use to learn what a template reads.
    from transformers.utils.chat_template_utils import _get_template_variables

    try:
        template = tokenizer.get_chat_template(tools=[])  # of several templates, the tool_use one
        return "tools" in _get_template_variables(template) and OPEN in template
    except (TemplateError, ValueError):
        return False


def template_turn(message: ChatMessage, names: dict[str, str]) -> dict[str, Any]:
    """An assistant's calls, or a tool's answer, as transformers documents them for chat templates;
    `names` (call id -> wire name) is filled from the calls for the answers that follow."""
    if message.role is Role.TOOL:
        call_id = message.tool_call_id or ""
        return {
            "role": "tool",
            "content": message.content,
            "tool_call_id": call_id,
            "name": names.get(call_id, ""),
        }
    calls = []
    for call in message.tool_calls:
        names[call.id] = wire_name(call.name)
        function = {"name": names[call.id], "arguments": _arguments(call.arguments)}
        calls.append({"id": call.id, "type": "function", "function": function})
    return {"role": "assistant", "content": message.content, "tool_calls": calls}


def _arguments(text: str) -> Any:
    """The arguments as a mapping, which templates expect; text that is not one stays text."""
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError:
        return text
    return arguments if isinstance(arguments, dict) else text


class ToolCallReader:
    """Splits a local model's streamed text into what the user sees and the calls it writes."""

    def __init__(self, offered: Mapping[str, str]) -> None:
        self._offered = offered
        """Wire name -> core name."""
        self._pending = ""
        self._inside = False
        self._quiet = False
        """After a call: whitespace between and after calls is markup too."""
        self.calls: list[ToolCall] = []

    def feed(self, text: str) -> str:
        """Take a decoded piece; return the text now safe to show (a tag's start is held back)."""
        self._pending += text
        shown: list[str] = []
        while True:
            if self._inside:
                end = self._pending.find(CLOSE)
                if end < 0:
                    return "".join(shown)
                self._add(self._pending[:end])
                self._pending = self._pending[end + len(CLOSE) :]
                self._inside = False
                continue
            start = self._pending.find(OPEN)
            if start < 0:
                cut = len(self._pending) - partial_length(self._pending, (OPEN,))
                shown.append(self._show(self._pending[:cut]))
                self._pending = self._pending[cut:]
                return "".join(shown)
            shown.append(self._show(self._pending[:start]))
            self._pending = self._pending[start + len(OPEN) :]
            self._inside = True

    def finish(self) -> str:
        """At the end of generation: the held-back text; a call left open still counts."""
        rest, self._pending = self._pending, ""
        if self._inside:
            self._inside = False
            self._add(rest)
            return ""
        return self._show(rest)

    def _show(self, text: str) -> str:
        if self._quiet and not text.strip():
            return ""
        self._quiet = False
        return text

    def _add(self, body: str) -> None:
        self._quiet = True
        try:
            call = json.loads(body)
        except json.JSONDecodeError:
            call = None
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            name = call["name"]
            arguments = call.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        else:  # bad JSON: the loop tells the model its call was bad
            found = _NAME.search(body)
            name, text = (found.group(1) if found else ""), body.strip()
        call_id = f"call_{secrets.token_hex(6)}"  # local models write no ids; ids must not repeat
        self.calls.append(ToolCall(call_id, self._offered.get(name, name), text))
