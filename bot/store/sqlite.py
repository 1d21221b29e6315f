"""The default store: one SQLite file in WAL mode, a reader and a writer fed in batches.

Every write (claim, append, reset, settings, forget, purge) is queued; one writer task takes
whatever is queued, applies it on a dedicated thread in ONE transaction (a savepoint per request,
so a failing request fails alone), commits once and resolves the callers in submission order.
Reads are batched the same way on a second connection, without the transaction. A hop between
the event loop and a thread costs more than a query here (about 0.3 ms measured on a 2-core VM),
so it is paid once per batch, not once per call; the event loop itself never touches the disk.
aiosqlite, the usual choice, hops once per statement and has no public way to run a batch in
its thread, which is why the two worker threads here are written by hand.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.history import History
from bot.store import schema, sql
from bot.store.base import (
    UNSET,
    ApprovalRecord,
    AuditQuery,
    ClaimedTurn,
    CounterCheck,
    ExportFilter,
    PlaceMemoryInfo,
    Rating,
    SpentQuery,
    ToolCallRecord,
    TurnEnd,
    TurnRecord,
    TurnUsage,
    UsageQuery,
    UsageRow,
)
from bot.store.dialect import SQLITE
from bot.store.errors import StoreError
from bot.store.locks import KeyedLock
from bot.store.sql import BUSY_TIMEOUT_SECONDS, TurnTotals, chat_message, message_rows
from bot.store.windows import WHOLE, WINDOW_CACHE_BYTES, WindowCache
from bot.types import (
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    ConversationStats,
    HistoryMessage,
)

T = TypeVar("T")

_CLAIMS_PER_STATEMENT = 500


@dataclass(slots=True)
class _Failed:
    error: BaseException


@dataclass(slots=True)
class _Call:
    apply: Callable[[sqlite3.Connection], object]
    future: asyncio.Future[object]


@dataclass(slots=True)
class _Claim:
    event_id: str
    conversation: str | None
    claimed_at: float
    owner: str
    future: asyncio.Future[object]
    then: Callable[[sqlite3.Connection], object] | None = None
    """Run in the same transaction once the claim is won (a turn's read): the claim's outcome is
    then what it returns, and None when the claim is lost."""


_Request = _Call | _Claim


class _BatchWorker:
    """A connection on its own thread that runs queued requests a batch at a time.

    One thread hop per batch instead of one per request: at thousands of requests per second the
    hops, not SQLite, are the cost. Callers are resolved in submission order.
    """

    def __init__(
        self,
        name: str,
        connect: Callable[[], sqlite3.Connection],
        run_batch: Callable[[sqlite3.Connection, list[_Request]], list[object]],
        max_batch: int,
    ) -> None:
        self._name = name
        self._connect = connect
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None
        self._pending: list[_Request] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._thread, self._connect)
        except BaseException:
            self._thread.shutdown()
            raise
        self._task = asyncio.create_task(self._drain(), name=self._name)

    async def stop(self) -> None:
        """Finish everything queued, then close the connection."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._conn.close)
            self._conn = None
        self._thread.shutdown()

    def submit(self, request: _Request) -> None:
        if self._stopping or self._task is None:
            raise StoreError("the SQLite store is not open")
        self._pending.append(request)
        self._wake.set()

    async def call(self, apply: Callable[[sqlite3.Connection], T]) -> T:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.submit(_Call(apply, future))
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes = await loop.run_in_executor(
                        self._thread, self._run_batch, self._conn, batch
                    )
                except BaseException as error:  # the thread or the loop is going away
                    outcomes = [_Failed(error)] * len(batch)
                for request, outcome in zip(batch, outcomes, strict=True):
                    if request.future.done():
                        continue
                    if isinstance(outcome, _Failed):
                        request.future.set_exception(outcome.error)
                    else:
                        request.future.set_result(outcome)
            if self._stopping:
                return


class _ClaimedTurn:
    """`claimed_turn`: the turn's lock held while its claim and read run, then until the turn
    ends. A class rather than a generator, as every turn enters one."""

    __slots__ = ("_claimed", "_lock")

    def __init__(
        self,
        lock: AbstractAsyncContextManager[None],
        claimed: Callable[[], Awaitable[ClaimedTurn | None]],
    ) -> None:
        self._lock = lock
        self._claimed = claimed

    async def __aenter__(self) -> ClaimedTurn | None:
        await self._lock.__aenter__()
        try:
            return await self._claimed()
        except BaseException:
            await self._lock.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._lock.__aexit__(*exc_info)


def _open_failure(path: Path, error: BaseException) -> StoreError:
    return StoreError(
        f"cannot open the SQLite database {path} ({error}); check PARLEY_DATABASE_URL"
    )


class SqliteStore:
    """The Store contract on one SQLite file, used by one process at a time.

    So every turn recorded by another owner than this store was left by a process that is gone.
    """

    def __init__(
        self, path: Path, *, max_batch: int = 1000, window_cache_bytes: int = WINDOW_CACHE_BYTES
    ) -> None:
        self._path = Path(path)
        self._windows = WindowCache(window_cache_bytes)
        self._owner = uuid.uuid4().hex
        self._turns = KeyedLock()
        self._writer = _BatchWorker(
            "parley-sqlite-writer", self._connect_writer, _write_batch, max_batch
        )
        self._reader = _BatchWorker(
            "parley-sqlite-reader", self._connect_reader, _read_batch, max_batch
        )

    # -- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            await self._writer.start()
        except (sqlite3.Error, OSError, ValueError) as error:  # ValueError: a newer schema
            raise _open_failure(self._path, error) from error
        try:
            await self._reader.start()
        except (sqlite3.Error, OSError) as error:
            await self._writer.stop()
            raise _open_failure(self._path, error) from error

    async def close(self) -> None:
        await self._writer.stop()
        await self._reader.stop()

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def ping(self) -> None:
        await self._read("SELECT 1", ())

    def turn_lock(
        self, key: ConversationKey, author_id: str = ""
    ) -> AbstractAsyncContextManager[None]:
        return self._turns.lock((key, author_id))

    def claimed_turn(
        self,
        key: ConversationKey,
        author_id: str,
        event_id: str,
        max_tokens: int,
        check: CounterCheck | None = None,
    ) -> AbstractAsyncContextManager[ClaimedTurn | None]:
        claimed = partial(self._claimed, key, event_id, max_tokens, check)
        return _ClaimedTurn(self.turn_lock(key, author_id), claimed)

    async def _claimed(
        self, key: ConversationKey, event_id: str, max_tokens: int, check: CounterCheck | None
    ) -> ClaimedTurn | None:
        # One request: the writer counts the turn and reads its settings and window right after
        # its claim, in the claim's transaction, so a turn waits for one batch, not a write and
        # a read.
        anchor = self._windows.anchor(str(key), max_tokens)
        read = partial(_read_claimed, key, max_tokens, anchor, check, time.time())
        found = await self._claim(event_id, str(key), read)
        if found is None:
            return None
        counters, turn = found
        settings, history = await self._window(key, max_tokens, anchor, turn)
        return ClaimedTurn(settings, history, counters)

    # -- reads --------------------------------------------------------------------------------

    async def _read(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return await self._reader.call(partial(_fetchall, statement, params))

    async def load(self, key: ConversationKey, max_tokens: int) -> list[ChatMessage]:
        if max_tokens <= 0:
            return []
        return [chat_message(row) for row in await self._read(sql.LOAD, (str(key), max_tokens))]

    async def load_turn(
        self, key: ConversationKey, max_tokens: int
    ) -> tuple[ConversationSettings, History]:
        anchor = self._windows.anchor(str(key), max_tokens)
        found = await self._reader.call(partial(_read_turn, key, max_tokens, anchor))
        return await self._window(key, max_tokens, anchor, found)

    async def _window(
        self,
        key: ConversationKey,
        max_tokens: int,
        anchor: int,
        found: tuple[ConversationSettings, list[tuple[Any, ...]]],
    ) -> tuple[ConversationSettings, History]:
        """A turn's settings and window from what `_read_turn` read from `anchor`."""
        settings, rows = found
        if max_tokens <= 0:
            return settings, History.of(())
        read_whole = partial(self._read, sql.WINDOW, sql.window_params(key, max_tokens, WHOLE))
        window = await self._windows.settled(str(key), max_tokens, anchor, rows, read_whole)
        return settings, window

    async def get_settings(self, key: ConversationKey) -> ConversationSettings:
        return sql.merged_settings(key, await self._read(sql.SETTINGS, sql.settings_keys(key)))

    async def knows(self, key: ConversationKey) -> bool:
        return bool((await self._read(sql.KNOWS, (str(key), str(key))))[0][0])

    async def stats(self, key: ConversationKey) -> ConversationStats:
        rows = await self._read(sql.STATS, (str(key),))
        return ConversationStats(*rows[0]) if rows else ConversationStats()

    async def usage_report(self, query: UsageQuery) -> list[UsageRow]:
        return sql.usage_rows(await self._read(*sql.usage_report(query)))

    async def money_spent(self, query: SpentQuery) -> tuple[int, int, int, int]:
        rows = await self._read(sql.MONEY_SPENT, sql.money_spent_params(query))
        return tuple(rows[0])  # type: ignore[return-value]

    async def count_moderated(self, platform: str, space: str, direction: str, day: int) -> None:
        params = (platform, space, direction, day)
        await self._writer.call(partial(_execute, sql.COUNT_MODERATED, params))

    async def moderation_counts(self, since_day: int) -> dict[tuple[str, str], int]:
        rows = await self._read(sql.MODERATION_COUNTS, (since_day,))
        return {(place, direction): count for place, direction, count in rows}

    def export(
        self, filter: ExportFilter
    ) -> AsyncIterator[tuple[ConversationKey, list[ChatMessage]]]:
        return sql.export_conversations(self._read, filter)

    # -- writes -------------------------------------------------------------------------------

    async def claim_event(self, event_id: str, key: ConversationKey | None = None) -> bool:
        return bool(await self._claim(event_id, str(key) if key is not None else None))

    async def _claim(
        self,
        event_id: str,
        conversation: str | None,
        then: Callable[[sqlite3.Connection], T] | None = None,
    ) -> Any:
        if not isinstance(event_id, str):
            raise TypeError(f"event_id must be a str, not {type(event_id).__name__}")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._writer.submit(_Claim(event_id, conversation, time.time(), self._owner, future, then))
        return await future

    async def append(
        self,
        key: ConversationKey,
        messages: Sequence[ChatMessage],
        *,
        output_tokens: int = 0,
        ends: TurnEnd | None = None,
        usage: TurnUsage | None = None,
    ) -> None:
        if messages or ends or usage:
            await self._writer.call(
                partial(_append, key, list(messages), output_tokens, ends, usage, time.time())
            )

    async def begin_turn(self, record: TurnRecord) -> TurnRecord | None:
        row = sql.turn_row(record, self._owner, time.time())
        return await self._writer.call(partial(_begin_turn, row))

    async def show_progress(self, event_id: str, receipt: str | None, shown: str) -> None:
        params = (receipt, shown, time.time(), event_id)
        await self._writer.call(partial(_execute, sql.SHOW_PROGRESS, params))

    async def end_turn(self, event_id: str) -> None:
        await self._writer.call(partial(_execute, sql.END_TURN, (event_id,)))

    async def orphaned_turns(self, platform: str) -> list[TurnRecord]:
        rows = await self._writer.call(partial(_adopt_orphans, platform, self._owner, time.time()))
        return [sql.turn_record(row) for row in rows]

    async def link(self, key: ConversationKey, aliases: Sequence[str]) -> None:
        if aliases:
            rows = [(alias, str(key), time.time()) for alias in aliases]
            await self._writer.call(partial(_execute_many, sql.LINK, rows))

    async def resolve(self, alias: str) -> ConversationKey | None:
        rows = await self._read(sql.RESOLVE, (alias,))
        return ConversationKey.parse(rows[0][0]) if rows else None

    async def reset(self, key: ConversationKey, *, beneath: bool = False) -> None:
        params = sql.reset_params(key, beneath, time.time())
        await self._writer.call(partial(_execute, sql.RESET, params))
        self._windows.drop_where(partial(sql.reset_covers, key, beneath))

    async def set_settings(
        self, key: ConversationKey, *, system_prompt: object = UNSET, model: object = UNSET
    ) -> None:
        changes = sql.settings_changes(system_prompt=system_prompt, model=model)
        if changes:
            await self._writer.call(partial(_set_settings, key, changes, time.time()))

    async def forget(self, author_id: str) -> int:
        for statement in sql.FORGET_PERSON:
            await self._writer.call(partial(_execute, statement, (author_id,)))
        deleted = await self._writer.call(partial(_delete_messages, "author_id = ?", (author_id,)))
        self._windows.clear()  # what they said leaves memory too
        return deleted

    async def purge(self, older_than: float) -> int:
        purged = await self._writer.call(partial(_purge, older_than))
        self._windows.clear()
        return purged

    async def expire(self, before: float) -> None:
        await self._writer.call(partial(_expire, before))

    async def count_usage(self, scopes: Sequence[str]) -> dict[str, int]:
        if not scopes:
            return {}
        rows = await self._read(sql.count_usage(len(scopes)), tuple(scopes))
        return {scope: amount for scope, amount in rows}

    async def add_usage(self, amounts: Mapping[str, int]) -> None:
        if amounts:
            now = time.time()
            rows = [(scope, amount, now) for scope, amount in amounts.items()]
            await self._writer.call(partial(_execute_many, sql.ADD_USAGE, rows))

    # -- what people view ---------------------------------------------------------------------

    async def remember_viewing(self, person: str, context: str) -> None:
        row = (person, context, time.time())
        await self._writer.call(partial(_execute, sql.REMEMBER_VIEWING, row))

    async def recall_viewing(self, person: str) -> str | None:
        rows = await self._read(sql.RECALL_VIEWING, (person,))
        return rows[0][0] if rows else None

    # -- feedback -----------------------------------------------------------------------------

    async def record_answer(
        self, key: ConversationKey, answer_ids: Sequence[str], answered_at: float
    ) -> None:
        rows = [(answer_id, str(key), answered_at) for answer_id in answer_ids]
        if rows:
            await self._writer.call(partial(_execute_many, sql.RECORD_ANSWER, rows))

    async def rate_answer(self, answer_id: str, person: str, liked: bool) -> bool:
        row = (person, int(liked), time.time(), answer_id)
        return bool(await self._writer.call(partial(_fetch_written, sql.RATE_ANSWER, row)))

    async def ratings(self, key: ConversationKey | None = None) -> list[Rating]:
        conversation = None if key is None else str(key)
        rows = await self._read(sql.RATINGS, (conversation, conversation))
        return [
            Rating(ConversationKey.parse(c), at, likes, dislikes) for c, at, likes, dislikes in rows
        ]

    # -- tools --------------------------------------------------------------------------------

    async def open_approval(self, approval_id: str, tool: str, asker_id: str) -> None:
        row = (approval_id, tool, asker_id, time.time())
        await self._writer.call(partial(_execute, sql.OPEN_APPROVAL, row))

    async def settle_approval(self, approval_id: str, state: str, by: str | None) -> bool:
        row = (state, by, time.time(), approval_id)
        return bool(await self._writer.call(partial(_fetch_written, sql.SETTLE_APPROVAL, row)))

    async def approval(self, approval_id: str) -> ApprovalRecord | None:
        rows = await self._read(sql.APPROVAL, (approval_id,))
        return ApprovalRecord(*rows[0]) if rows else None

    async def record_tool_call(self, record: ToolCallRecord) -> None:
        row = tuple(getattr(record, field) for field in ToolCallRecord.__slots__)
        await self._writer.call(partial(_execute, sql.RECORD_TOOL_CALL, row))

    async def tool_calls(self, query: AuditQuery) -> list[ToolCallRecord]:
        statement, params = sql.audit_query(query)
        return [ToolCallRecord(*row) for row in await self._read(statement, params)]

    # -- memory of the place ------------------------------------------------------------------

    async def remember_place(self, place: str, by: str) -> None:
        await self._writer.call(partial(_execute, sql.REMEMBER_PLACE, (place, by, time.time())))

    async def forget_place(self, place: str) -> None:
        for statement in sql.FORGET_PLACE:
            await self._writer.call(partial(_execute, statement, (place,)))

    async def remembered_places(self) -> list[str]:
        return [row[0] for row in await self._read(sql.REMEMBERED_PLACES, ())]

    async def place_memory(self, place: str) -> PlaceMemoryInfo | None:
        rows = await self._read(sql.PLACE_MEMORY, (place,))
        return PlaceMemoryInfo(*rows[0]) if rows else None

    async def keep_message(self, place: str, author_id: str, message: HistoryMessage) -> None:
        row = sql.kept_row(place, author_id, message)
        await self._writer.call(partial(_execute, sql.KEEP_MESSAGE, row))

    async def drop_message(self, place: str, message_id: str) -> None:
        await self._writer.call(partial(_execute, sql.DROP_MESSAGE, (place, message_id)))

    async def search_place(
        self, place: str, terms: Sequence[str], limit: int, exclude: str = ""
    ) -> list[HistoryMessage]:
        if not terms:
            return []
        params = (SQLITE.search_terms(terms), place, exclude, limit)
        return [HistoryMessage(*row) for row in await self._read(SQLITE.search_place, params)]

    async def purge_place_messages(self, older_than: float) -> int:
        return await self._writer.call(
            partial(_count_written, sql.PURGE_PLACE_MESSAGES, (older_than,))
        )


def _read_batch(conn: sqlite3.Connection, batch: list[_Request]) -> list[object]:
    """Run each read on its own; runs on the reader thread."""
    outcomes: list[object] = []
    for request in batch:
        assert isinstance(request, _Call)
        try:
            outcomes.append(request.apply(conn))
        except Exception as error:
            outcomes.append(_Failed(error))
    return outcomes


class _RequestFailed(Exception):
    """A request failed in a batch run without savepoints: run it again with them."""


def _write_batch(conn: sqlite3.Connection, batch: list[_Request]) -> list[object]:
    """Apply a batch in one transaction; runs on the writer thread.

    The requests run as they are: should one fail, the transaction is rolled back and run again
    with a savepoint per request, so a failing request fails alone while the common batch pays
    no savepoints (two statements a request).
    """
    try:
        try:
            return _transaction(conn, batch, _apply_bare)
        except _RequestFailed:
            conn.execute("ROLLBACK")
            return _transaction(conn, batch, _apply_alone)
    except sqlite3.Error as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return [_Failed(_write_failure(error)) for _ in batch]


def _transaction(
    conn: sqlite3.Connection,
    batch: list[_Request],
    apply: Callable[[sqlite3.Connection, Callable[[sqlite3.Connection], object]], object],
) -> list[object]:
    outcomes: list[object] = [None] * len(batch)
    conn.execute("BEGIN IMMEDIATE")
    claims: list[tuple[int, _Claim]] = []
    for index, request in enumerate(batch):
        if isinstance(request, _Claim):
            claims.append((index, request))
        else:
            outcomes[index] = apply(conn, request.apply)
    if claims:
        _claim_all(conn, claims, outcomes)
    conn.execute("COMMIT")
    return outcomes


def _fetchall(
    statement: str, params: Sequence[object], conn: sqlite3.Connection
) -> list[tuple[Any, ...]]:
    return conn.execute(statement, params).fetchall()


def _read_turn(
    key: ConversationKey, max_tokens: int, anchor: int, conn: sqlite3.Connection
) -> tuple[ConversationSettings, list[tuple[Any, ...]]]:
    found = conn.execute(sql.SETTINGS, sql.settings_keys(key)).fetchall()
    params = sql.window_params(key, max_tokens, anchor)
    rows = conn.execute(sql.WINDOW, params).fetchall() if max_tokens > 0 else []
    return sql.merged_settings(key, found), rows


def _write_failure(error: sqlite3.Error) -> StoreError:
    failure = StoreError(f"the SQLite write failed: {error}")
    failure.__cause__ = error
    return failure


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL; two processes creating the file at once may briefly see it locked.

    Changing the journal mode can fail with "database is locked" without consulting the busy
    timeout, so it is retried here for as long as that timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply missing migrations in one transaction; BEGIN IMMEDIATE makes concurrent opens wait."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(schema.migrations_table(SQLITE))
        applied = {row[0] for row in conn.execute(schema.APPLIED)}
        for version, name, statements in schema.pending(applied, SQLITE):
            for statement in statements:
                conn.execute(statement)
            conn.execute(schema.RECORD_MIGRATION, (version, name, time.time()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _apply_bare(conn: sqlite3.Connection, apply: Callable[[sqlite3.Connection], object]) -> object:
    try:
        return apply(conn)
    except Exception as error:
        raise _RequestFailed from error


def _apply_alone(conn: sqlite3.Connection, apply: Callable[[sqlite3.Connection], object]) -> object:
    """Run one request inside a savepoint so its failure rolls back only its own changes."""
    conn.execute("SAVEPOINT request")
    try:
        result = apply(conn)
    except Exception as error:
        conn.execute("ROLLBACK TO request")
        conn.execute("RELEASE request")
        return _Failed(error)
    conn.execute("RELEASE request")
    return result


def _claim_all(
    conn: sqlite3.Connection, claims: list[tuple[int, _Claim]], outcomes: list[object]
) -> None:
    """Claim a batch's event ids with as few statements as possible; the first claimant wins."""
    winners: dict[str, tuple[int, _Claim]] = {}
    for index, claim in claims:
        if claim.event_id in winners:
            outcomes[index] = False if claim.then is None else None
        else:
            winners[claim.event_id] = (index, claim)
    params = [(c.event_id, c.conversation, c.claimed_at) for _, c in winners.values()]
    claimed: set[str] = set()
    for start in range(0, len(params), _CLAIMS_PER_STATEMENT):
        chunk = params[start : start + _CLAIMS_PER_STATEMENT]
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        rows = conn.execute(
            f"INSERT INTO events (event_id, conversation, claimed_at) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            [value for row in chunk for value in row],
        ).fetchall()
        claimed.update(row[0] for row in rows)
    retried = [c for _, c in winners.values() if c.event_id not in claimed]
    if retried:
        claimed.update(_reclaim(conn, retried))
    for event_id, (index, claim) in winners.items():
        won = event_id in claimed
        if claim.then is None:
            outcomes[index] = won
        elif won:
            outcomes[index] = _then(conn, claim.then)


def _then(conn: sqlite3.Connection, then: Callable[[sqlite3.Connection], object]) -> object:
    """What a won claim runs next (a read): its failure is the claim's alone."""
    try:
        return then(conn)
    except Exception as error:
        return _Failed(error)


def _reclaim(conn: sqlite3.Connection, claims: list[_Claim]) -> set[str]:
    """Events claimed before whose turn never finished: interrupted, or left by a dead process
    (every owner but this store's own). Taking them over makes a second re-claim lose."""
    claimed: set[str] = set()
    owner, now = claims[0].owner, claims[0].claimed_at
    for start in range(0, len(claims), _CLAIMS_PER_STATEMENT):
        chunk = [claim.event_id for claim in claims[start : start + _CLAIMS_PER_STATEMENT]]
        rows = conn.execute(
            "UPDATE turns SET owner = ?, state = 'running', updated_at = ? "
            f"WHERE event_id IN ({', '.join('?' * len(chunk))}) "
            "AND (state = 'interrupted' OR owner != ?) RETURNING event_id",
            (owner, now, *chunk, owner),
        ).fetchall()
        claimed.update(row[0] for row in rows)
    return claimed


def _read_claimed(
    key: ConversationKey,
    max_tokens: int,
    anchor: int,
    check: CounterCheck | None,
    now: float,
    conn: sqlite3.Connection,
) -> tuple[dict[str, int], tuple[ConversationSettings, list[tuple[Any, ...]]]]:
    """What a claimed turn reads in its claim's transaction: its counters (counting it), its
    settings and window."""
    counters = _checked(check, now, conn) if check is not None else {}
    return counters, _read_turn(key, max_tokens, anchor, conn)


def _checked(check: CounterCheck, now: float, conn: sqlite3.Connection) -> dict[str, int]:
    """The check's counters as they were; the counting ones raised when it admits the turn."""
    scopes = [counter.scope for counter in check.counters]
    stored = dict(conn.execute(sql.count_usage(len(scopes)), scopes).fetchall())
    found = {scope: stored.get(scope, 0) for scope in scopes}
    if check.admits(found):
        rows = [(scope, amount, now) for scope, amount in check.raised().items()]
        conn.executemany(sql.ADD_USAGE, rows)
    return found


def _execute(statement: str, params: Sequence[object], conn: sqlite3.Connection) -> None:
    conn.execute(statement, params)


def _count_written(statement: str, params: Sequence[object], conn: sqlite3.Connection) -> int:
    return conn.execute(statement, params).rowcount


def _fetch_written(
    statement: str, params: Sequence[object], conn: sqlite3.Connection
) -> list[tuple[Any, ...]]:
    return conn.execute(statement, params).fetchall()


def _execute_many(
    statement: str, rows: Sequence[Sequence[object]], conn: sqlite3.Connection
) -> None:
    conn.executemany(statement, rows)


def _append(
    key: ConversationKey,
    messages: list[ChatMessage],
    output_tokens: int,
    ends: TurnEnd | None,
    usage: TurnUsage | None,
    now: float,
    conn: sqlite3.Connection,
) -> None:
    if usage is not None:
        conn.execute(sql.RECORD_USAGE, sql.usage_row(usage, now))
    if messages:
        totals = TurnTotals.of(messages, output_tokens)
        ((conv_id, tokens_total),) = conn.execute(
            sql.APPEND_TURN, sql.append_row(key, totals, now)
        ).fetchall()
        conn.executemany(
            sql.INSERT_MESSAGE, message_rows(conv_id, messages, tokens_total - totals.weight)
        )
    if ends is not None and ends.interrupted:
        conn.execute(sql.INTERRUPT_TURN, (now, ends.event_id))
    elif ends is not None:
        conn.execute(sql.END_TURN, (ends.event_id,))


def _begin_turn(row: tuple[object, ...], conn: sqlite3.Connection) -> TurnRecord | None:
    earlier = conn.execute(sql.EARLIER_TURN, (row[0],)).fetchone()
    conn.execute(sql.BEGIN_TURN, row)
    return sql.turn_record(earlier) if earlier is not None else None


def _adopt_orphans(
    platform: str, owner: str, now: float, conn: sqlite3.Connection
) -> list[tuple[Any, ...]]:
    return conn.execute(
        "UPDATE turns SET owner = ?, updated_at = ? "
        "WHERE platform = ? AND state = 'running' AND owner != ? "
        f"RETURNING {sql.TURN_COLUMNS}",
        (owner, now, platform, owner),
    ).fetchall()


def _set_settings(
    key: ConversationKey, changes: dict[str, object], now: float, conn: sqlite3.Connection
) -> None:
    conn.execute(sql.settings_upsert(changes), (*sql.conversation_row(key, now), *changes.values()))


def _delete_messages(where: str, params: Sequence[object], conn: sqlite3.Connection) -> int:
    """Delete matching messages and recompute the token window of the conversations they left."""
    affected = conn.execute(f"SELECT DISTINCT conv_id FROM messages WHERE {where}", params)
    conv_ids = [(row[0],) for row in affected.fetchall()]
    deleted = conn.execute(f"DELETE FROM messages WHERE {where}", params).rowcount
    conn.executemany(sql.RECOUNT_WINDOW, conv_ids)
    conn.executemany(sql.RECOUNT_TOTALS, conv_ids)
    return deleted


def _purge(older_than: float, conn: sqlite3.Connection) -> int:
    conn.execute(sql.PURGE_ALIASES, (older_than,))
    return _delete_messages("created_at < ?", (older_than,), conn)


def _expire(before: float, conn: sqlite3.Connection) -> None:
    for statement in sql.EXPIRE:
        conn.execute(statement, (before,))
