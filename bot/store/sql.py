"""What both stores share: the SQL (with ? placeholders), a turn's totals, rows <-> messages.

The schema is bot/store/schema.py; what the dialects spell differently, bot/store/dialect.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.history import weight
from bot.store.base import (
    UNSET,
    AuditQuery,
    ExportFilter,
    SpentQuery,
    TurnRecord,
    TurnUsage,
    UsageQuery,
    UsageRow,
)
from bot.types import (
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    HistoryMessage,
    Role,
    ToolCall,
)

BUSY_TIMEOUT_SECONDS = 5.0
EXPORT_PAGE = 200


WEIGHT = "(CASE WHEN tokens > 1 THEN tokens ELSE 1 END)"
"""`weight` in SQL, for recounting the window after deletes."""


@dataclass(frozen=True, slots=True)
class TurnTotals:
    """How one append call changes its conversation's counters."""

    turns: int
    messages: int
    input_tokens: int
    output_tokens: int
    weight: int

    @classmethod
    def of(cls, messages: Sequence[ChatMessage], output_tokens: int) -> TurnTotals:
        user_tokens = sum(m.tokens for m in messages if m.role == Role.USER)
        answer_tokens = sum(m.tokens for m in messages if m.role == Role.ASSISTANT)
        return cls(
            turns=int(any(m.role == Role.USER for m in messages)),
            messages=len(messages),
            input_tokens=user_tokens,
            output_tokens=output_tokens or answer_tokens,
            weight=sum(weight(m.tokens) for m in messages),
        )


MESSAGE_COLUMNS = (
    "role, content, name, author_id, images, tokens, created_at, tool_calls, tool_call_id"
)
"""The columns `chat_message` reads, in its order."""
_JOINED_MESSAGE_COLUMNS = ", ".join(f"m.{column}" for column in MESSAGE_COLUMNS.split(", "))


APPEND_TURN = """
INSERT INTO conversations (key, platform, space, channel, thread, tokens_total, message_count,
                           turns, input_tokens, output_tokens, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    tokens_total = conversations.tokens_total + excluded.tokens_total,
    message_count = conversations.message_count + excluded.message_count,
    turns = conversations.turns + excluded.turns,
    input_tokens = conversations.input_tokens + excluded.input_tokens,
    output_tokens = conversations.output_tokens + excluded.output_tokens,
    updated_at = excluded.updated_at
RETURNING id, tokens_total
"""

INSERT_MESSAGE = """
INSERT INTO messages (conv_id, role, content, name, author_id, images, tokens, tokens_before,
                      created_at, tool_calls, tool_call_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# The window: messages since the reset marker whose weights, summed up to the newest, fit.
# `tokens_before` grows strictly with id, so this is one range scan of messages_window.
LOAD = f"""
SELECT {_JOINED_MESSAGE_COLUMNS}
FROM conversations AS c JOIN messages AS m ON m.conv_id = c.id
WHERE c.key = ? AND m.tokens_before >= c.tokens_total - ? AND m.id > c.context_start
ORDER BY m.tokens_before
"""

# LOAD for a window held in memory (bot/store/windows.py): parameters reach, anchor, reach,
# anchor, key. Only messages at or after the anchor (the place of the newest message held) are
# read: what is new, plus that message, which proves nothing before it changed. Anchor -1 reads
# the whole window. Each row: the conversation's weight total, the message's id and place
# (tokens_before), its MESSAGE_COLUMNS; a conversation without messages gives one row of NULLs.
WINDOW = f"""
SELECT c.tokens_total, m.id, m.tokens_before, {_JOINED_MESSAGE_COLUMNS}
FROM conversations AS c LEFT JOIN messages AS m
    ON m.conv_id = c.id AND m.id > c.context_start
    AND m.tokens_before >= CASE WHEN c.tokens_total - ? > ? THEN c.tokens_total - ? ELSE ? END
WHERE c.key = ?
ORDER BY m.tokens_before
"""


def window_params(key: ConversationKey, reach: int, anchor: int) -> tuple[object, ...]:
    return (reach, anchor, reach, anchor, str(key))


REMEMBER_VIEWING = """
INSERT INTO viewing (person, context, updated_at) VALUES (?, ?, ?)
ON CONFLICT (person) DO UPDATE SET context = excluded.context, updated_at = excluded.updated_at
"""
RECALL_VIEWING = "SELECT context FROM viewing WHERE person = ?"


FORGET_PERSON = (
    "DELETE FROM viewing WHERE person = ?",
    "DELETE FROM feedback WHERE person = ?",
    "DELETE FROM approvals WHERE asker_id = ?",
    "DELETE FROM memory_messages WHERE author_id = ?",
)
"""What `forget` deletes besides a person's turns: what they viewed, how they rated, and their
messages kept as a channel's memory."""

