"""What SQLite and PostgreSQL spell differently, in one place.

Every other statement is one text for both: both speak `ON CONFLICT ... DO UPDATE` upserts and
`RETURNING`, and statements are written with `?` placeholders, which `numbered` turns into
PostgreSQL's `$1, $2, ...`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

KEPT_COLUMNS = "m.message_id, m.author_name, m.text, m.at, m.link"
"""The columns a place search reads, in HistoryMessage's order."""

ROLE_CHECK = "CHECK (role IN ('system', 'user', 'assistant', 'tool'))"
"""The messages' roles once tool calls are kept."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    real: str
    """Seconds and times."""
    integer: str
    """A counter or a reference to a row's id."""
    row_id: str
    """A table's own id."""
    lasting_id: str
    """An id never reused, even after the newest rows are deleted: a reset marker is a message
    id, and must stay valid after the newest messages are forgotten."""
    keyed: str
    """What follows a table that only its primary key finds (SQLite keeps it without a rowid)."""
    tool_messages: tuple[str, ...]
    """The migration by which messages keep tool calls and tool answers."""
    place_search: tuple[str, ...]
    """The full-text index of channels' kept messages, created after their table."""
    search_place: str
    """A place search; its parameters: `search_terms(terms)`, place, excluded id, limit."""
    search_terms: Callable[[Sequence[str]], object]


def numbered(sql: str, start: int = 1) -> str:
    """The same statement with PostgreSQL's $1, $2, ... placeholders (our SQL has no ? literals);
    `start` numbers a statement that follows others' parameters."""
    parts = sql.split("?")
    return "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], start)) + parts[-1]


def fts5_query(terms: Sequence[str]) -> str:
    """SQLite's MATCH text: each term (letters and digits only) quoted, as a prefix, OR-ed."""
    return " OR ".join(f'"{term}"*' for term in terms)


SQLITE = Dialect(
    name="sqlite",
    real="REAL",
    integer="INTEGER",
    row_id="INTEGER PRIMARY KEY",
    lasting_id="INTEGER PRIMARY KEY AUTOINCREMENT",
    keyed=" WITHOUT ROWID",
    tool_messages=(
        # SQLite cannot change a CHECK in place: the messages table is rebuilt, its ids (the
        # reset markers) and its AUTOINCREMENT counter kept.
        f"""CREATE TABLE messages_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conv_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            role TEXT NOT NULL {ROLE_CHECK},
            content TEXT NOT NULL,
            name TEXT,
            author_id TEXT,
            images TEXT,
            tokens INTEGER NOT NULL CHECK (tokens >= 0),
            tokens_before INTEGER NOT NULL,
            created_at REAL NOT NULL,
            tool_calls TEXT,
            tool_call_id TEXT
        )""",
        "INSERT INTO messages_new (id, conv_id, role, content, name, author_id, images, tokens, "
        "tokens_before, created_at) SELECT id, conv_id, role, content, name, author_id, images, "
        "tokens, tokens_before, created_at FROM messages",
        "DELETE FROM sqlite_sequence WHERE name = 'messages_new'",
        "UPDATE sqlite_sequence SET name = 'messages_new' WHERE name = 'messages'",
        "DROP TABLE messages",
        "ALTER TABLE messages_new RENAME TO messages",
        "CREATE INDEX messages_window ON messages (conv_id, tokens_before)",
        "CREATE INDEX messages_author ON messages (author_id) WHERE author_id IS NOT NULL",
        "CREATE INDEX messages_created ON messages (created_at)",
    ),
    place_search=(
        # External content: the index holds no second copy of the text; an explicit INTEGER
        # PRIMARY KEY is its rowid, which VACUUM never renumbers. Triggers keep it in step.
        "CREATE VIRTUAL TABLE memory_search USING fts5(text, content='memory_messages', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        """CREATE TRIGGER memory_messages_added AFTER INSERT ON memory_messages BEGIN
            INSERT INTO memory_search (rowid, text) VALUES (new.id, new.text);
        END""",
        """CREATE TRIGGER memory_messages_deleted AFTER DELETE ON memory_messages BEGIN
            INSERT INTO memory_search (memory_search, rowid, text)
            VALUES ('delete', old.id, old.text);
        END""",
        """CREATE TRIGGER memory_messages_edited AFTER UPDATE OF text ON memory_messages BEGIN
            INSERT INTO memory_search (memory_search, rowid, text)
            VALUES ('delete', old.id, old.text);
            INSERT INTO memory_search (rowid, text) VALUES (new.id, new.text);
        END""",
    ),
    search_place=f"""
SELECT {KEPT_COLUMNS} FROM memory_search JOIN memory_messages AS m ON m.id = memory_search.rowid
WHERE memory_search MATCH ? AND m.place = ? AND m.message_id != ?
ORDER BY bm25(memory_search), m.at DESC LIMIT ?""",
    search_terms=fts5_query,
)
"""SQLite: FTS5 ranked with bm25."""

POSTGRESQL = Dialect(
    name="postgresql",
    real="DOUBLE PRECISION",
    integer="BIGINT",
    row_id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    lasting_id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    keyed="",
    tool_messages=(
        "ALTER TABLE messages DROP CONSTRAINT messages_role_check",
        f"ALTER TABLE messages ADD CONSTRAINT messages_role_check {ROLE_CHECK}",
        "ALTER TABLE messages ADD COLUMN tool_calls TEXT, ADD COLUMN tool_call_id TEXT",
    ),
    place_search=(
        # 'simple': no stemming or stop words, since the team's language is not known.
        "ALTER TABLE memory_messages ADD COLUMN search tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
        "CREATE INDEX memory_messages_search ON memory_messages USING GIN (search)",
    ),
    # Each term quoted by the server (quote_literal), so no text can break the tsquery syntax.
    search_place=f"""
WITH q AS (SELECT to_tsquery('simple', array_to_string(
    ARRAY(SELECT quote_literal(term) || ':*' FROM unnest($1::text[]) AS term), ' | ')) AS query)
SELECT {KEPT_COLUMNS} FROM memory_messages AS m, q
WHERE m.search @@ q.query AND m.place = $2 AND m.message_id <> $3
ORDER BY ts_rank(m.search, q.query) DESC, m.at DESC LIMIT $4""",
    search_terms=list,
)
"""PostgreSQL: a generated tsvector ranked with ts_rank."""
