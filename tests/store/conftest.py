"""Stores under test: the same contract suite runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh schema (search_path in the DSN) in the database named by
TEST_POSTGRES_DSN; they fail, never skip, when PostgreSQL is down.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.support.postgres import postgres_schema


@dataclass
class Stores:
    """Builds store instances that share one database; closes them all at the end."""

    build: Callable[[], Store]
    kind: str
    location: str
    made: list[Store]

    async def open(self) -> Store:
        store = self.new()
        await store.open()
        return store

    def new(self) -> Store:
        store = self.build()
        self.made.append(store)
        return store

    async def scalar(self, query: str) -> object:
        """One value straight from the database, bypassing the store."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.location)) as conn:
                return conn.execute(query).fetchone()[0]
        conn = await asyncpg.connect(self.location)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    async def close_all(self) -> None:
        for store in self.made:
            await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "sqlite":
        path = tmp_path / "parley.db"
        made = Stores(lambda: SqliteStore(path), "sqlite", str(path), [])
        try:
            yield made
        finally:
            await made.close_all()
        return
    async with postgres_schema() as dsn:
        made = Stores(lambda: PostgresStore(dsn, min_pool=1, max_pool=5), "postgres", dsn, [])
        try:
            yield made
        finally:
            await made.close_all()


@pytest.fixture
async def store(stores: Stores) -> Store:
    return await stores.open()
