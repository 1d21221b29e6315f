"""The window cache on its own: rows as a WINDOW read returns them, held within a byte bound."""

from __future__ import annotations

from bot.store.windows import WHOLE, WindowCache


def row(message_id: int, place: int, total: int, text: str = "", tokens: int = 1) -> tuple:
    """A WINDOW row: the conversation's weight total, the message's id and place, then its
    MESSAGE_COLUMNS."""
    role = "user" if message_id % 2 else "assistant"
    return (
        total,
        message_id,
        place,
        role,
        text or f"m{message_id}",
        None,
        None,
        None,
        tokens,
        0.0,
        None,
        None,
    )


def rows(first: int, last: int, total: int) -> list[tuple]:
    return [row(n, n - 1, total) for n in range(first, last + 1)]


def contents(history) -> list[str]:
    return [message.content for message in history]


def test_a_held_window_is_extended_from_its_anchor_and_trimmed_to_its_reach() -> None:
    cache = WindowCache(1 << 20)
    assert cache.anchor("k", 5) == WHOLE
    assert contents(cache.window("k", 5, WHOLE, rows(1, 4, 4))) == ["m1", "m2", "m3", "m4"]
    assert cache.anchor("k", 5) == 3 and cache.anchor("k", 6) == WHOLE
    extended = cache.window("k", 5, 3, rows(4, 7, 7))  # the anchor message, then three new
    assert contents(extended) == ["m3", "m4", "m5", "m6", "m7"]
    assert contents(cache.window("k", 5, 6, rows(7, 7, 7))) == contents(extended)
    assert contents(cache.window("k", 2, 6, rows(7, 7, 7))) == ["m6", "m7"]


def test_a_read_without_the_anchor_in_its_place_is_refused() -> None:
    cache = WindowCache(1 << 20)
    cache.window("k", 10, WHOLE, rows(1, 4, 4))
    assert cache.window("k", 10, 3, []) is not None  # the conversation is gone: empty
    cache.window("k", 10, WHOLE, rows(1, 4, 4))
    deleted_before = [row(4, 2, 3)]  # message 2 was deleted: message 4 moved down
    assert cache.window("k", 10, 3, deleted_before) is None
    cache.window("k", 10, WHOLE, rows(1, 4, 4))
    reset_since = [(4,) + (None,) * 11]  # a reset moved the marker past every message
    assert cache.window("k", 10, 3, reset_since) is None


def test_a_slower_read_from_an_older_anchor_cannot_undo_a_delete() -> None:
    cache = WindowCache(1 << 20)
    cache.window("k", 10, WHOLE, rows(1, 4, 4))
    cache.window("k", 10, 3, rows(4, 6, 6))  # a quicker read moved the window on to message 6
    # A read from anchor 3 that ran after message 1 was deleted: everything placed one lower.
    stale = [row(n, n - 2, 5) for n in range(4, 7)]
    assert cache.window("k", 10, 3, stale) is None


def test_windows_past_the_byte_bound_go_least_recently_used_first() -> None:
    one = WindowCache(1 << 20).window("a", 100, WHOLE, rows(1, 10, 10))
    size = sum(256 + len(message.content) for message in one)
    cache = WindowCache(size * 2)
    for key in "abc":
        cache.window(key, 100, WHOLE, rows(1, 10, 10))
        cache.anchor("a", 100)
    assert len(cache) == 2 and cache.bytes == size * 2
    assert cache.anchor("a", 100) == WHOLE  # the oldest went first
    assert cache.anchor("b", 100) == 9 and cache.anchor("c", 100) == 9
    nothing = WindowCache(0)
    assert contents(nothing.window("a", 100, WHOLE, rows(1, 3, 3))) == ["m1", "m2", "m3"]
    assert len(nothing) == 0 and nothing.bytes == 0
