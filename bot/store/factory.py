"""PARLEY_DATABASE_URL -> the store that lives there."""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store
from bot.store.errors import StoreError, redacted_url

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def create_store(database_url: str, *, pool_size: int = 10) -> Store:
    """A closed store for the URL; `await store.open()` connects and migrates.

    `pool_size` bounds a PostgreSQL store's pooled connections (PARLEY_DATABASE_POOL_SIZE).
    """
    if database_url.startswith(SQLITE_PREFIX) and len(database_url) > len(SQLITE_PREFIX):
        from bot.store.sqlite import SqliteStore

        return SqliteStore(Path(database_url.removeprefix(SQLITE_PREFIX)))
    if database_url.startswith(POSTGRES_PREFIXES):
        from bot.store.postgres import PostgresStore

        return PostgresStore(database_url, max_pool=pool_size)
    raise StoreError(
        f"PARLEY_DATABASE_URL {redacted_url(database_url)!r} is not supported; use "
        "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user@host/db"
    )
