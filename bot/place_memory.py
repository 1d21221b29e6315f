"""Memory of the place: a channel an admin opted in keeps its people's messages as they arrive,
and a question asked there is answered from the matching ones, cited with their links.

Nothing here reads the platform: the doors hand each message over once, as it arrives (and its
edits and deletions); answering reads the store's full-text index only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from functools import partial

from bot.catchup import cite, message_line
from bot.store.base import PlaceMemoryInfo, PlaceMemoryStore
from bot.types import ChatMessage, ConversationKey, Delta, HistoryMessage, Role

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
"""How long the set of remembered places is trusted: another replica's opt-in shows this soon."""
RECALLED = 8
"""Kept messages a question brings into the prompt at most, best matches first."""
NOTE_SHARE = 4
"""The note takes at most 1/NOTE_SHARE of the room left for the conversation."""
MAX_TERMS = 24
_TERM = re.compile(r"[^\W_]+")
_STOP_WORDS = frozenset(
    """a about after again all also am an and any are as at be been before but by can could did
    do does for from had has have he her his how i if in into is it its me my no not of on or
    our she so than that the their them then there these they this to us was we were what when
    where which who why will with would you your""".split()  # noqa: SIM905 (a list, but readable)
)
"""English words too common to tell messages apart; left out of a search unless nothing else is
asked (a question in another language keeps all its words)."""
NOTE = (
    "Messages from this channel's memory that may bear on the question, numbered [n]:\n{lines}\n"
    "Where they help, answer from them and cite each one you use by its number, like [2]; cite "
    "only these numbers. Never mention or notify anyone with @."
)


def place_of(key: ConversationKey) -> str | None:
    """The place a conversation is in: its channel (a thread's messages belong to its channel);
    None for a direct message, which has no memory."""
    if key.is_direct:
        return None
    return str(key.parent)


def search_terms(text: str) -> list[str]:
    """The words of a question to search for: letters and digits only (no punctuation reaches a
    query's syntax), lowercased, common English words left out, at most MAX_TERMS."""
    words = list(dict.fromkeys(word.lower()[:64] for word in _TERM.findall(text)))
    telling = [word for word in words if word not in _STOP_WORDS]
    return (telling or words)[:MAX_TERMS]


@dataclass(slots=True)
class Recall:
    """What a turn brings from the place's memory: a note for the prompt and the links its
    [n] citations stand for (empty when nothing matched)."""

    note: ChatMessage | None = None
    links: dict[int, str] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.note.tokens if self.note is not None else 0

    def added(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The prompt with the note just before the question."""
        return [*messages[:-1], self.note, messages[-1]] if self.note else messages

    def shape(
        self,
    ) -> Callable[[AsyncGenerator[Delta, None]], AsyncGenerator[Delta, None]] | None:
        """How the answer's [n] citations become links, as a summary's do."""
        return partial(cite, links=self.links) if self.links else None


class PlaceMemory:
    """Which places are remembered (cached briefly), and keeping and recalling their messages."""

    def __init__(self, store: PlaceMemoryStore, retention_days: int) -> None:
        self._store = store
        self.retention_days = retention_days
        self._places: frozenset[str] = frozenset()
        self._fresh_until = 0.0
        self._refresh = asyncio.Lock()

    async def remembers(self, place: str | None) -> bool:
        """Whether this place's messages are kept: one store read per CACHE_SECONDS at most."""
        if place is None:
            return False
        if time.monotonic() >= self._fresh_until:
            async with self._refresh:
                if time.monotonic() >= self._fresh_until:
                    self._places = frozenset(await self._store.remembered_places())
                    self._fresh_until = time.monotonic() + CACHE_SECONDS
        return place in self._places

    async def turn_on(self, place: str, by: str) -> None:
        await self._store.remember_place(place, by)
        self._places |= {place}

    async def turn_off(self, place: str) -> int:
        """Stop keeping the place's messages and delete them; returns how many there were."""
        info = await self._store.place_memory(place)
        await self._store.forget_place(place)
        self._places -= {place}
        return info.messages if info is not None else 0

    async def info(self, place: str | None) -> PlaceMemoryInfo | None:
        return await self._store.place_memory(place) if place is not None else None

    async def keep(self, key: ConversationKey, author_id: str, message: HistoryMessage) -> None:
        """Keep a message (or its edit) when its place is remembered."""
        place = place_of(key)
        if message.text.strip() and await self.remembers(place):
            assert place is not None
            await self._store.keep_message(place, author_id, message)

    async def drop(self, key: ConversationKey, message_id: str) -> None:
        place = place_of(key)
        if await self.remembers(place):
            assert place is not None
            await self._store.drop_message(place, message_id)

    async def recall(
        self,
        key: ConversationKey,
        question: str,
        asked_id: str,
        count: Callable[[ChatMessage], int],
        room: int,
    ) -> Recall:
        """The kept messages matching the question (not the asking message itself), oldest first,
        as many as fit a NOTE_SHARE of `room` tokens (what the conversation could take)."""
        place = place_of(key)
        if not await self.remembers(place):  # first: most places keep nothing to search
            return Recall()
        terms = search_terms(question)
        if not terms:
            return Recall()
        assert place is not None
        found = await self._store.search_place(place, terms, RECALLED, exclude=asked_id)
        lines = [(m, line) for m in found if (line := message_line(m)) is not None]
        kept: list[tuple[HistoryMessage, str]] = []
        for message, line in sorted(lines, key=lambda pair: pair[0].at):
            kept.append((message, line))
            if count(_note(kept)) > room // NOTE_SHARE:
                kept.pop()
        if not kept:
            return Recall()
        note = _note(kept)
        log.debug("recalled %d kept messages of %s", len(kept), place)
        links = {number: message.link for number, (message, _) in enumerate(kept, start=1)}
        return Recall(note.with_tokens(count(note)), links)


def _note(kept: list[tuple[HistoryMessage, str]]) -> ChatMessage:
    lines = "\n".join(f"[{number}] {line}" for number, (_, line) in enumerate(kept, start=1))
    return ChatMessage(Role.SYSTEM, NOTE.format(lines=lines))
