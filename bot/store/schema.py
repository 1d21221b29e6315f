"""The schema: one named, ordered list of migrations that SQLite and PostgreSQL share.

Each migration is a function of the dialect (bot/store/dialect.py) named as the database
records it in `schema_migrations`. Never edit one that has shipped: append a new one
(tests/store/test_schema.py holds the shipped statements to enforce it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from bot.store.dialect import Dialect

Migration = Callable[[Dialect], tuple[str, ...]]


def initial(d: Dialect) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE conversations (
            id {d.row_id},
            key TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            space TEXT NOT NULL,
            channel TEXT NOT NULL,
            thread TEXT,
            system_prompt TEXT,
            model TEXT,
            context_start {d.integer} NOT NULL DEFAULT 0,
            tokens_total {d.integer} NOT NULL DEFAULT 0,
            message_count {d.integer} NOT NULL DEFAULT 0,
            turns {d.integer} NOT NULL DEFAULT 0,
            input_tokens {d.integer} NOT NULL DEFAULT 0,
            output_tokens {d.integer} NOT NULL DEFAULT 0,
            created_at {d.real} NOT NULL,
            updated_at {d.real} NOT NULL
        )""",
        "CREATE INDEX conversations_place ON conversations (platform, space)",
        f"""CREATE TABLE messages (
            id {d.lasting_id},
            conv_id {d.integer} NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            name TEXT,
            author_id TEXT,
            images TEXT,
            tokens INTEGER NOT NULL CHECK (tokens >= 0),
            tokens_before {d.integer} NOT NULL,
            created_at {d.real} NOT NULL
        )""",
        "CREATE INDEX messages_window ON messages (conv_id, tokens_before)",
        "CREATE INDEX messages_author ON messages (author_id) WHERE author_id IS NOT NULL",
        "CREATE INDEX messages_created ON messages (created_at)",
        f"""CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            claimed_at {d.real} NOT NULL
        ){d.keyed}""",
        "CREATE INDEX events_claimed ON events (claimed_at)",
        f"""CREATE TABLE usage (
            scope TEXT PRIMARY KEY,
            amount {d.integer} NOT NULL,
            updated_at {d.real} NOT NULL
        ){d.keyed}""",
        "CREATE INDEX usage_updated ON usage (updated_at)",
    )


def events_remember_their_conversation(d: Dialect) -> tuple[str, ...]:
    """An event remembers its conversation, so a turn in flight is already known."""
    return (
        "ALTER TABLE events ADD COLUMN conversation TEXT",
        "CREATE INDEX events_conversation ON events (conversation) WHERE conversation IS NOT NULL",
    )


def turns_in_flight(d: Dialect) -> tuple[str, ...]:
    """Turns under way, so a turn a crash cut short can be finished honestly.

    A row lives from a turn's start to its end (deleted then); `owner` is the process running it,
    `receipt` what its sink said about where the answer is shown, `shown` the text shown so far.
    A row left `interrupted` lets a redelivery of its event be answered.
    """
    return (
        f"""CREATE TABLE turns (
            event_id TEXT PRIMARY KEY,
            conversation TEXT NOT NULL,
            platform TEXT NOT NULL,
            owner TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('running', 'interrupted')),
            question TEXT NOT NULL,
            receipt TEXT,
            shown TEXT NOT NULL DEFAULT '',
            started_at {d.real} NOT NULL,
            updated_at {d.real} NOT NULL
        )""",
        "CREATE INDEX turns_orphans ON turns (platform, state)",
        "CREATE INDEX turns_updated ON turns (updated_at)",
    )


def message_aliases(d: Dialect) -> tuple[str, ...]:
    """Where a platform message belongs (an answer posted in a reply chain, say), so a reply to
    it continues that conversation without reading the platform again."""
    return (
        f"""CREATE TABLE aliases (
            alias TEXT PRIMARY KEY,
            conversation TEXT NOT NULL,
            created_at {d.real} NOT NULL
        )""",
        "CREATE INDEX aliases_created ON aliases (created_at)",
    )


def turn_usage(d: Dialect) -> tuple[str, ...]:
    """One row per answered turn: who, where, which model, tokens and cost (never content); and
    moderation counts per place and day."""
    return (
        f"""CREATE TABLE turn_usage (
            at {d.real} NOT NULL,
            model TEXT NOT NULL,
            platform TEXT NOT NULL,
            space TEXT NOT NULL,
            channel TEXT NOT NULL,
            user_id TEXT NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL
        )""",
        "CREATE INDEX turn_usage_at ON turn_usage (at)",
        # Covering the money-budget sums: each reads a range of its index, never the table.
        "CREATE INDEX turn_usage_user ON turn_usage (platform, user_id, at, cost_micros)",
        "CREATE INDEX turn_usage_space ON turn_usage (platform, space, at, cost_micros)",
        # Moderation verdicts per place and UTC day: counts only, never what was flagged.
        """CREATE TABLE moderated (
            platform TEXT NOT NULL,
            space TEXT NOT NULL,
            direction TEXT NOT NULL,
            day BIGINT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (platform, space, direction, day)
        )""",
    )