RECORD_ANSWER = """
INSERT INTO answers (answer_id, conversation, answered_at) VALUES (?, ?, ?)
ON CONFLICT (answer_id) DO UPDATE SET
    conversation = excluded.conversation, answered_at = excluded.answered_at
"""
RATE_ANSWER = """
INSERT INTO feedback (conversation, answered_at, person, liked, rated_at)
SELECT conversation, answered_at, ?, ?, ? FROM answers WHERE answer_id = ?
ON CONFLICT (conversation, answered_at, person) DO UPDATE SET
    liked = excluded.liked, rated_at = excluded.rated_at
RETURNING 1
"""
RATINGS = """
SELECT conversation, answered_at, SUM(liked), SUM(1 - liked) FROM feedback
WHERE conversation = ? OR CAST(? AS TEXT) IS NULL
GROUP BY conversation, answered_at ORDER BY conversation, answered_at
"""


TURN_COLUMNS = "event_id, conversation, question, receipt, shown"
"""The columns `turn_record` reads, in its order."""

BEGIN_TURN = """
INSERT INTO turns (event_id, conversation, platform, owner, state, question, started_at,
                   updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id) DO UPDATE SET
    conversation = excluded.conversation, owner = excluded.owner, state = excluded.state,
    question = excluded.question, receipt = NULL, shown = '',
    started_at = excluded.started_at, updated_at = excluded.updated_at
"""
"""A turn begins; a re-claimed event's earlier row is taken over."""
EARLIER_TURN = f"SELECT {TURN_COLUMNS} FROM turns WHERE event_id = ? AND receipt IS NOT NULL"
"""What a dead process left shown for this event, which a re-claimed turn finishes first."""
SHOW_PROGRESS = "UPDATE turns SET receipt = ?, shown = ?, updated_at = ? WHERE event_id = ?"
END_TURN = "DELETE FROM turns WHERE event_id = ?"
INTERRUPT_TURN = (
    "UPDATE turns SET state = 'interrupted', receipt = NULL, updated_at = ? WHERE event_id = ?"
)


