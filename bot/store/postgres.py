"""The scale-out store: many replicas share one PostgreSQL database (asyncpg).

One person's turns in one conversation are serialized in two steps: an in-process FIFO lock
(cheap, keeps arrival order), then a session advisory lock so replicas take turns too. The
advisory locks of a process live on ONE dedicated connection rather than a pooled one per turn:
holding a pool connection for a whole turn (an LLM answer takes seconds) would cap concurrent
turns at the pool size and deadlock once every pooled connection held a lock its turn needs
another connection for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg

from bot.config import mask_url
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
from bot.store.dialect import POSTGRESQL, numbered
from bot.store.errors import StoreError
from bot.store.locks import KeyedLock
from bot.store.sql import TurnTotals, chat_message, message_rows
from bot.store.windows import WHOLE, WINDOW_CACHE_BYTES, WindowCache
from bot.types import (
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    ConversationStats,
    HistoryMessage,
)

log = logging.getLogger(__name__)

_MIGRATION_LOCK = int.from_bytes(b"parley-m", "big", signed=True)
"""The advisory lock id that serializes migrating replicas."""
_RECORD_MIGRATION = numbered(schema.RECORD_MIGRATION)

_STORE_TURN = f"""
conversation AS ({numbered(sql.APPEND_TURN)}), stored AS (
    INSERT INTO messages (conv_id, role, content, name, author_id, images, tokens, tokens_before,
                          created_at, tool_calls, tool_call_id)
    SELECT c.id, m.role, m.content, m.name, m.author_id, m.images, m.tokens,
           c.tokens_total - $13 + m.offset_in_turn, m.created_at, m.tool_calls, m.tool_call_id
    FROM conversation AS c,
         unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::int[],
                $20::bigint[], $21::float8[], $22::text[], $23::text[])
             AS m(role, content, name, author_id, images, tokens, offset_in_turn, created_at,
                  tool_calls, tool_call_id)
)"""
"""A turn's messages in one statement: the upsert locks the conversation row, so appends from
other replicas queue and each places its messages after the committed total."""
_TURN_ENDS = {False: sql.END_TURN, True: sql.INTERRUPT_TURN}
"""How `append` ends its turn record in the same statement, by whether it was interrupted."""
_RELEASE = """held AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(?) AS got),
released AS MATERIALIZED (SELECT pg_advisory_unlock(?) FROM held)"""
"""Give a turn's session lock back when the statement commits, not before: the transaction's own
lock on the same key (granted at once: this session holds it) keeps other replicas out until
then, so the next turn's read sees this one's messages."""
_LOAD = numbered(sql.LOAD)
_WINDOW = numbered(sql.WINDOW)
_SETTINGS = numbered(sql.SETTINGS)
_KNOWS = numbered(sql.KNOWS)
_STATS = numbered(sql.STATS)
_EXPIRE = tuple(numbered(statement) for statement in sql.EXPIRE)
_RESET = numbered(sql.RESET)
_LOCK_FOR_RESET = numbered(
    "SELECT 1 FROM conversations WHERE key = ? OR substr(key, 1, length(CAST(? AS TEXT))) = ?"
    " FOR UPDATE"
)
_RECOUNT_WINDOW = numbered(sql.RECOUNT_WINDOW)
_RECOUNT_TOTALS = numbered(sql.RECOUNT_TOTALS)
_ADD_USAGE = numbered(sql.ADD_USAGE)
_MONEY_SPENT = numbered(sql.MONEY_SPENT)
_COUNT_MODERATED = numbered(sql.COUNT_MODERATED)
_MODERATION_COUNTS = numbered(sql.MODERATION_COUNTS)
_OWNER_LOCKS = int.from_bytes(b"prly", "big")
"""The first key of the advisory lock (namespace, owner) each process holds while it lives."""
_OWNER_ALIVE = f"""EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = {_OWNER_LOCKS}::bigint::oid AND objid = turns.owner::bigint::oid
)"""
"""Whether the process that owns a turn still holds its lock: the server drops the locks of a
session whose process died, so a dead replica needs no heartbeat to be known as dead."""
_CLAIMED = f"""
fresh AS (
    INSERT INTO events (event_id, conversation, claimed_at)
    SELECT $1, $2, $3::float8 FROM locked WHERE got
    ON CONFLICT DO NOTHING RETURNING event_id
), retried AS (
    UPDATE turns SET owner = $4, state = 'running', updated_at = $3
    WHERE event_id = $1 AND (SELECT got FROM locked) AND NOT EXISTS (SELECT 1 FROM fresh)
      AND (state = 'interrupted' OR (owner <> $4 AND NOT {_OWNER_ALIVE}))
    RETURNING event_id
), claimed AS (
    SELECT EXISTS (SELECT 1 FROM fresh) OR EXISTS (SELECT 1 FROM retried) AS ok
)"""
"""A new event, or one whose turn never finished (interrupted, or its process is dead); only
where `locked` says the turn's lock was taken."""
_UNHURRIED = "set_config('synchronous_commit', 'off', true)"
"""For a write that a lost commit cannot make wrong: a claim or a turn-in-flight record whose
commit waits for no disk flush. Write-ahead logging is sequential, so a turn's stored append
(which does wait) makes both durable; one lost in a database crash belongs to a turn that never
stored its answer, which a redelivery may then answer."""
_CLAIM = f"""
WITH locked AS MATERIALIZED (SELECT true AS got, {_UNHURRIED}), {_CLAIMED}
SELECT ok FROM claimed
"""
_CLAIM_TURN = f"""
WITH locked AS MATERIALIZED (SELECT pg_try_advisory_lock($5) AS got, {_UNHURRIED}), {_CLAIMED},
limits AS MATERIALIZED (
    SELECT c.scope, c.cap, c.counts, coalesce(u.amount, 0) AS amount
    FROM claimed AS k
    CROSS JOIN unnest($12::text[], $13::bigint[], $14::bool[]) AS c(scope, cap, counts)
    LEFT JOIN usage AS u ON u.scope = c.scope
    WHERE k.ok
), counted AS (
    INSERT INTO usage (scope, amount, updated_at)
    SELECT scope, 1, $3 FROM limits
    WHERE counts AND NOT EXISTS (SELECT 1 FROM limits WHERE amount >= cap)
    ORDER BY scope
    ON CONFLICT (scope) DO UPDATE SET amount = usage.amount + 1, updated_at = excluded.updated_at
)
SELECT $15::int, l.got, k.ok, own.system_prompt, own.model, parent.system_prompt, parent.model,
       (SELECT array_agg(scope) FROM limits), (SELECT array_agg(amount) FROM limits), w.*
FROM locked AS l CROSS JOIN claimed AS k
LEFT JOIN conversations AS own ON own.key = $2 AND k.ok
LEFT JOIN conversations AS parent ON parent.key = $6 AND k.ok
LEFT JOIN LATERAL ({numbered(sql.WINDOW, 7)}) AS w ON k.ok
ORDER BY w.tokens_before
"""
"""A turn's first round trip: take its lock (without waiting), claim its event, read its settings,
its rate limits' counters (counting the turn when none is at its cap: `CounterCheck`) and what is
new in its window. A turn that did not get the lock claims nothing. Its place in its batch comes
first (see _Queued.returns_rows). A batch is one transaction, so it holds the counters it raised
until it commits: two replicas' batches raising the same two counters in opposite orders can
deadlock, which the server breaks after its deadlock_timeout, and the failed batch's turns are
claimed again one by one (_flush)."""
_TRY_LOCK = "SELECT $2::int, pg_try_advisory_lock($1)"
_SETTINGS_AT, _COUNTERS_AT, _WINDOW_AT = 2, 6, 8
"""Where a _CLAIM_TURN row's settings, counters and window columns start."""
_BEGIN_TURN = f"""
WITH unhurried AS MATERIALIZED (SELECT {_UNHURRIED}),
earlier AS ({numbered(sql.EARLIER_TURN)}), begun AS ({numbered(sql.BEGIN_TURN)})
SELECT $9::int, earlier.* FROM unhurried LEFT JOIN earlier ON true
"""
"""One row (after its place in its batch), of NULLs when no dead process left this event's answer
half-shown."""
_ADOPT_ORPHANS = f"""
UPDATE turns SET owner = $2, updated_at = $3
WHERE platform = $1 AND state = 'running' AND owner <> $2 AND NOT {_OWNER_ALIVE}
RETURNING {sql.TURN_COLUMNS}
"""
_SHOW_PROGRESS = numbered(sql.SHOW_PROGRESS)
_END_TURN = numbered(sql.END_TURN)
_WAIT_FOR_RELEASE = "SELECT pg_advisory_xact_lock_shared($1)"
"""Blocks until whoever holds the lock gives it back; the shared lock goes with the statement's
transaction, so a cancelled wait leaves nothing held."""

