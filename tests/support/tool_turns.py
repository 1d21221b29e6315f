"""What the doors' tool tests share: the MCP test server as a configured stdio server, and an
OpenAI peer script that calls a tool when a question names it, then answers with the results."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.tools.names import wire_name
from tests.peers.openai_peer import CallTools

SERVER = "jira"
LOOKUP = f"{SERVER}.lookup"
CREATE = f"{SERVER}.create_ticket"
ROOT = Path(__file__).resolve().parents[2]


def mcp_servers(log: Path) -> dict[str, Any]:
    """The `mcp` table naming the test server (tests/tools/mcp_server.py), logging its calls."""
    command = {
        "command": sys.executable,
        "args": ["-m", "tests.tools.mcp_server", "stdio"],
        "env": {"MCP_TEST_LOG": str(log), "PYTHONPATH": str(ROOT)},
    }
    return {"servers": {SERVER: command}}


def ran(log: Path) -> list[str]:
    """The calls the test server ran, in order."""
    return log.read_text().splitlines() if log.exists() else []


def offered(body: Mapping[str, Any]) -> set[str]:
    """The wire names of the tools a request to the model offers."""
    return {tool["function"]["name"] for tool in body.get("tools") or ()}


def calling(script: Mapping[str, tuple[str, dict[str, Any]]]):
    """A peer answer: a question containing a key calls that tool (once, when offered), and
    the model then answers "found: " with the tool messages' contents; anything else is
    answered without tools."""

    def answer(body: dict[str, Any]) -> str | CallTools:
        messages = body["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "user")
        since = messages[last:]
        results = [str(m["content"]) for m in since if m["role"] == "tool"]
        if results:
            return "found: " + " | ".join(results)
        for words, (tool, arguments) in script.items():
            if words in str(messages[last]["content"]) and wire_name(tool) in offered(body):
                return CallTools(((wire_name(tool), arguments),))
        return "no tools this time"

    return answer