LINK = (
    "INSERT INTO aliases (alias, conversation, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
"""A message belongs where it was first linked: a redelivery cannot move it."""
RESOLVE = "SELECT conversation FROM aliases WHERE alias = ?"
PURGE_ALIASES = "DELETE FROM aliases WHERE created_at < ?"

EXPIRE = (
    "DELETE FROM events WHERE claimed_at < ?",
    "DELETE FROM usage WHERE updated_at < ?",
    "DELETE FROM turns WHERE updated_at < ?",
    "DELETE FROM approvals WHERE created_at < ?",
)
"""What `expire` deletes, each statement given the time before which rows go."""

STATS = "SELECT turns, message_count, input_tokens, output_tokens FROM conversations WHERE key = ?"

KNOWS = """
SELECT EXISTS (SELECT 1 FROM conversations WHERE key = ? AND message_count > 0)
    OR EXISTS (SELECT 1 FROM events WHERE conversation = ?)
"""

SETTINGS = "SELECT key, system_prompt, model FROM conversations WHERE key IN (?, ?)"
"""A conversation's own settings and its channel's, which its threads inherit."""


def settings_keys(key: ConversationKey) -> tuple[str, str]:
    """The parameters of SETTINGS: the conversation, then the channel it is a thread of."""
    return str(key), str(key.parent)


def merged_settings(key: ConversationKey, rows: Sequence[Sequence[Any]]) -> ConversationSettings:
    """A thread's own settings where it has them, else its channel's."""
    found = {row[0]: row[1:] for row in rows}
    own, channel = (found.get(name, (None, None)) for name in settings_keys(key))
    return ConversationSettings(
        system_prompt=own[0] if own[0] is not None else channel[0],
        model=own[1] if own[1] is not None else channel[1],
    )


# The newest message tops messages_window because tokens_before grows strictly with id.
RESET = """
UPDATE conversations SET
    context_start = COALESCE(
        (SELECT id FROM messages WHERE conv_id = conversations.id
         ORDER BY tokens_before DESC LIMIT 1),
        context_start),
    updated_at = ?
WHERE key = ? OR substr(key, 1, length(CAST(? AS TEXT))) = ?
"""


def reset_params(key: ConversationKey, beneath: bool, at: float) -> tuple[object, ...]:
    """RESET's parameters: the key, and the prefix its thread slots share when `beneath`
    (NULL matches nothing)."""
    prefix = f"{key}:" if beneath else None
    return (at, str(key), prefix, prefix)


def reset_covers(key: ConversationKey, beneath: bool, conversation: str) -> bool:
    """Whether RESET with these parameters resets this conversation (a store key)."""
    return conversation == str(key) or (beneath and conversation.startswith(f"{key}:"))


RECOUNT_WINDOW = f"""
UPDATE messages SET tokens_before = w.before
FROM (
    SELECT id, SUM({WEIGHT}) OVER (ORDER BY id) - {WEIGHT} AS before
    FROM messages WHERE conv_id = ?
) AS w
WHERE messages.id = w.id AND messages.tokens_before != w.before
"""

RECOUNT_TOTALS = f"""
UPDATE conversations SET
    tokens_total = (SELECT COALESCE(SUM({WEIGHT}), 0) FROM messages
                    WHERE conv_id = conversations.id),
    message_count = (SELECT COUNT(*) FROM messages WHERE conv_id = conversations.id)
WHERE id = ?
"""


ADD_USAGE = """
INSERT INTO usage (scope, amount, updated_at) VALUES (?, ?, ?)
ON CONFLICT (scope) DO UPDATE SET
    amount = usage.amount + excluded.amount,
    updated_at = excluded.updated_at
"""


def count_usage(scopes: int) -> str:
    """The statement reading `scopes` usage counters."""
    return f"SELECT scope, amount FROM usage WHERE scope IN ({', '.join('?' * scopes)})"


def settings_changes(**columns: object) -> dict[str, object]:
    """The settings columns `set_settings` was given (UNSET ones left out)."""
    return {column: value for column, value in columns.items() if value is not UNSET}


def settings_upsert(changes: dict[str, object]) -> str:
    """Insert the conversation or change only the given settings columns."""
    columns = ", ".join(changes)
    updates = ", ".join(f"{column} = excluded.{column}" for column in changes)
    return (
        f"INSERT INTO conversations (key, platform, space, channel, thread, created_at, "
        f"updated_at, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?{', ?' * len(changes)}) "
        f"ON CONFLICT (key) DO UPDATE SET {updates}, updated_at = excluded.updated_at"
    )


def conversation_row(key: ConversationKey, now: float) -> tuple[object, ...]:
    """The values `settings_upsert` starts with."""
    return (str(key), key.platform, key.space, key.channel, key.thread, now, now)


def append_row(key: ConversationKey, totals: TurnTotals, now: float) -> tuple[object, ...]:
    """The values of APPEND_TURN."""
    return (
        str(key),
        key.platform,
        key.space,
        key.channel,
        key.thread,
        totals.weight,
        totals.messages,
        totals.turns,
        totals.input_tokens,
        totals.output_tokens,
        now,
        now,
    )


async def export_conversations(
    fetch: Callable[[str, Sequence[object]], Awaitable[Sequence[Sequence[Any]]]],
    filter: ExportFilter,
) -> AsyncIterator[tuple[ConversationKey, list[ChatMessage]]]:
    """Page through matching conversations; one query per conversation for its messages."""
    place, place_params = "", list[object]()
    for column, value in (("platform", filter.platform), ("space", filter.space)):
        if value is not None:
            place += f" AND {column} = ?"
            place_params.append(value)
    period, period_params = "", list[object]()
    period_bounds = (("created_at >= ?", filter.since), ("created_at < ?", filter.until))
    for condition, bound in period_bounds:
        if bound is not None:
            period += f" AND {condition}"
            period_params.append(bound)
    after = 0
    while True:
        page = await fetch(
            "SELECT id, platform, space, channel, thread FROM conversations "
            f"WHERE id > ?{place} ORDER BY id LIMIT {EXPORT_PAGE}",
            (after, *place_params),
        )
        if not page:
            return
        for conv_id, platform, space, channel, thread in page:
            rows = await fetch(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv_id = ?{period} ORDER BY id",
                (conv_id, *period_params),
            )
            if rows:
                yield (
                    ConversationKey(platform, space, channel, thread),
                    [chat_message(r) for r in rows],
                )
        after = page[-1][0]


_JSON = json.JSONEncoder(ensure_ascii=False)
"""json.dumps(..., ensure_ascii=False) builds an encoder per call; a turn's record needs one."""


def turn_row(record: TurnRecord, owner: str, now: float) -> tuple[object, ...]:
    """The values of a new turns row, in the table's column order (receipt and shown empty)."""
    key = record.key
    question = _JSON.encode([message_item(m) for m in record.question])
    return (record.event_id, str(key), key.platform, owner, "running", question, now, now)


def turn_record(row: Sequence[Any]) -> TurnRecord:
    """A turns row, in TURN_COLUMNS order, as a TurnRecord."""
    event_id, conversation, question, receipt, shown = row
    return TurnRecord(
        event_id=event_id,
        key=ConversationKey.parse(conversation),
        question=tuple(chat_message_of(item) for item in json.loads(question)),
        receipt=receipt,
        shown=shown,
    )


def message_item(message: ChatMessage) -> list[Any]:
    """A message as a turn's record keeps it: a list (what JSON encodes fastest: a turn writes
    one) laid out as a messages row is read, so `chat_message` reads it back."""
    return [
        message.role.value,
        message.content,
        message.name,
        message.author_id,
        encode_images(message.images),
        message.tokens,
        message.created_at,
        encode_tool_calls(message.tool_calls),
        message.tool_call_id,
    ]


def chat_message_of(item: list[Any] | dict[str, Any]) -> ChatMessage:
    """The inverse of `message_item`; also reads the dict an earlier version recorded (its turn
    may still be in flight across an upgrade)."""
    if isinstance(item, dict):
        return ChatMessage(
            role=_ROLES[item["role"]],
            content=item["content"],
            name=item["name"],
            author_id=item["author_id"],
            tokens=item["tokens"],
            created_at=item["created_at"],
            images=tuple(item["images"]),
            tool_calls=decode_tool_calls(item.get("tool_calls")),
            tool_call_id=item.get("tool_call_id"),
        )
    return chat_message(item)


def encode_images(images: tuple[str, ...]) -> str | None:
    return json.dumps(list(images)) if images else None


def message_rows(
    conv_id: int, messages: Sequence[ChatMessage], tokens_before: int
) -> list[tuple[object, ...]]:
    """Rows for the messages table, each with the window weight of the messages before it."""
    rows = []
    for m in messages:
        rows.append(
            (
                conv_id,
                str(m.role),
                m.content,
                m.name,
                m.author_id,
                encode_images(m.images),
                m.tokens,
                tokens_before,
                m.created_at,
                encode_tool_calls(m.tool_calls),
                m.tool_call_id,
            )
        )
        tokens_before += weight(m.tokens)
    return rows


_ROLES = {role.value: role for role in Role}


def chat_message(row: Sequence[Any]) -> ChatMessage:
    """A messages row, in MESSAGE_COLUMNS order, as a ChatMessage."""
    role, content, name, author_id, images, tokens, created_at, tool_calls, tool_call_id = row
    return ChatMessage(  # positional: a window's messages are built here, every turn's two too
        _ROLES[role],
        content,
        name,
        author_id,
        tokens,
        created_at,
        tuple(json.loads(images)) if images else (),
        decode_tool_calls(tool_calls) if tool_calls else (),
        tool_call_id,
    )


def encode_tool_calls(calls: tuple[ToolCall, ...]) -> str | None:
    return json.dumps([[c.id, c.name, c.arguments] for c in calls]) if calls else None


def decode_tool_calls(text: str | None) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(*item) for item in json.loads(text)) if text else ()


