"""PARLEY_DATABASE_URL -> the store that lives there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.config import SQLITE_PREFIX, Settings, mask_url
from bot.extras import require
from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.windows import WINDOW_CACHE_BYTES

POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def store_for(settings: Settings) -> Store:
    """The closed store the settings point at."""
    return create_store(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        setting=settings.database_setting,
        window_cache_bytes=int(settings.window_cache_mb * 1024 * 1024),
    )


def create_store(
    database_url: str,
    *,
    pool_size: int = 10,
    setting: str = "PARLEY_DATABASE_URL",
    window_cache_bytes: int = WINDOW_CACHE_BYTES,
) -> Store:
    """A closed store for the URL; `await store.open()` connects and migrates.

    `pool_size` bounds a PostgreSQL store's pooled connections (PARLEY_DATABASE_POOL_SIZE);
    `setting` is what the user set to point here (PARLEY_DATA_DIR for the default database);
    `window_cache_bytes` bounds the windows held in memory (PARLEY_WINDOW_CACHE_MB).
    """
    if database_url.startswith(SQLITE_PREFIX) and len(database_url) > len(SQLITE_PREFIX):
        from bot.store.sqlite import SqliteStore

        path = Path(database_url.removeprefix(SQLITE_PREFIX))
        _writable_folder(path.parent, setting)
        return SqliteStore(path, window_cache_bytes=window_cache_bytes)
    if database_url.startswith(POSTGRES_PREFIXES):
        require("asyncpg", "postgres", "a postgresql:// PARLEY_DATABASE_URL")
        from bot.store.postgres import PostgresStore

        return PostgresStore(
            database_url, max_pool=pool_size, window_cache_bytes=window_cache_bytes
        )
    raise StoreError(
        f"PARLEY_DATABASE_URL {mask_url(database_url)!r} is not supported; use "
        "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user@host/db"
    )


def _writable_folder(folder: Path, setting: str) -> None:
    """Create the database's folder and prove it writable, so the error names the setting."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or error
        raise StoreError(
            f"cannot use the folder {folder} for the database ({reason}); fix {setting}"
        ) from None