def what_people_view(d: Dialect) -> tuple[str, ...]:
    """What each person last said they are looking at (a door's JSON), one row each."""
    return (
        f"""CREATE TABLE viewing (
            person TEXT PRIMARY KEY,
            context TEXT NOT NULL,
            updated_at {d.real} NOT NULL
        )""",
    )


def answer_feedback(d: Dialect) -> tuple[str, ...]:
    """Answers' platform message ids, and one rating per person per answer.

    An answer is its conversation and the stored assistant message's `created_at`; every message
    showing it (a long answer spans several) maps there, so a person rates the answer once.
    """
    return (
        f"""CREATE TABLE answers (
            answer_id TEXT PRIMARY KEY,
            conversation TEXT NOT NULL,
            answered_at {d.real} NOT NULL
        )""",
        f"""CREATE TABLE feedback (
            conversation TEXT NOT NULL,
            answered_at {d.real} NOT NULL,
            person TEXT NOT NULL,
            liked INTEGER NOT NULL CHECK (liked IN (0, 1)),
            rated_at {d.real} NOT NULL,
            PRIMARY KEY (conversation, answered_at, person)
        )""",
    )


def tool_calls(d: Dialect) -> tuple[str, ...]:
    """Messages keep tool calls and tool answers; approvals (a click on any replica reaches the
    waiting turn) and the audit of tool calls (an arguments digest, never the arguments)."""
    return (
        *d.tool_messages,
        f"""CREATE TABLE approvals (
            id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            asker_id TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'approved', 'denied', 'timed_out', 'unavailable')),
            decided_by TEXT,
            created_at {d.real} NOT NULL,
            decided_at {d.real}
        )""",
        "CREATE INDEX approvals_created ON approvals (created_at)",
        f"""CREATE TABLE tool_audit (
            at {d.real} NOT NULL,
            platform TEXT NOT NULL,
            space TEXT NOT NULL,
            channel TEXT NOT NULL,
            user_id TEXT NOT NULL,
            tool TEXT NOT NULL,
            args_digest TEXT NOT NULL,
            outcome TEXT NOT NULL,
            duration_ms BIGINT NOT NULL,
            result_bytes BIGINT NOT NULL
        )""",
        "CREATE INDEX tool_audit_at ON tool_audit (at)",
    )


def place_memory(d: Dialect) -> tuple[str, ...]:
    """The places whose messages are kept, and the kept messages (one row per place and platform
    message id; `at` is when it was sent), with their full-text index."""
    return (
        f"""CREATE TABLE memory_places (
            place TEXT PRIMARY KEY,
            enabled_by TEXT NOT NULL,
            since {d.real} NOT NULL
        )""",
        f"""CREATE TABLE memory_messages (
            id {d.row_id},
            place TEXT NOT NULL,
            message_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            text TEXT NOT NULL,
            at {d.real} NOT NULL,
            link TEXT NOT NULL,
            UNIQUE (place, message_id)
        )""",
        "CREATE INDEX memory_messages_author ON memory_messages (author_id)",
        "CREATE INDEX memory_messages_at ON memory_messages (at)",
        *d.place_search,
    )


MIGRATIONS: tuple[Migration, ...] = (
    initial,
    events_remember_their_conversation,
    turns_in_flight,
    message_aliases,
    turn_usage,
    what_people_view,
    answer_feedback,
    tool_calls,
    place_memory,
)
"""Applied in this order; a migration's version is its place here, counted from 1."""


def migrations_table(d: Dialect) -> str:
    """Where a database records the migrations it has applied."""
    return (
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        f"version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {d.real} NOT NULL)"
    )


APPLIED = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"


def pending(applied: Collection[int], d: Dialect) -> list[tuple[int, str, tuple[str, ...]]]:
    """The migrations a database with these versions applied still needs: (version, name,
    statements), in order. Raises ValueError for a database a newer Parley migrated."""
    if applied and max(applied) > len(MIGRATIONS):
        raise ValueError(f"schema version {max(applied)} is newer than this Parley knows")
    return [
        (version, migration.__name__, migration(d))
        for version, migration in enumerate(MIGRATIONS, start=1)
        if version not in applied
    ]
