"""The context budget never separates a tool call from its answers (OpenAI refuses that)."""

from __future__ import annotations

from bot import context
from bot.types import ChatMessage, Role, ToolCall


def _m(role: Role, content: str = "x", **kwargs) -> ChatMessage:
    return ChatMessage(role, content, tokens=10, **kwargs)


CALLS = (ToolCall("a", "time.now", "{}"), ToolCall("b", "time.now", "{}"))
HISTORY = [
    _m(Role.USER, "q1"),
    _m(Role.ASSISTANT, "", tool_calls=CALLS),
    _m(Role.TOOL, "r1", tool_call_id="a"),
    _m(Role.TOOL, "r2", tool_call_id="b"),
    _m(Role.ASSISTANT, "a1"),
    _m(Role.USER, "q2"),
    _m(Role.ASSISTANT, "a2"),
]


def test_a_budget_that_cuts_into_a_tool_exchange_drops_it_whole():
    system, current = _m(Role.SYSTEM), _m(Role.USER, "q3")
    for budget in range(20, 100, 5):
        sent = context.build(system, HISTORY, current, budget, lambda m: m.tokens)
        kept = sent[1:-1]
        assert not kept or kept[0].role is Role.USER
        answered = {m.tool_call_id for m in kept if m.role is Role.TOOL}
        asked = {call.id for m in kept for call in m.tool_calls}
        assert answered == asked


def test_a_budget_with_room_keeps_the_tool_exchange():
    system, current = _m(Role.SYSTEM), _m(Role.USER, "q3")
    sent = context.build(system, HISTORY, current, 1000, lambda m: m.tokens)
    assert sent[1:-1] == HISTORY
