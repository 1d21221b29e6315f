"""Stores under test: the same contract suite runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh schema (search_path in the DSN) in the database named by
PARLEY_TEST_POSTGRES_DSN; they fail, never skip, when PostgreSQL is down.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore

POSTGRES_DSN = os.environ.get(
    "PARLEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    return urlunsplit(parts._replace(query=query))


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards."""
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_DSN)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield with_search_path(POSTGRES_DSN, schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


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
