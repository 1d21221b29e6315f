"""A fresh PostgreSQL schema per test or benchmark run, so nothing is shared or left behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    return urlunsplit(parts._replace(query=query))


@asynccontextmanager
async def postgres_schema(
    dsn: str = POSTGRES_DSN, prefix: str = "parley_test"
) -> AsyncIterator[str]:
    """A DSN whose search_path is a new schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield with_search_path(dsn, schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()
