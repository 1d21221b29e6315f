"""Which tools a place may use and which it pre-approves: `[tools]` in the config, by place.

A place is `platform`, `platform:space` or `platform:space:channel` (as in a conversation key), or
`*` for every place; the most specific place listed decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from bot.types import ConversationKey


def places(key: ConversationKey) -> tuple[str, ...]:
    """The places a conversation is in, most specific first."""
    space = f"{key.platform}:{key.space}"
    return (f"{space}:{key.channel}", space, key.platform, "*")


def _listed(table: Mapping[str, Sequence[str]], key: ConversationKey) -> Sequence[str] | None:
    for place in places(key):
        if place in table:
            return table[place]
    return None


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


class ToolPolicy:
    """`allow`: tool patterns (`NAME.*`, `NAME.tool`) per place; no table at all allows every
    configured tool, a table that lists no place covering a conversation allows none there.
    `preapproved`: acting tools that run without a click in a place."""

    def __init__(
        self,
        allow: Mapping[str, Sequence[str]] | None = None,
        preapproved: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._allow = dict(allow or {})
        self._preapproved = dict(preapproved or {})

    def allows(self, key: ConversationKey, tool: str) -> bool:
        if not self._allow:
            return True
        return _matches(tool, _listed(self._allow, key) or ())

    def preapproved(self, key: ConversationKey, tool: str) -> bool:
        return _matches(tool, _listed(self._preapproved, key) or ())
