"""Memory of the place on every store: opt-in, keeping, edits and deletions, full-text search
(ranked, safe for any text), forget, retention."""

from __future__ import annotations

import time

from bot.place_memory import search_terms
from bot.store.base import Store
from bot.types import HistoryMessage

PLACE = "discord:guild:general"
ELSEWHERE = "slack:team:random"


def said(number: int, text: str, author: str = "Ada", at: float | None = None) -> HistoryMessage:
    return HistoryMessage(
        id=str(number),
        author=author,
        text=text,
        at=at if at is not None else time.time() - 1000 + number,
        link=f"https://example.test/{number}",
    )


async def test_a_place_is_remembered_once_and_forgetting_it_deletes_what_was_kept(
    store: Store,
) -> None:
    assert await store.place_memory(PLACE) is None
    await store.remember_place(PLACE, "admin")
    first = await store.place_memory(PLACE)
    await store.remember_place(PLACE, "someone else")
    await store.keep_message(PLACE, "u1", said(1, "hello"))
    info = await store.place_memory(PLACE)
    assert info is not None and first is not None
    assert (info.since, info.enabled_by, info.messages) == (first.since, "admin", 1)
    assert await store.remembered_places() == [PLACE]
    await store.forget_place(PLACE)
    assert await store.place_memory(PLACE) is None and await store.remembered_places() == []
    await store.remember_place(PLACE, "admin")
    assert (await store.place_memory(PLACE)).messages == 0  # type: ignore[union-attr]


async def test_search_ranks_the_matching_message_first_in_its_place_only(store: Store) -> None:
    await store.remember_place(PLACE, "admin")
    for number in range(40):
        await store.keep_message(PLACE, "u1", said(number, f"we talked about lunch {number}"))
    decided = said(99, "We decided: the release date is March 3rd.", "Bob")
    await store.keep_message(PLACE, "u2", decided)
    await store.keep_message(ELSEWHERE, "u2", said(100, "the release date elsewhere"))
    found = await store.search_place(
        PLACE, search_terms("what did we decide about the release date?"), 8
    )
    assert found[0] == decided
    assert all(message.id != "100" for message in found)
    assert await store.search_place(PLACE, search_terms("release"), 8, exclude="99") == []


async def test_an_edit_replaces_the_kept_text_and_a_deletion_removes_it(store: Store) -> None:
    await store.keep_message(PLACE, "u1", said(1, "the launch is on Monday"))
    await store.keep_message(PLACE, "u1", said(1, "the launch is on Friday"))
    assert await store.search_place(PLACE, ["monday"], 8) == []
    (found,) = await store.search_place(PLACE, ["friday"], 8)
    assert found.text == "the launch is on Friday"
    await store.drop_message(PLACE, "1")
    assert await store.search_place(PLACE, ["friday"], 8) == []


async def test_any_text_searches_without_an_error(store: Store) -> None:
    await store.keep_message(PLACE, "u1", said(1, 'it\'s NEAR the end, "quoted" AND more'))
    hostile = [
        '"',
        "NEAR(",
        "a OR b AND NOT c*",
        "'; DROP TABLE memory_messages; --",
        "it's ² ¼ ß :* | & ! <-> ()",
        "",
        "\x00\n\t",
    ]
    for text in hostile:
        await store.search_place(PLACE, search_terms(text), 8)
    assert [m.id for m in await store.search_place(PLACE, search_terms('"near(" it\'s'), 8)] == [
        "1"
    ]


async def test_forget_and_retention_delete_kept_messages(store: Store) -> None:
    old = time.time() - 100 * 86_400
    await store.keep_message(PLACE, "alice", said(1, "alice's plan for the release"))
    await store.keep_message(PLACE, "bob", said(2, "bob's plan for the release"))
    await store.keep_message(PLACE, "bob", said(3, "bob's old release notes", at=old))
    await store.forget("alice")
    assert {m.id for m in await store.search_place(PLACE, ["release"], 8)} == {"2", "3"}
    assert await store.purge_place_messages(time.time() - 90 * 86_400) == 1
    assert [m.id for m in await store.search_place(PLACE, ["release"], 8)] == ["2"]
