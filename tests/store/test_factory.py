"""PARLEY_DATABASE_URL picks the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.errors import StoreError
from bot.store.factory import create_store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.types import ChatMessage, ConversationKey, Role
from tests.support.postgres import postgres_schema


async def test_a_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    store = create_store(f"sqlite:///{tmp_path}/data/parley.db")
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        await store.append(
            ConversationKey("console", "local", "me"), [ChatMessage(Role.USER, "hi")]
        )
    finally:
        await store.close()
    assert (tmp_path / "data" / "parley.db").is_file()


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
async def test_a_postgres_url_opens_postgres(scheme: str) -> None:
    # A schema of its own: the database's public schema may hold another version's tables.
    async with postgres_schema() as dsn:
        store = create_store(dsn.replace("postgresql://", scheme, 1))
        assert isinstance(store, PostgresStore)
        await store.open()
        try:
            await store.ping()
        finally:
            await store.close()


@pytest.mark.parametrize(
    "url", ["mysql://root:secret@db/parley", "sqlite:///", "parley.db", "", "sqlite://relative.db"]
)
def test_any_other_url_is_one_line_naming_the_setting(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        create_store(url)
    message = str(caught.value)
    assert "PARLEY_DATABASE_URL" in message and "sqlite:///" in message
    assert "postgresql://" in message
    assert "secret" not in message
    assert "\n" not in message
