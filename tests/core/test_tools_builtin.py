"""The built-in tools on their own: time.now in the asker's zone, the model's, or UTC."""

from __future__ import annotations

import re

import pytest

from bot.tools.base import CallContext, ToolFailed
from bot.tools.builtin import NOW

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
