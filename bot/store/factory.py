"""PARLEY_DATABASE_URL -> the store that lives there."""

from __future__ import annotations

from pathlib import Path

from bot.extras import require
from bot.store.base import Store
from bot.store.errors import StoreError, redacted_url

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def create_store(database_url: str) -> Store:
    """A closed store for the URL; `await store.open()` connects and migrates."""
    if database_url.startswith(SQLITE_PREFIX) and len(database_url) > len(SQLITE_PREFIX):
        from bot.store.sqlite import SqliteStore

        return SqliteStore(Path(database_url.removeprefix(SQLITE_PREFIX)))
    if database_url.startswith(POSTGRES_PREFIXES):
        require("asyncpg", "postgres", "a postgresql:// PARLEY_DATABASE_URL")
        from bot.store.postgres import PostgresStore

        return PostgresStore(database_url)
    raise StoreError(
        f"PARLEY_DATABASE_URL {redacted_url(database_url)!r} is not supported; use "
        "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user@host/db"
    )
