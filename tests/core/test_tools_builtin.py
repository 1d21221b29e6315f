"""The built-in tools on their own: time.now in the asker's zone, the model's, or UTC;
place.recent over a history reader."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

import pytest

from bot.tools.base import CallContext, ToolFailed
from bot.tools.builtin import NOW, RECENT, RECENT_MAX
from bot.types import HistoryMessage

STAMP = re.compile(r"^\w+day \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S+) \(UTC[+-]\d{4}\)$")


async def zone_of(arguments: dict[str, str], asker_zone: str | None) -> str:
    said = await NOW.run(arguments, CallContext("u1", asker_zone))
    match = STAMP.match(said)
    assert match, said
    return match.group(1)


async def test_the_askers_zone_is_used_when_known() -> None:
    assert await zone_of({}, "Asia/Kolkata") == "Asia/Kolkata"


async def test_a_zone_the_model_names_wins_over_the_askers() -> None:
    assert await zone_of({"timezone": "Europe/Paris"}, "Asia/Kolkata") == "Europe/Paris"


async def test_an_unknown_or_missing_asker_zone_means_utc() -> None:
    assert await zone_of({}, "Mars/Olympus_Mons") == "UTC"
    assert await zone_of({}, "../../etc/passwd") == "UTC"
    assert await zone_of({}, None) == "UTC"


async def test_an_unknown_zone_the_model_names_is_one_short_line() -> None:
    with pytest.raises(ToolFailed, match="unknown time zone 'Mars/Olympus_Mons'"):
        await zone_of({"timezone": "Mars/Olympus_Mons"}, "Asia/Kolkata")


async def test_place_recent_without_a_history_reader_is_one_short_line() -> None:
    with pytest.raises(ToolFailed, match="cannot be read here"):
        await RECENT.run({}, CallContext("u1"))


@pytest.mark.parametrize("count", [0, -1, "5", True, 2.5])
async def test_place_recent_refuses_a_count_that_is_no_whole_number(count: object) -> None:
    async def history(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
        raise AssertionError("read")
        yield

    with pytest.raises(ToolFailed, match="count: a whole number"):
        await RECENT.run({"count": count}, CallContext("u1", history=history))


async def test_place_recent_reads_at_most_its_cap_and_lists_oldest_first() -> None:
    asked: list[int] = []

    async def history(since: float, limit: int) -> AsyncGenerator[HistoryMessage, None]:
        asked.append(limit)
        for n in (2, 1):  # newest first, as doors hand them over
            yield HistoryMessage(str(n), "ann", f"line {n}\nmore", 86_400.0 * n, f"https://x/{n}")

    said = await RECENT.run({"count": 500}, CallContext("u1", "Asia/Tokyo", history))

    assert asked == [RECENT_MAX]
    assert said.splitlines() == [
        "Times in Asia/Tokyo, oldest first:",
        "[1970-01-02 09:00] ann: line 1 more (https://x/1)",
        "[1970-01-03 09:00] ann: line 2 more (https://x/2)",
    ]
