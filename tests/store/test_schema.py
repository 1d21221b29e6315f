"""One migration list for both databases; a database an older Parley made upgrades cleanly.

shipped_migrations.json holds every migration's statements as each dialect shipped them (the
two lists the stores held before they shared bot/store/schema.py); an old database is made
here by running them, as the old code did.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bot.store import schema
from bot.store.base import Store
from bot.store.dialect import POSTGRESQL, SQLITE, Dialect, numbered
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, ConversationKey, HistoryMessage, Role, ToolCall
from tests.support.postgres import postgres_schema

SHIPPED = json.loads((Path(__file__).parent / "shipped_migrations.json").read_text())
DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL}
KEY = ConversationKey("discord", "guild", "channel")

Statement = tuple[str, Sequence[object]]


def words(statement: str) -> str:
    """A statement with its layout ignored (no literal of ours holds two spaces in a row)."""
    return " ".join(statement.split())


@pytest.mark.parametrize("kind", DIALECTS)
def test_shipped_migrations_keep_their_names_order_and_statements(kind: str) -> None:
    dialect = DIALECTS[kind]
    shipped = SHIPPED[kind]
    rendered = [
        (version, name, [words(s) for s in statements])
        for version, name, statements in schema.pending((), dialect)
    ]
    assert rendered[: len(shipped["migrations"])] == [
        (version, name, [words(s) for s in statements])
        for version, (name, statements) in enumerate(shipped["migrations"], start=1)
    ]
    assert schema.migrations_table(dialect) == shipped["migrations_table"]


def test_a_database_newer_than_this_parley_is_refused() -> None:
    with pytest.raises(ValueError, match="schema version 99 is newer"):
        schema.pending({1, 2, 99}, SQLITE)


def test_pending_lists_only_what_a_database_lacks() -> None:
    applied = set(range(1, len(schema.MIGRATIONS)))
    assert [name for _, name, _ in schema.pending(applied, POSTGRESQL)] == [
        schema.MIGRATIONS[-1].__name__
    ]


@dataclass
class Database:
    """A database reached both raw (as the old code left it) and through a store."""

    kind: str
    location: str

    @property
    def dialect(self) -> Dialect:
        return DIALECTS[self.kind]

    def store(self) -> Store:
        if self.kind == "sqlite":
            return SqliteStore(Path(self.location))
        return PostgresStore(self.location, min_pool=1, max_pool=2)

    async def run(self, statements: Sequence[Statement]) -> None:
        """Run `?` statements in one transaction."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.location)) as conn, conn:
                for statement, params in statements:
                    conn.execute(statement, params)
            return
        conn = await asyncpg.connect(self.location)
        try:
            async with conn.transaction():
                for statement, params in statements:
                    await conn.execute(numbered(statement), *params)
        finally:
            await conn.close()

    async def rows(self, query: str) -> list[tuple[object, ...]]:
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.location)) as conn:
                return conn.execute(query).fetchall()
        conn = await asyncpg.connect(self.location)
        try:
            return [tuple(row) for row in await conn.fetch(query)]
        finally:
            await conn.close()

    async def made_by_shipped_code(self, versions: int) -> None:
        """The schema an older Parley left after its first `versions` migrations."""
        shipped = SHIPPED[self.kind]
        statements: list[Statement] = [(shipped["migrations_table"], ())]
        for version, (name, ddl) in enumerate(shipped["migrations"][:versions], start=1):
            statements += [(statement, ()) for statement in ddl]
            statements.append((schema.RECORD_MIGRATION, (version, name, 1_700_000_000.0)))
        await self.run(statements)

    async def catalog(self) -> list[tuple[object, ...]]:
        """Every table, column, index, constraint and trigger, layout and schema name ignored."""
        if self.kind == "sqlite":
            found = await self.rows(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name"
            )
            return [(*row[:3], words(str(row[3]))) for row in found]
        here = "(SELECT current_schema())"
        queries = (
            "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
            "column_default, is_identity, is_generated, generation_expression "
            f"FROM information_schema.columns WHERE table_schema = {here} ORDER BY 1, 3",
            f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = {here} ORDER BY 1",
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE connamespace = {here}::regnamespace ORDER BY 1, 2",
        )
        (schema_name,) = (await self.rows(f"SELECT {here}"))[0]
        found = [row for query in queries for row in await self.rows(query)]
        return [tuple(str(v).replace(f"{schema_name}.", "") for v in row) for row in found]