_CONNECT_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    ValueError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


LOCK_CONNECTIONS = 4
"""Dedicated connections holding conversation locks; each serializes its own lock calls."""


def lock_id(namespace: str, key: str) -> int:
    digest = hashlib.blake2b(f"{namespace}\n{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class _Queued:
    """A statement waiting for its connection, to go in one batch with others of its text."""

    statement: str
    args: Sequence[object]
    done: asyncio.Future[list[Sequence[Any]]]
    lock: int | None = None
    """The lock a row-returning statement may take: given back when its batch fails (a failed
    transaction keeps the session locks its statements took)."""
    returns_rows: bool = False
    """Its rows come back: it takes its place in the batch as its last parameter and returns it
    as its first column, which is left off."""

    async def run_alone(self, conn: asyncpg.Connection) -> None:
        try:
            if self.lock is not None:
                await conn.execute("SELECT pg_advisory_unlock($1)", self.lock)
            if self.returns_rows:
                rows = await conn.fetch(self.statement, *self.args, 0)
                self.done.set_result([row[1:] for row in rows])
            else:
                await conn.execute(self.statement, *self.args)
                self.done.set_result([])
        except Exception as error:
            self.done.set_exception(error)


class _AdvisoryLocks:
    """Session advisory locks for many conversations, held on one dedicated connection; the
    statements that take or give back a turn's lock run there too (one round trip each).

    Statements queued while the connection is busy go together, one batch per statement text:
    one round trip and one commit (one disk flush) for every turn in flight meanwhile. A lock
    another replica holds is waited for on a second connection, which blocks until it is given
    back (never polled); waits there take turns, and a holder never needs it to finish."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]):
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._guard = asyncio.Lock()
        self._waiter: asyncpg.Connection | None = None
        self._waiting = asyncio.Lock()
        self._cleanups: set[asyncio.Task[Any]] = set()
        self._queued: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None

    async def _connection(self) -> asyncpg.Connection:
        """The connection, under the guard."""
        if self._conn is None or self._conn.is_closed():
            # A lost connection took its locks with it; the server already released them.
            self._conn = await self._connect()
        return self._conn

    async def fetch(self, statement: str, *args: object) -> list[asyncpg.Record]:
        async with self._guard:
            return await (await self._connection()).fetch(statement, *args)

    async def write(self, statement: str, args: Sequence[object]) -> None:
        """Run a write in the next batch; it goes through even when the caller is cancelled (it
        may give a turn's lock back)."""
        await asyncio.shield(self._queue(statement, args))

    async def take(
        self, lock_id: int, statement: str, args: Sequence[object]
    ) -> list[Sequence[Any]]:
        """Run `statement` (see _Queued.returns_rows), whose first row's first column says
        whether it took the lock, until it does; between tries, wait until the holder gives the
        lock back."""
        while True:
            attempt = self._queue(statement, args, lock_id, returns_rows=True)
            try:
                rows = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # The try may still succeed on the server: give the lock back if it does.
                attempt.add_done_callback(partial(self._unlock_if_taken, lock_id))
                raise
            if rows[0][0]:
                return rows
            await self._wait_for_release(lock_id)

    async def fetch_in_batch(self, statement: str, args: Sequence[object]) -> list[Sequence[Any]]:
        """The rows of `statement` (see _Queued.returns_rows), run in the next batch."""
        return await asyncio.shield(self._queue(statement, args, returns_rows=True))

    def _queue(
        self,
        statement: str,
        args: Sequence[object],
        lock: int | None = None,
        *,
        returns_rows: bool = False,
    ) -> asyncio.Future[list[Sequence[Any]]]:
        """Queue a statement for the next batch; its future is never cancelled (callers shield
        it), so the batch can always settle it."""
        done = asyncio.get_running_loop().create_future()
        queued = _Queued(statement, args, done, lock, returns_rows)
        self._queued.append(queued)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        return queued.done

    async def _flush(self) -> None:
        while self._queued:
            async with self._guard:
                statement = self._queued[0].statement
                batch = [queued for queued in self._queued if queued.statement == statement]
                self._queued = [queued for queued in self._queued if queued.statement != statement]
                # In one order (an event or conversation first), so batches cannot deadlock.
                batch.sort(key=lambda queued: queued.args[0])
                try:
                    conn = await self._connection()
                except _CONNECT_ERRORS as error:
                    for queued in batch:
                        queued.done.set_exception(error)
                    continue
                try:
                    await self._run(conn, batch)
                except Exception as error:
                    if len(batch) == 1 and batch[0].lock is None:
                        batch[0].done.set_exception(error)
                        continue
                    # The batch is one transaction: one bad statement must not undo the others.
                    for queued in batch:
                        await queued.run_alone(conn)

    @staticmethod
    async def _run(conn: asyncpg.Connection, batch: list[_Queued]) -> None:
        statement, returns_rows = batch[0].statement, batch[0].returns_rows
        if not returns_rows:
            await conn.executemany(statement, [queued.args for queued in batch])
            for queued in batch:
                queued.done.set_result([])
            return
        numbered_args = [(*queued.args, place) for place, queued in enumerate(batch)]
        found: list[list[Sequence[Any]]] = [[] for _ in batch]
        for row in await conn.fetchmany(statement, numbered_args):
            found[row[0]].append(row[1:])
        for queued, rows in zip(batch, found, strict=True):
            queued.done.set_result(rows)

    async def _wait_for_release(self, lock_id: int) -> None:
        async with self._waiting:
            if self._waiter is None or self._waiter.is_closed():
                self._waiter = await self._connect()
            await self._waiter.execute(_WAIT_FOR_RELEASE, lock_id)

    def _unlock_if_taken(self, lock_id: int, attempt: asyncio.Future[list[Sequence[Any]]]) -> None:
        if not attempt.cancelled() and attempt.exception() is None and attempt.result()[0][0]:
            self.release_in_background(lock_id)

    def release_in_background(self, lock_id: int) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(self._release(lock_id))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        return task

    async def _release(self, lock_id: int) -> None:
        try:
            await self.fetch("SELECT pg_advisory_unlock($1)", lock_id)
        except _CONNECT_ERRORS as error:
            log.warning("could not release a conversation lock (%s); its session ended", error)

    @asynccontextmanager
    async def hold(self, lock_id: int) -> AsyncIterator[None]:
        await self.take(lock_id, _TRY_LOCK, (lock_id,))
        try:
            yield
        finally:
            # Shielded: a cancelled turn must still give the lock back.
            await asyncio.shield(self.release_in_background(lock_id))

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        for conn in (self._conn, self._waiter):
            if conn is not None:
                await conn.close()
        self._conn = self._waiter = None


class PostgresStore:
    """The Store contract on a PostgreSQL database shared by every replica."""

    def __init__(
        self,
        dsn: str,
        *,
        min_pool: int = 1,
        max_pool: int = 10,
        window_cache_bytes: int = WINDOW_CACHE_BYTES,
    ) -> None:
        self._dsn = dsn
        self._windows = WindowCache(window_cache_bytes)
        self._min_pool = min_pool
        self._max_pool = max_pool
        self._pool: asyncpg.Pool | None = None
        self._turns = KeyedLock()
        self._locks: list[_AdvisoryLocks] = []
        self._namespace = ""
        self._owner = str(secrets.randbelow(2**31 - 1) + 1)
        self._owner_conn: asyncpg.Connection | None = None
        """Holds this process's owner lock for as long as the store is open."""
        self._held: dict[str, tuple[_AdvisoryLocks, int]] = {}
        """The locks of claimed turns by event id, until the turn's last append gives it back."""

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=self._min_pool, max_size=self._max_pool, reset=_keep_session
            )
            async with self._pool.acquire() as conn:
                await _migrate(conn)
                namespace = await conn.fetchval(
                    "SELECT current_database() || '.' || current_schema()"
                )
            self._owner_conn = await asyncpg.connect(self._dsn)
            await self._owner_conn.execute(
                "SELECT pg_advisory_lock($1, $2)", _OWNER_LOCKS, int(self._owner)
            )
        except _CONNECT_ERRORS as error:
            if self._pool is not None:
                await self._pool.close()
                self._pool = None
            if self._owner_conn is not None:
                await self._owner_conn.close()
                self._owner_conn = None
            raise StoreError(
                f"cannot use the PostgreSQL database {mask_url(self._dsn)} ({error}); "
                "check PARLEY_DATABASE_URL"
            ) from error
        self._namespace = namespace
        self._locks = [
            _AdvisoryLocks(partial(asyncpg.connect, self._dsn)) for _ in range(LOCK_CONNECTIONS)
        ]

    async def close(self) -> None:
        for locks in self._locks:
            await locks.close()
        self._locks = []
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._owner_conn is not None:
            await self._owner_conn.close()
            self._owner_conn = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._pool

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    def _lock_of(self, key: ConversationKey, author_id: str) -> tuple[_AdvisoryLocks, int]:
        if not self._locks:
            raise StoreError("the PostgreSQL store is not open")
        held = lock_id(self._namespace, f"{key}\n{author_id}")
        return self._locks[held % len(self._locks)], held

    @asynccontextmanager
    async def _turn(self, key: ConversationKey, author_id: str) -> AsyncIterator[None]:
        async with self._turns.lock((key, author_id)):
            locks, held = self._lock_of(key, author_id)
            async with locks.hold(held):
                yield

    @asynccontextmanager
    async def claimed_turn(
        self,
        key: ConversationKey,
        author_id: str,
        event_id: str,
        max_tokens: int,
        check: CounterCheck | None = None,
    ) -> AsyncIterator[ClaimedTurn | None]:
        async with self._turns.lock((key, author_id)):
            locks, held = self._lock_of(key, author_id)
            anchor = self._windows.anchor(str(key), max_tokens)
            params = (event_id, str(key), time.time(), self._owner, held, str(key.parent))
            window = sql.window_params(key, max_tokens, anchor)
            counters = check.counters if check is not None else ()
            limits = (
                [counter.scope for counter in counters],
                [counter.cap for counter in counters],
                [counter.counts for counter in counters],
            )
            rows = await locks.take(held, _CLAIM_TURN, (*params, *window, *limits))
            claimed = rows[0][1]
            if claimed:
                self._held[event_id] = (locks, held)
            try:
                yield await self._claimed_window(key, max_tokens, anchor, rows) if claimed else None
            finally:
                # Given back here unless the turn's last append did it (a refusal, a failure).
                if not claimed or self._held.pop(event_id, None) is not None:
                    await asyncio.shield(locks.release_in_background(held))

    async def _claimed_window(
        self, key: ConversationKey, max_tokens: int, anchor: int, rows: list[Sequence[Any]]
    ) -> ClaimedTurn:
        first = rows[0]
        settings = sql.merged_settings(
            key,
            [
                (str(key), *first[_SETTINGS_AT : _SETTINGS_AT + 2]),
                (str(key.parent), *first[_SETTINGS_AT + 2 : _COUNTERS_AT]),
            ],
        )
        scopes, amounts = first[_COUNTERS_AT:_WINDOW_AT]
        found = dict(zip(scopes, amounts, strict=True)) if scopes else {}
        # No conversation yet: the window's join found no row at all.
        window = [] if first[_WINDOW_AT] is None else [row[_WINDOW_AT:] for row in rows]
        return ClaimedTurn(settings, await self._settled(key, max_tokens, anchor, window), found)

    def turn_lock(
        self, key: ConversationKey, author_id: str = ""
    ) -> AbstractAsyncContextManager[None]:
        return self._turn(key, author_id)

    # -- reads --------------------------------------------------------------------------------

    async def _fetch(self, statement: str, params: Sequence[object]) -> list[asyncpg.Record]:
        return await self.pool.fetch(numbered(statement), *params)

    async def load(self, key: ConversationKey, max_tokens: int) -> list[ChatMessage]:
        if max_tokens <= 0:
            return []
        return [chat_message(row) for row in await self.pool.fetch(_LOAD, str(key), max_tokens)]

    async def load_turn(
        self, key: ConversationKey, max_tokens: int
    ) -> tuple[ConversationSettings, History]:
        anchor = self._windows.anchor(str(key), max_tokens)
        async with self.pool.acquire() as conn:
            found = await conn.fetch(_SETTINGS, *sql.settings_keys(key))
            params = sql.window_params(key, max_tokens, anchor)
            rows = await conn.fetch(_WINDOW, *params) if max_tokens > 0 else []
        return sql.merged_settings(key, found), await self._settled(key, max_tokens, anchor, rows)

    async def _settled(
        self, key: ConversationKey, max_tokens: int, anchor: int, rows: Sequence[Sequence[Any]]
    ) -> History:
        if max_tokens <= 0:
            return History.of(())
        read_whole = partial(self.pool.fetch, _WINDOW, *sql.window_params(key, max_tokens, WHOLE))
        return await self._windows.settled(str(key), max_tokens, anchor, rows, read_whole)

    async def get_settings(self, key: ConversationKey) -> ConversationSettings:
        found = await self.pool.fetch(_SETTINGS, *sql.settings_keys(key))
        return sql.merged_settings(key, found)

    async def stats(self, key: ConversationKey) -> ConversationStats:
        row = await self.pool.fetchrow(_STATS, str(key))
        return ConversationStats(*row) if row else ConversationStats()

    def export(
        self, filter: ExportFilter
    ) -> AsyncIterator[tuple[ConversationKey, list[ChatMessage]]]:
        return sql.export_conversations(self._fetch, filter)

    # -- writes -------------------------------------------------------------------------------

    async def claim_event(self, event_id: str, key: ConversationKey | None = None) -> bool:
        conversation = str(key) if key is not None else None
        return bool(
            await self.pool.fetchval(_CLAIM, event_id, conversation, time.time(), self._owner)
        )

    async def knows(self, key: ConversationKey) -> bool:
        return bool(await self.pool.fetchval(_KNOWS, str(key), str(key)))

    async def append(
        self,
        key: ConversationKey,
        messages: Sequence[ChatMessage],
        *,
        output_tokens: int = 0,
        ends: TurnEnd | None = None,
        usage: TurnUsage | None = None,
    ) -> None:
        now, ctes, params = time.time(), list[str](), list[object]()

        def add(name: str, statement: str, values: Sequence[object]) -> None:
            ctes.append(f"{name} AS ({numbered(statement, len(params) + 1)})")
            params.extend(values)

        if messages:
            totals = TurnTotals.of(messages, output_tokens)
            rows = message_rows(0, messages, 0)  # window offsets within the turn, from 0
            ctes.append(_STORE_TURN)
            params.extend(sql.append_row(key, totals, now))
            params.append(totals.weight)
            params.extend(list(column) for column in list(zip(*rows, strict=True))[1:])
        if ends is not None:
            ended = (now, ends.event_id) if ends.interrupted else (ends.event_id,)
            add("ended", _TURN_ENDS[ends.interrupted], ended)
        if usage is not None:
            add("recorded", sql.RECORD_USAGE, sql.usage_row(usage, now))
        held = self._held.get(ends.event_id) if ends is not None else None
        if held is None:
            if ctes:
                await self.pool.execute(f"WITH {', '.join(ctes)} SELECT 1", *params)
            return
        # The turn's last write gives its lock back in the same round trip.
        locks, lock = held
        ctes.append(numbered(_RELEASE, len(params) + 1))
        params.extend((lock, lock))
        await locks.write(f"WITH {', '.join(ctes)} SELECT * FROM released", params)
        self._held.pop(ends.event_id, None)

    async def begin_turn(self, record: TurnRecord) -> TurnRecord | None:
        row = sql.turn_row(record, self._owner, time.time())
        held = self._held.get(record.event_id)
        if held is not None:  # batched with the other turns in flight on the lock's connection
            (earlier,) = await held[0].fetch_in_batch(_BEGIN_TURN, row)
        else:
            earlier = (await self.pool.fetchrow(_BEGIN_TURN, *row, 0))[1:]
        return sql.turn_record(earlier) if earlier[0] is not None else None

    async def show_progress(self, event_id: str, receipt: str | None, shown: str) -> None:
        await self.pool.execute(_SHOW_PROGRESS, receipt, shown, time.time(), event_id)

    async def end_turn(self, event_id: str) -> None:
        await self.pool.execute(_END_TURN, event_id)

    async def orphaned_turns(self, platform: str) -> list[TurnRecord]:
        rows = await self.pool.fetch(_ADOPT_ORPHANS, platform, self._owner, time.time())
        return [sql.turn_record(row) for row in rows]

    async def link(self, key: ConversationKey, aliases: Sequence[str]) -> None:
        if aliases:
            now = time.time()
            rows = [(alias, str(key), now) for alias in aliases]
            await self.pool.executemany(numbered(sql.LINK), rows)

    async def resolve(self, alias: str) -> ConversationKey | None:
        found = await self.pool.fetchval(numbered(sql.RESOLVE), alias)
        return ConversationKey.parse(found) if found is not None else None

    async def reset(self, key: ConversationKey, *, beneath: bool = False) -> None:
        at, *matching = sql.reset_params(key, beneath, time.time())
        async with self.pool.acquire() as conn, conn.transaction():
            # Lock first: the UPDATE's snapshot must include appends committed while it waited.
            await conn.execute(_LOCK_FOR_RESET, *matching)
            await conn.execute(_RESET, at, *matching)
        self._windows.drop_where(partial(sql.reset_covers, key, beneath))

    async def set_settings(
        self, key: ConversationKey, *, system_prompt: object = UNSET, model: object = UNSET
    ) -> None:
        changes = sql.settings_changes(system_prompt=system_prompt, model=model)
        if changes:
            await self.pool.execute(
                numbered(sql.settings_upsert(changes)),
                *sql.conversation_row(key, time.time()),
                *changes.values(),
            )

    async def forget(self, author_id: str) -> int:
        for statement in sql.FORGET_PERSON:
            await self.pool.execute(numbered(statement), author_id)
        deleted = await self._delete_messages("author_id = $1", author_id)
        self._windows.clear()  # what they said leaves memory too
        return deleted

    async def purge(self, older_than: float) -> int:
        await self.pool.execute(numbered(sql.PURGE_ALIASES), older_than)
        purged = await self._delete_messages("created_at < $1", older_than)
        self._windows.clear()
        return purged

    async def expire(self, before: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for statement in _EXPIRE:
                await conn.execute(statement, before)

    async def count_usage(self, scopes: Sequence[str]) -> dict[str, int]:
        if not scopes:
            return {}
        rows = await self.pool.fetch(
            "SELECT scope, amount FROM usage WHERE scope = ANY($1)", scopes
        )
        return {row[0]: row[1] for row in rows}

    async def add_usage(self, amounts: Mapping[str, int]) -> None:
        if amounts:
            now = time.time()
            # In scope order, so concurrent replicas take the row locks in one order.
            rows = [(scope, amounts[scope], now) for scope in sorted(amounts)]
            await self.pool.executemany(_ADD_USAGE, rows)

    async def usage_report(self, query: UsageQuery) -> list[UsageRow]:
        statement, params = sql.usage_report(query)
        return sql.usage_rows(await self.pool.fetch(numbered(statement), *params))

    async def money_spent(self, query: SpentQuery) -> tuple[int, int, int, int]:
        row = await self.pool.fetchrow(_MONEY_SPENT, *sql.money_spent_params(query))
        return tuple(row)  # type: ignore[return-value]

    async def count_moderated(self, platform: str, space: str, direction: str, day: int) -> None:
        await self.pool.execute(_COUNT_MODERATED, platform, space, direction, day)

    async def moderation_counts(self, since_day: int) -> dict[tuple[str, str], int]:
        rows = await self.pool.fetch(_MODERATION_COUNTS, since_day)
        return {(row[0], row[1]): row[2] for row in rows}

    # -- what people view ---------------------------------------------------------------------

    async def remember_viewing(self, person: str, context: str) -> None:
        await self.pool.execute(numbered(sql.REMEMBER_VIEWING), person, context, time.time())

    async def recall_viewing(self, person: str) -> str | None:
        return await self.pool.fetchval(numbered(sql.RECALL_VIEWING), person)

    # -- feedback -----------------------------------------------------------------------------

    async def record_answer(
        self, key: ConversationKey, answer_ids: Sequence[str], answered_at: float
    ) -> None:
        rows = [(answer_id, str(key), answered_at) for answer_id in answer_ids]
        if rows:
            await self.pool.executemany(numbered(sql.RECORD_ANSWER), rows)

    async def rate_answer(self, answer_id: str, person: str, liked: bool) -> bool:
        statement = numbered(sql.RATE_ANSWER)
        return await self.pool.fetchval(statement, person, int(liked), time.time(), answer_id) == 1

    async def ratings(self, key: ConversationKey | None = None) -> list[Rating]:
        statement = numbered(sql.RATINGS)
        conversation = None if key is None else str(key)
        rows = await self.pool.fetch(statement, conversation, conversation)
        return [Rating(ConversationKey.parse(r[0]), r[1], r[2], r[3]) for r in rows]

    # -- tools --------------------------------------------------------------------------------

    async def open_approval(self, approval_id: str, tool: str, asker_id: str) -> None:
        statement = numbered(sql.OPEN_APPROVAL)
        await self.pool.execute(statement, approval_id, tool, asker_id, time.time())

    async def settle_approval(self, approval_id: str, state: str, by: str | None) -> bool:
        statement = numbered(sql.SETTLE_APPROVAL)
        return await self.pool.fetchval(statement, state, by, time.time(), approval_id) is not None

    async def approval(self, approval_id: str) -> ApprovalRecord | None:
        row = await self.pool.fetchrow(numbered(sql.APPROVAL), approval_id)
        return ApprovalRecord(*row) if row is not None else None

    async def record_tool_call(self, record: ToolCallRecord) -> None:
        row = tuple(getattr(record, field) for field in ToolCallRecord.__slots__)
        await self.pool.execute(numbered(sql.RECORD_TOOL_CALL), *row)

    async def tool_calls(self, query: AuditQuery) -> list[ToolCallRecord]:
        statement, params = sql.audit_query(query)
        return [ToolCallRecord(*row) for row in await self.pool.fetch(numbered(statement), *params)]

    # -- memory of the place ------------------------------------------------------------------

    async def remember_place(self, place: str, by: str) -> None:
        await self.pool.execute(numbered(sql.REMEMBER_PLACE), place, by, time.time())

    async def forget_place(self, place: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for statement in sql.FORGET_PLACE:
                await conn.execute(numbered(statement), place)

    async def remembered_places(self) -> list[str]:
        return [row[0] for row in await self.pool.fetch(sql.REMEMBERED_PLACES)]

    async def place_memory(self, place: str) -> PlaceMemoryInfo | None:
        row = await self.pool.fetchrow(numbered(sql.PLACE_MEMORY), place)
        return PlaceMemoryInfo(*row) if row is not None else None

    async def keep_message(self, place: str, author_id: str, message: HistoryMessage) -> None:
        row = sql.kept_row(place, author_id, message)
        await self.pool.execute(numbered(sql.KEEP_MESSAGE), *row)

    async def drop_message(self, place: str, message_id: str) -> None:
        await self.pool.execute(numbered(sql.DROP_MESSAGE), place, message_id)

    async def search_place(
        self, place: str, terms: Sequence[str], limit: int, exclude: str = ""
    ) -> list[HistoryMessage]:
        if not terms:
            return []
        terms_param = POSTGRESQL.search_terms(terms)
        rows = await self.pool.fetch(POSTGRESQL.search_place, terms_param, place, exclude, limit)
        return [HistoryMessage(*row) for row in rows]

    async def purge_place_messages(self, older_than: float) -> int:
        status = await self.pool.execute(numbered(sql.PURGE_PLACE_MESSAGES), older_than)
        return int(status.split()[-1])  # "DELETE <count>"

    async def _delete_messages(self, where: str, value: object) -> int:
        """Delete matching messages and recompute the window of the conversations they left."""
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetch(
                f"DELETE FROM messages WHERE {where} RETURNING conv_id", value
            )
            conv_ids = sorted({row[0] for row in deleted})
            # Lock before recounting (in id order: no deadlocks): the recount must see every
            # append that committed meanwhile, and none may interleave with it.
            await conn.execute(
                "SELECT 1 FROM conversations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                conv_ids,
            )
            await conn.executemany(_RECOUNT_WINDOW, [(conv_id,) for conv_id in conv_ids])
            await conn.executemany(_RECOUNT_TOTALS, [(conv_id,) for conv_id in conv_ids])
        return len(deleted)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pooled connection goes back as it is: none holds session state (locks, LISTEN, SET), so
    asyncpg's reset would be a wasted round trip per use."""


async def _migrate(conn: asyncpg.Connection) -> None:
    """Apply missing migrations in one transaction, one replica at a time."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(schema.migrations_table(POSTGRESQL))
        applied = {row[0] for row in await conn.fetch(schema.APPLIED)}
        for version, name, statements in schema.pending(applied, POSTGRESQL):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(_RECORD_MIGRATION, version, name, time.time())
