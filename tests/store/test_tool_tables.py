"""The Store contract for tools, on SQLite and PostgreSQL: tool messages, approvals, the audit."""

from __future__ import annotations

from bot.store.base import AuditQuery, Store, ToolCallRecord
from bot.types import ChatMessage, ConversationKey, Role, ToolCall
from tests.store.conftest import Stores

KEY = ConversationKey("console", "local", "session")


async def test_tool_calls_and_answers_come_back_in_order(store: Store) -> None:
    calls = (
        ToolCall("call_1", "jira.lookup", '{"query": "PRJ-1"}'),
        ToolCall("call_2", "time.now", "{}"),
    )
    turn = [
        ChatMessage(Role.USER, "what is PRJ-1?", name="dana", author_id="dana", tokens=5),
        ChatMessage(Role.ASSISTANT, "", author_id="dana", tokens=9, tool_calls=calls),
        ChatMessage(
            Role.TOOL, "Ticket PRJ-1: OPEN", author_id="dana", tokens=6, tool_call_id="call_1"
        ),
        ChatMessage(Role.TOOL, "Tuesday", author_id="dana", tokens=3, tool_call_id="call_2"),
        ChatMessage(Role.ASSISTANT, "It is open.", author_id="dana", tokens=4),
    ]
    await store.append(KEY, turn)
    loaded = await store.load(KEY, 10_000)
    assert [(m.role, m.content, m.tool_calls, m.tool_call_id) for m in loaded] == [
        (m.role, m.content, m.tool_calls, m.tool_call_id) for m in turn
    ]


async def test_forget_deletes_the_tool_messages_of_a_person(store: Store) -> None:
    call = (ToolCall("call_1", "time.now", "{}"),)
    await store.append(
        KEY,
        [
            ChatMessage(Role.USER, "time?", author_id="dana", tokens=2),
            ChatMessage(Role.ASSISTANT, "", author_id="dana", tokens=2, tool_calls=call),
            ChatMessage(Role.TOOL, "noon", author_id="dana", tokens=2, tool_call_id="call_1"),
            ChatMessage(Role.ASSISTANT, "Noon.", author_id="dana", tokens=2),
        ],
    )
    assert await store.forget("dana") == 4
    assert await store.load(KEY, 10_000) == []


async def test_the_first_decision_wins_on_any_replica(stores: Stores) -> None:
    one, two = await stores.open(), await stores.open()
    await one.open_approval("req-1", "jira.create_ticket", "dana")
    pending = await two.approval("req-1")
    assert pending is not None and (pending.state, pending.asker_id) == ("pending", "dana")
    assert await two.settle_approval("req-1", "approved", "dana")
    assert not await one.settle_approval("req-1", "timed_out", None)
    settled = await one.approval("req-1")
    assert settled is not None and (settled.state, settled.decided_by) == ("approved", "dana")
    assert await one.approval("req-unknown") is None


async def test_expire_drops_old_approvals(store: Store) -> None:
    await store.open_approval("req-old", "jira.create_ticket", "dana")
    await store.expire(before=2**40)
    assert await store.approval("req-old") is None


def record(at: float, tool: str, user: str, outcome: str = "ok") -> ToolCallRecord:
    return ToolCallRecord(
        at, "console", "local", "session", user, tool, "ab" * 32, outcome, 12, 345
    )


async def test_audit_lists_calls_oldest_first_with_filters(store: Store) -> None:
    rows = [record(100.0, "jira.lookup", "dana"), record(200.0, "time.now", "eli", "denied")]
    rows.append(record(300.0, "jira.lookup", "eli", "error"))
    for row in rows:
        await store.record_tool_call(row)
    assert await store.tool_calls(AuditQuery()) == rows
    assert await store.tool_calls(AuditQuery(since=150.0)) == rows[1:]
    assert await store.tool_calls(AuditQuery(tool="jira.lookup")) == [rows[0], rows[2]]
    assert await store.tool_calls(AuditQuery(user="eli", tool="time.now")) == [rows[1]]