@pytest.fixture(params=["sqlite", "postgresql"])
async def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Database, Database]]:
    """Two empty databases of one kind: one an older Parley made, one this Parley makes."""
    if request.param == "sqlite":
        yield (
            Database("sqlite", str(tmp_path / "old.db")),
            Database("sqlite", str(tmp_path / "new.db")),
        )
        return
    async with AsyncExitStack() as stack:
        old, new = [await stack.enter_async_context(postgres_schema()) for _ in range(2)]
        yield Database("postgresql", old), Database("postgresql", new)


@asynccontextmanager
async def opened(database: Database) -> AsyncIterator[Store]:
    store = database.store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def old_turn(conv_id: int = 1) -> list[Statement]:
    """A conversation with one answered turn, an event claimed and a usage counter, written as
    the code of the first migrations wrote them."""
    now = time.time()
    return [
        (
            "INSERT INTO conversations (key, platform, space, channel, thread, tokens_total, "
            "message_count, turns, input_tokens, output_tokens, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, NULL, 30, 2, 1, 10, 20, ?, ?)",
            (str(KEY), KEY.platform, KEY.space, KEY.channel, now, now),
        ),
        (
            "INSERT INTO messages (conv_id, role, content, name, author_id, images, tokens, "
            "tokens_before, created_at) VALUES (?, 'user', 'asked before the upgrade', 'Alice', "
            "'alice', NULL, 10, 0, ?), (?, 'assistant', 'answered before it', NULL, NULL, NULL, "
            "20, 10, ?)",
            (conv_id, now - 2, conv_id, now - 1),
        ),
        ("INSERT INTO events (event_id, claimed_at) VALUES ('evt-old', ?)", (now,)),
        ("INSERT INTO usage (scope, amount, updated_at) VALUES ('alice:day', 3, ?)", (now,)),
    ]


@pytest.mark.parametrize("versions", [1, 7, len(SHIPPED["sqlite"]["migrations"])])
async def test_a_database_an_older_parley_made_upgrades_to_todays_schema(
    databases: tuple[Database, Database], versions: int
) -> None:
    old, new = databases
    await old.made_by_shipped_code(versions)
    await old.run(old_turn())
    async with opened(old) as store:
        await store.ping()
    async with opened(new) as store:
        await store.ping()
    assert await old.catalog() == await new.catalog()
    recorded = await old.rows("SELECT version, name, applied_at FROM schema_migrations ORDER BY 1")
    assert [(version, name) for version, name, _ in recorded] == [
        (version, name) for version, name, _ in schema.pending((), old.dialect)
    ]
    assert all(at == 1_700_000_000.0 for _, _, at in recorded[:versions])  # kept, not redone


async def test_an_upgraded_database_keeps_its_data_and_does_what_todays_does(
    databases: tuple[Database, Database],
) -> None:
    old, _ = databases
    await old.made_by_shipped_code(7)  # before messages learned tool calls (a rebuild on SQLite)
    await old.run(old_turn())
    async with opened(old) as store:
        assert [m.content for m in await store.load(KEY, 1000)] == [
            "asked before the upgrade",
            "answered before it",
        ]
        assert await store.claim_event("evt-old") is False
        assert await store.count_usage(["alice:day"]) == {"alice:day": 3}
        await store.reset(KEY)
        call = (ToolCall("call-1", "time.now", "{}"),)
        await store.append(
            KEY,
            [
                ChatMessage(Role.USER, "what time is it", author_id="alice", tokens=5),
                ChatMessage(Role.ASSISTANT, "", tokens=3, tool_calls=call),
                ChatMessage(Role.TOOL, "12:00", tokens=2, tool_call_id="call-1"),
                ChatMessage(Role.ASSISTANT, "noon", tokens=1),
            ],
        )
        loaded = await store.load(KEY, 1000)
        assert [(m.role, m.content, m.tool_calls) for m in loaded] == [
            (Role.USER, "what time is it", ()),
            (Role.ASSISTANT, "", call),
            (Role.TOOL, "12:00", ()),
            (Role.ASSISTANT, "noon", ()),
        ]
        place = "discord:guild:channel"
        await store.remember_place(place, "admin")
        kept = HistoryMessage("m1", "Bob", "the release ships friday", time.time(), "https://x")
        await store.keep_message(place, "bob", kept)
        assert await store.search_place(place, ["releas"], 5) == [kept]
    ids = await old.rows("SELECT id FROM messages ORDER BY id")
    assert [row[0] for row in ids] == [1, 2, 3, 4, 5, 6]  # ids (reset markers) kept on
