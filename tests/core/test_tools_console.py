"""The console with tools, as a user runs it over a pipe: `parley --config FILE console` with the
test MCP server over stdio and the OpenAI peer issuing the tool calls; approvals answered y/N."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.store.base import AuditQuery
from bot.store.factory import store_for
from bot.tools.names import wire_name
from tests.peers.openai_peer import CallTools

ROOT = Path(__file__).resolve().parents[2]
LOOKUP = wire_name("jira.lookup")
CREATE = wire_name("jira.create_ticket")


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "parley.toml"
    config.write_text(
        f"""
[mcp.servers.jira]
command = {sys.executable!r}
args = ["-m", "tests.tools.mcp_server", "stdio"]
env = {{ PYTHONPATH = {str(ROOT)!r}, MCP_TEST_LOG = {str(tmp_path / "calls.log")!r} }}
"""
    )
    return config


def _script(name: str, arguments: dict[str, Any]):
    """Call `name` once per question, then answer with what the tool said."""

    def answer(body: dict[str, Any]) -> str | CallTools:
        messages = body["messages"]
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        results = [m["content"] for m in messages[last_user:] if m["role"] == "tool"]
        if results:
            return "tool said: " + results[-1]
        if "again" in messages[last_user]["content"]:
            return "no new call"
        return CallTools(((name, arguments),))

    return answer


async def _console(tmp_path: Path, peer, env: dict[str, str] | None = None):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(_config(tmp_path)),
        "console",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={
            **os.environ,
            "PARLEY_DATA_DIR": str(tmp_path),
            "OPENAI_BASE_URL": peer.base_url,
            "PARLEY_MODEL": "peer-model",
            **(env or {}),
        },
    )


async def _chat(tmp_path: Path, peer, lines: str, env: dict[str, str] | None = None) -> str:
    process = await _console(tmp_path, peer, env)
    out, err = await asyncio.wait_for(process.communicate(lines.encode()), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _audit(tmp_path: Path):
    store = store_for(Settings(data_dir=tmp_path))
    await store.open()
    try:
        return await store.tool_calls(AuditQuery())
    finally:
        await store.close()


def _logged(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


async def test_a_read_only_mcp_tool_answers_and_the_next_turn_remembers(tmp_path, openai_peer):
    openai_peer.answer = _script(LOOKUP, {"query": "PRJ-1"})
    out = await _chat(tmp_path, openai_peer, "status of PRJ-1?\nagain: who owns it?\n")
    first, second = out.splitlines()
    assert first.startswith("tool said: Ticket PRJ-1: status OPEN, owner dana")
    assert second == "no new call"
    assert _logged(tmp_path) == ["lookup PRJ-1"]
    # The next turn's request holds the earlier call and its answer; the peer asked no new call.
    last = openai_peer.requests[-1]
    roles = [m["role"] for m in last["messages"]]
    assert roles[1:] == ["user", "assistant", "tool", "assistant", "user"]
    assert "owner dana" in last["messages"][3]["content"]
    assert len(openai_peer.requests) == 3
    [record] = await _audit(tmp_path)
    assert (record.platform, record.tool, record.outcome) == ("console", "jira.lookup", "ok")


async def test_an_acting_tool_runs_after_y(tmp_path, openai_peer):
    openai_peer.answer = _script(CREATE, {"title": "Printer"})
    out = await _chat(tmp_path, openai_peer, "open a ticket\ny\n")
    assert "Run jira.create_ticket with" in out and "Approved" in out
    assert "tool said: Created ticket PRJ-99: Printer" in out
    assert _logged(tmp_path) == ["create_ticket Printer"]
    assert [r.outcome for r in await _audit(tmp_path)] == ["ok"]


async def test_an_acting_tool_does_not_run_after_n(tmp_path, openai_peer):
    openai_peer.answer = _script(CREATE, {"title": "Printer"})
    out = await _chat(tmp_path, openai_peer, "open a ticket\nn\n")
    assert "Denied: not run." in out
    assert "tool said: The user denied this call; it was not run." in out
    assert _logged(tmp_path) == []
    assert [r.outcome for r in await _audit(tmp_path)] == ["denied"]


async def test_no_answer_in_time_means_not_run(tmp_path, openai_peer):
    openai_peer.answer = _script(CREATE, {"title": "Printer"})
    process = await _console(tmp_path, openai_peer, {"PARLEY_TOOL_APPROVAL_TIMEOUT": "0.5"})
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"open a ticket\n")
    await process.stdin.drain()
    seen = []
    while not any(line.startswith("tool said:") for line in seen):
        seen.append((await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip())
    process.stdin.write(b"y\n")  # too late: told so, and nothing runs
    process.stdin.close()
    rest, _ = await asyncio.wait_for(process.communicate(), 30)
    assert "No answer in time: not run." in seen
    assert "tool said: Nobody approved this call in time; it was not run." in seen
    assert "no longer waiting" in rest.decode()
    assert _logged(tmp_path) == []
    assert [r.outcome for r in await _audit(tmp_path)] == ["timed_out"]


async def test_time_now_answers_in_the_machines_zone(tmp_path, openai_peer):
    openai_peer.answer = _script(wire_name("time.now"), {})
    out = await _chat(tmp_path, openai_peer, "what time is it?\n", {"TZ": "Asia/Tokyo"})
    assert "Asia/Tokyo (UTC+0900)" in out.splitlines()[0]
