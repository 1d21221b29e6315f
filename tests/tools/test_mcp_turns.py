"""MCP failures inside a real turn (console over a pipe, the OpenAI peer calling the tools): a
server that dies mid-call and a 10 MB result."""

from __future__ import annotations

from typing import Any

from bot.tools.names import wire_name
from tests.core.test_tools_console import _audit, _chat, _logged, _script
from tests.peers.openai_peer import CallTools


async def test_a_server_crashing_mid_call_is_one_line_to_the_model(tmp_path, openai_peer):
    openai_peer.answer = _script(wire_name("jira.crash"), {})
    out = await _chat(tmp_path, openai_peer, "crash it\n")
    assert out.splitlines() == ["tool said: Error: the jira server stopped during the call"]
    assert _logged(tmp_path) == ["crash"]
    [record] = await _audit(tmp_path)
    assert (record.tool, record.outcome) == ("jira.crash", "error")


async def test_a_ten_megabyte_result_is_cut_before_the_model_sees_it(tmp_path, openai_peer):
    def answer(body: dict[str, Any]) -> str | CallTools:
        tools = [m for m in body["messages"] if m["role"] == "tool"]
        if not tools:
            return CallTools(((wire_name("jira.big"), {}),))
        return f"saw {len(tools[-1]['content'].encode())} bytes"

    openai_peer.answer = answer
    out = await _chat(tmp_path, openai_peer, "big one\n", {"PARLEY_TOOL_MAX_RESULT_BYTES": "50000"})
    seen = int(out.split()[1])
    assert 50_000 <= seen < 50_500  # the cap, plus the note saying it was cut
    told = next(m for m in openai_peer.requests[-1]["messages"] if m["role"] == "tool")["content"]
    assert "10,000,000 bytes" in told and told.startswith("x" * 100)
    [record] = await _audit(tmp_path)
    assert (record.tool, record.outcome) == ("jira.big", "ok")
    assert record.result_bytes == 10_000_000  # what the tool returned, before the cap
