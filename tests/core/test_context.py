"""The token budget: what of the history fits."""

from __future__ import annotations

from bot.context import CUT_MARKER, build
from bot.types import ChatMessage, Role


def count(message: ChatMessage) -> int:
    return len(message.content)


def msg(role: Role, content: str) -> ChatMessage:
    return ChatMessage(role, content, tokens=len(content))


def test_system_and_current_always_stay_and_the_oldest_go_first():
    system, current = msg(Role.SYSTEM, "s" * 10), msg(Role.USER, "now")
    history = [
        msg(Role.USER, "q1" * 10),
        msg(Role.ASSISTANT, "a1" * 10),
        msg(Role.USER, "q2"),
        msg(Role.ASSISTANT, "a2"),
    ]
    built = build(system, history, current, budget=30, count=count)
    assert [m.content for m in built] == ["s" * 10, "q2", "a2", "now"]


def test_an_answer_without_its_question_is_dropped():
    system, current = msg(Role.SYSTEM, "s"), msg(Role.USER, "now")
    history = [msg(Role.USER, "q" * 50), msg(Role.ASSISTANT, "a")]
    assert [m.content for m in build(system, history, current, 20, count)] == ["s", "now"]


def test_a_message_over_the_budget_is_cut_with_a_visible_marker():
    system, current = msg(Role.SYSTEM, "s"), msg(Role.USER, "y" * 500)
    built = build(system, [], current, budget=200, count=count)
    assert built[-1].content.endswith(CUT_MARKER)
    assert built[-1].tokens <= 199
    assert built[-1].content.startswith("y" * 100)