# -- usage and cost per turn ------------------------------------------------------------------


RECORD_USAGE = """
INSERT INTO turn_usage (at, model, platform, space, channel, user_id, input_tokens, output_tokens,
                        cached_tokens, cost_micros)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def usage_row(usage: TurnUsage, now: float) -> tuple[object, ...]:
    """The values of RECORD_USAGE."""
    return (
        now,
        usage.model,
        usage.platform,
        usage.space,
        usage.channel,
        usage.user,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.cost_micros,
    )


USAGE_LABELS = {
    "space": "platform || ':' || space",
    "channel": "platform || ':' || space || ':' || channel",
    "user": "platform || ':' || user_id",
    "model": "model",
    "day": "CAST(CAST(at AS BIGINT) / 86400 AS TEXT)",
}
"""What `usage_report` groups by: the store's keys, as `parley usage` and the admin page show
(and the UTC day, as days since 1970, for the admin page's chart)."""


def usage_report(query: UsageQuery) -> tuple[str, list[object]]:
    """The statement summing turn_usage per group, and its parameters."""
    where, params = ["at >= ?"], [query.since]
    for column, value in (
        ("platform", query.platform),
        ("space", query.space),
        ("user_id", query.user),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    label = USAGE_LABELS[query.by]
    statement = (
        f"SELECT {label} AS label, COUNT(*), CAST(SUM(input_tokens) AS BIGINT), "
        "CAST(SUM(output_tokens) AS BIGINT), CAST(SUM(cached_tokens) AS BIGINT), "
        f"CAST(SUM(cost_micros) AS BIGINT) FROM turn_usage WHERE {' AND '.join(where)} "
        "GROUP BY label ORDER BY SUM(cost_micros) DESC, label"
    )
    return statement, params


_SPENT = "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM turn_usage WHERE "
MONEY_SPENT = f"""
SELECT ({_SPENT} platform = ? AND user_id = ? AND at >= ?),
       ({_SPENT} platform = ? AND user_id = ? AND at >= ?),
       ({_SPENT} platform = ? AND space = ? AND at >= ?),
       ({_SPENT} platform = ? AND space = ? AND at >= ?)"""
"""A user's and a space's spending since the day and the month began, in one read."""


def money_spent_params(query: SpentQuery) -> tuple[object, ...]:
    user, space = (query.platform, query.user), (query.platform, query.space)
    return (
        *user,
        query.day_start,
        *user,
        query.month_start,
        *space,
        query.day_start,
        *space,
        query.month_start,
    )


COUNT_MODERATED = """
INSERT INTO moderated (platform, space, direction, day, count) VALUES (?, ?, ?, ?, 1)
ON CONFLICT (platform, space, direction, day) DO UPDATE SET count = moderated.count + 1"""
MODERATION_COUNTS = """
SELECT platform || ':' || space, direction, CAST(SUM(count) AS BIGINT) FROM moderated
WHERE day >= ? GROUP BY platform, space, direction ORDER BY platform, space, direction"""


def usage_rows(rows: Sequence[Sequence[Any]]) -> list[UsageRow]:
    return [UsageRow(*row) for row in rows]


# -- tools: approvals waiting for a click, and the audit of every call ------------------------

OPEN_APPROVAL = (
    "INSERT INTO approvals (id, tool, asker_id, state, created_at) VALUES (?, ?, ?, 'pending', ?)"
)
SETTLE_APPROVAL = """
UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'
RETURNING id"""
"""Only a pending request is settled: the first decision (click or timeout) wins."""
APPROVAL = "SELECT id, tool, asker_id, state, decided_by FROM approvals WHERE id = ?"

RECORD_TOOL_CALL = """
INSERT INTO tool_audit (at, platform, space, channel, user_id, tool, args_digest, outcome,
                        duration_ms, result_bytes)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
AUDIT_COLUMNS = (
    "at, platform, space, channel, user_id, tool, args_digest, outcome, duration_ms, result_bytes"
)


def audit_query(query: AuditQuery) -> tuple[str, list[object]]:
    """The statement listing recorded tool calls, oldest first, and its parameters."""
    where, params = ["at >= ?"], [query.since]
    for column, value in (("tool", query.tool), ("user_id", query.user)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    statement = (
        f"SELECT {AUDIT_COLUMNS} FROM tool_audit WHERE {' AND '.join(where)} "
        f"ORDER BY at LIMIT {int(query.limit)}"
    )
    return statement, params


# -- memory of the place: an admin's opt-in per channel, its messages kept as they arrive --------


REMEMBER_PLACE = (
    "INSERT INTO memory_places (place, enabled_by, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
"""Turning it on again keeps the first `since`."""
FORGET_PLACE = (
    "DELETE FROM memory_messages WHERE place = ?",
    "DELETE FROM memory_places WHERE place = ?",
)
REMEMBERED_PLACES = "SELECT place FROM memory_places"
PLACE_MEMORY = """
SELECT p.since, p.enabled_by, (SELECT COUNT(*) FROM memory_messages AS m WHERE m.place = p.place)
FROM memory_places AS p WHERE p.place = ?"""
KEEP_MESSAGE = """
INSERT INTO memory_messages (place, message_id, author_id, author_name, text, at, link)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (place, message_id) DO UPDATE SET
    author_name = excluded.author_name, text = excluded.text, link = excluded.link"""
"""A message kept, or its edit (it keeps the time it was sent)."""
DROP_MESSAGE = "DELETE FROM memory_messages WHERE place = ? AND message_id = ?"
PURGE_PLACE_MESSAGES = "DELETE FROM memory_messages WHERE at < ?"


def kept_row(place: str, author_id: str, message: HistoryMessage) -> tuple[object, ...]:
    """The values of KEEP_MESSAGE."""
    return (place, message.id, author_id, message.author, message.text, message.at, message.link)
