"""An MCP server for the tests, on the mcp SDK's server side: `python -m tests.tools.mcp_server
stdio` or `... http PORT` (streamable HTTP on 127.0.0.1).

Tools: `lookup` (read-only), `create_ticket` (acting: no read-only hint), `big` (a 10 MB result),
`crash` (the process dies mid-call), `reveal` (adds the read-only `report` tool and tells the
client its tool list changed). Calls are appended to the file named by MCP_TEST_LOG, one
line each, so tests can see what ran.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)
server = MCPServer("parley-test")


def _log(line: str) -> None:
    path = os.environ.get("MCP_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(line + "\n")


@server.tool(annotations=READ_ONLY)
def lookup(query: str) -> str:
    """Look up a ticket by its key."""
    _log(f"lookup {query}")
    return f"Ticket {query}: status OPEN, owner dana, title 'Printer on fire'."


@server.tool()
def create_ticket(title: str) -> str:
    """Create a ticket (it has side effects)."""
    _log(f"create_ticket {title}")
    return f"Created ticket PRJ-99: {title}"


@server.tool(annotations=READ_ONLY)
def big() -> str:
    """A result of 10 MB."""
    _log("big")
    return "x" * 10_000_000


@server.tool(annotations=READ_ONLY)
def crash() -> str:
    """The server dies while answering."""
    _log("crash")
    os._exit(3)


def report() -> str:
    """This week's ticket report."""
    _log("report")
    return "3 tickets opened, 2 closed."


@server.tool(annotations=READ_ONLY)
async def reveal(ctx: Context) -> str:
    """Offer one more tool from now on."""
    _log("reveal")
    server.add_tool(report, annotations=READ_ONLY)
    await ctx.notify_tools_changed()  # on the listen stream of a 2026-07-28 client
    return "The report tool is available now."


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
