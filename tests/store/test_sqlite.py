"""What only the SQLite store promises: group commit, its pragmas and query plan, crash safety."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.store import sql
from bot.store.base import TurnRecord
from bot.store.errors import StoreError
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, ConversationKey, Role

REPO = Path(__file__).resolve().parents[2]


def turn(text: str) -> list[ChatMessage]:
    return [ChatMessage(Role.USER, text, tokens=5), ChatMessage(Role.ASSISTANT, text, tokens=5)]


def key(number: int) -> ConversationKey:
    return ConversationKey("console", "local", f"c{number}")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "parley.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_a_failing_write_fails_alone_in_its_batch(store: SqliteStore) -> None:
    broken = [ChatMessage(Role.USER, "ok", tokens=1), ChatMessage("narrator", "bad", tokens=1)]  # type: ignore[arg-type]
    results = await asyncio.gather(
        store.append(key(1), turn("first")),
        store.claim_event("evt"),
        store.append(key(2), broken),
        store.append(key(3), turn("third")),
        store.claim_event("evt"),
        return_exceptions=True,
    )
    assert results[0] is None and results[3] is None
    assert results[1] is True and results[4] is False
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert len(await store.load(key(1), 100)) == 2
    assert await store.load(key(2), 100) == []
    assert len(await store.load(key(3), 100)) == 2


async def test_a_claimed_turn_reads_in_its_claims_batch_even_beside_a_failing_write(
    store: SqliteStore,
) -> None:
    await store.append(key(1), turn("before"))

    async def claimed(event_id: str) -> list[str] | None:
        async with store.claimed_turn(key(1), "u1", event_id, 100) as read:
            return None if read is None else [message.content for message in read[1]]

    broken = [ChatMessage("narrator", "bad", tokens=1)]  # type: ignore[arg-type]
    results = await asyncio.gather(
        claimed("evt"), store.append(key(2), broken), claimed("evt"), return_exceptions=True
    )
    assert results[0] == ["before", "before"]
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert results[2] is None  # the same event again: claimed before


async def test_writes_complete_in_submission_order(store: SqliteStore) -> None:
    finished: list[int] = []

    async def write(number: int) -> None:
        await store.append(key(number), turn(str(number)))
        finished.append(number)

    await asyncio.gather(*(write(n) for n in range(300)))
    assert finished == list(range(300))


async def test_close_flushes_queued_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "parley.db")
    await store.open()
    writes = [asyncio.create_task(store.append(key(n), turn(str(n)))) for n in range(50)]
    await asyncio.sleep(0)  # every write is queued, none committed yet
    await store.close()
    await asyncio.gather(*writes)
    reopened = SqliteStore(tmp_path / "parley.db")
    await reopened.open()
    try:
        assert all([len(await reopened.load(key(n), 100)) == 2 for n in range(50)])
    finally:
        await reopened.close()
    with pytest.raises(StoreError):
        await store.append(key(1), turn("too late"))


async def test_database_runs_in_wal_mode_with_foreign_keys(
    store: SqliteStore, tmp_path: Path
) -> None:
    with closing(sqlite3.connect(tmp_path / "parley.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "messages", "events", "schema_migrations"} <= tables


async def test_load_is_one_range_scan_of_the_window_index(
    store: SqliteStore, tmp_path: Path
) -> None:
    with closing(sqlite3.connect(tmp_path / "parley.db")) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql.LOAD, ("k", 10))]
    assert plan == [
        "SEARCH c USING INDEX sqlite_autoindex_conversations_1 (key=?)",
        "SEARCH m USING INDEX messages_window (conv_id=? AND tokens_before>?)",
    ]


async def test_parent_directories_are_created(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a" / "b" / "parley.db")
    await store.open()
    await store.close()
    assert (tmp_path / "a" / "b" / "parley.db").is_file()


async def assert_refused_in_one_line(path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        await SqliteStore(path).open()
    assert "PARLEY_DATABASE_URL" in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_a_path_under_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a directory")
    await assert_refused_in_one_line(tmp_path / "blocker" / "parley.db")


async def test_a_directory_as_database_is_refused_in_one_line(tmp_path: Path) -> None:
    await assert_refused_in_one_line(tmp_path)


async def test_a_file_that_is_no_database_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, this is not SQLite " * 100)
    await assert_refused_in_one_line(tmp_path / "notes.txt")


async def test_a_database_from_a_newer_parley_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "parley.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(StoreError, match="newer"):
        await SqliteStore(path).open()


_WRITER = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, ConversationKey, Role

async def main():
    store = SqliteStore(Path(sys.argv[1]))
    await store.open()
    rounds = 0
    while True:
        await asyncio.gather(*(
            store.append(
                ConversationKey("t", "s", f"c{n}"),
                [ChatMessage(Role.USER, "q" * 300, tokens=50),
                 ChatMessage(Role.ASSISTANT, "a" * 900, tokens=150)],
            )
            for n in range(25)
        ))
        rounds += 1
        if rounds == 20:
            print("writing", flush=True)

asyncio.run(main())
"""


async def test_a_killed_writer_never_leaves_half_a_turn(tmp_path: Path) -> None:
    path = tmp_path / "parley.db"
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(path), str(REPO), stdout=asyncio.subprocess.PIPE
    )
    assert writer.stdout is not None
    async with asyncio.timeout(60):
        assert await writer.stdout.readline() == b"writing\n"
    await asyncio.sleep(0.3)
    writer.send_signal(signal.SIGKILL)
    assert await writer.wait() == -signal.SIGKILL

    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        counts = conn.execute(
            "SELECT c.message_count, COUNT(m.id) FROM conversations c "
            "LEFT JOIN messages m ON m.conv_id = c.id GROUP BY c.id"
        ).fetchall()
    assert len(counts) == 25
    assert all(
        stored == counted and counted % 2 == 0 and counted >= 40 for stored, counted in counts
    )

    store = SqliteStore(path)
    await store.open()
    try:
        window = await store.load(ConversationKey("t", "s", "c0"), 1000)
        assert [m.role for m in window] == [Role.USER, Role.ASSISTANT] * 5
        await store.append(ConversationKey("t", "s", "c0"), turn("after the crash"))
    finally:
        await store.close()


async def test_a_turn_recorded_by_an_earlier_version_is_adopted_whole(tmp_path: Path) -> None:
    """Earlier versions recorded a turn's question as JSON objects, now arrays: a turn in flight
    across an upgrade is still finished with its question."""
    question = (ChatMessage(Role.USER, "question?", "Ann", "u1", 3, 1_700_000_000.5),)
    dead = SqliteStore(tmp_path / "parley.db")
    await dead.open()
    assert await dead.claim_event("evt-old", key(1))
    await dead.begin_turn(TurnRecord("evt-old", key(1), question))
    await dead.close()
    earlier = [
        {"role": "user", "content": "question?", "name": "Ann", "author_id": "u1", "tokens": 3}
        | {"created_at": 1_700_000_000.5, "images": [], "tool_calls": None, "tool_call_id": None}
    ]
    with closing(sqlite3.connect(tmp_path / "parley.db")) as conn, conn:
        conn.execute("UPDATE turns SET question = ?", (json.dumps(earlier),))

    heir = SqliteStore(tmp_path / "parley.db")
    await heir.open()
    try:
        (orphan,) = await heir.orphaned_turns("console")
    finally:
        await heir.close()
    assert orphan.question == question
