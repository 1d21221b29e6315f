"""Catching up: summaries of what was said in a place, and translations, as model jobs.

A door supplies the history as an async iterator of `HistoryMessage` (newest first, each with
its platform's own link); this module reads it once within the message and token budgets, asks
the model in one pass when it fits or map-reduce when not (parts summarized, then combined), and
turns the model's `[n]` citations into links to the messages they name.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.llm.base import Backend, GenerationOptions
from bot.types import ChatMessage, Delta, HistoryMessage, Incoming, Role, Usage

log = logging.getLogger(__name__)

NOTHING_HERE = "There is nothing to summarize here: summaries need a channel or a thread."
NOTHING_SAID = "Nobody said anything here in that time."
BAD_SINCE = "`{text}` is not a time: use 2h, 3d, yesterday, all, or nothing for the last {default}."
TRANSLATE_USAGE = "Usage: `translate [to LANGUAGE] TEXT`"
ENGLISH = "English"
MESSAGE_CHARS = 2_000
"""Characters of one message that reach the model (a pasted log must not take a whole part)."""
_SPAN = re.compile(r"(\d{1,4})\s*([mhdw])", re.IGNORECASE)
_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_CITATION = re.compile(r"\[(\d{1,5}(?:\s*,\s*\d{1,5})*)\]")
_LOCALE = re.compile(r"[a-z]{2,3}(?:[-_][a-z]{2,4})?", re.IGNORECASE)
_OPEN_CITATION = re.compile(r"\[[\d,\s]{0,40}\Z")

SUMMARY_RULES = (
    "You summarize a team chat for someone catching up on it. The messages are numbered [n]. "
    "Write a short Markdown summary: the main topics, decisions, open questions and action items "
    "(with who owns them). After each point cite the messages it comes from, like [3] or [3, 7]; "
    "cite only numbers you were given. Never mention or notify anyone with @."
)
PART_RULES = " This is part {part} of {parts} of the conversation: summarize this part only."
COMBINE_RULES = (
    "You combine summaries of consecutive parts of one team chat into one short Markdown "
    "summary for someone catching up: main topics, decisions, open questions, action items. "
    "Keep the [n] citations of the points you keep, exactly as written. Never mention anyone "
    "with @."
)
TRANSLATE_RULES = (
    "Translate the user's text into {language}. Answer with the translation only, keeping its "
    "formatting; if it is already in {language}, answer with it unchanged."
)


class CatchUpRefused(Exception):
    """The job cannot be done as asked; its message is the one short line the asker sees."""


@dataclass(frozen=True, slots=True)
class SummaryPolicy:
    """The budgets of one summary, from the settings."""

    max_messages: int = 1000
    max_tokens: int = 200_000
    """Tokens of history read at most (the map-reduce calls then cost about twice this)."""
    default_since: str = "24h"


def parse_since(text: str, now: float, default: str) -> float:
    """The time a summary starts: `2h`, `3d`, `1w`, `30m` back, `yesterday` (its start, UTC),
    `all` (0: as far as the budgets reach), or empty for the default."""
    word = (text.strip() or default).lower()
    if word == "all":
        return 0.0
    if word == "yesterday":
        today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (today - timedelta(days=1)).timestamp()
    if word == "today":
        start = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return start.timestamp()
    if span := _SPAN.fullmatch(word):
        return now - int(span[1]) * _SECONDS[span[2].lower()]
    raise CatchUpRefused(BAD_SINCE.format(text=text.strip()[:40], default=default))


def parse_translation(args: str, locale: str | None) -> tuple[str, str]:
    """(language, text) of `[to LANGUAGE] TEXT`; the asker's locale, else English, by default.
    LANGUAGE is one word: a name (`French`) or a locale (`fr`, `pt-BR`)."""
    words = args.split(maxsplit=2)
    if len(words) >= 2 and words[0].lower() == "to":
        language, text = words[1].strip(":,"), words[2] if len(words) == 3 else ""
    else:
        language, text = locale or ENGLISH, args
    if not text.strip():
        raise CatchUpRefused(TRANSLATE_USAGE)
    if _LOCALE.fullmatch(language):
        language = f"the language of the locale {language}"
    return language, text.strip()


def translation_of(text: str, language: str | None) -> str:
    """The `translate` arguments for a whole message, its language explicit, so that a text
    starting with "to ..." is never read as the language."""
    return f"to {(language or ENGLISH).split()[0]} {text}"


@dataclass(slots=True)
class ModelCalls:
    """The model calls of one job: collected answers for the parts, usage added up."""

    backend: Backend
    options: GenerationOptions
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    calls: int = 0

    def count(self, message: ChatMessage) -> int:
        return self.backend.count_tokens([message], self.options.model)

    async def collect(self, messages: Sequence[ChatMessage]) -> str:
        """One whole answer, not shown to anyone (a part's summary)."""
        parts: list[str] = []
        usage: Usage | None = None
        async with aclosing(self.backend.stream(messages, self.options)) as stream:
            async for delta in stream:
                parts.append(delta.text)
                usage = delta.usage or usage
        text = "".join(parts)
        self.add(usage, messages, text)
        return text

    def add(self, usage: Usage | None, messages: Sequence[ChatMessage], text: str) -> None:
        """Count one call; estimated when the backend reported nothing."""
        self.calls += 1
        if usage is None:
            usage = Usage(
                self.backend.count_tokens(messages, self.options.model),
                self.count(ChatMessage(Role.ASSISTANT, text)),
            )
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cached_tokens += usage.cached_input_tokens

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cached_tokens)


@dataclass(slots=True)
class Job:
    """What the final, streamed call is asked, and how its answer is shaped on the way out."""

    messages: list[ChatMessage]
    shape: Callable[[AsyncGenerator[Delta, None]], AsyncGenerator[Delta, None]] | None = None
    asked: ChatMessage | None = None
    """What the asker wrote themselves (a text to translate), for input moderation."""


@dataclass(slots=True)
class _Numbered:
    lines: list[str] = field(default_factory=list)
    links: dict[int, str] = field(default_factory=dict)


async def prepare(
    name: str, incoming: Incoming, args: str, policy: SummaryPolicy, calls: ModelCalls, room: int
) -> Job:
    """The final call of a `summarize` or `translate` job (part summaries already made);
    `room` is the prompt's share of the model's window. CatchUpRefused: one line to show."""
    if name == "translate":
        language, text = parse_translation(args, incoming.author.locale)
        system = ChatMessage(Role.SYSTEM, TRANSLATE_RULES.format(language=language))
        asked = ChatMessage(Role.USER, text)
        return Job([system, asked], asked=asked)
    if incoming.history is None:
        raise CatchUpRefused(NOTHING_HERE)
    since = parse_since(args, time.time(), policy.default_since)
    read, numbered = await _read(incoming.history(since, policy.max_messages), since, policy, calls)
    log.debug("a summary read %d messages and keeps %d", read, len(numbered.lines))
    if not numbered.lines:
        raise CatchUpRefused(NOTHING_SAID)
    messages = await _summary_messages(numbered.lines, calls, room)
    return Job(messages, shape=lambda stream: cite(stream, numbered.links))


async def _read(
    history: AsyncGenerator[HistoryMessage, None],
    since: float,
    policy: SummaryPolicy,
    calls: ModelCalls,
) -> tuple[int, _Numbered]:
    """Read newest first until `since` or a budget; number the messages oldest first."""
    kept: list[tuple[HistoryMessage, str]] = []
    tokens = read = 0
    async with aclosing(history) as messages:  # stopping early ends the paging
        async for message in messages:
            read += 1
            if message.at < since:
                break
            line = message_line(message)
            if line is None:
                continue
            tokens += calls.count(ChatMessage(Role.USER, line))
            if tokens > policy.max_tokens:
                break
            kept.append((message, line))
            if len(kept) >= policy.max_messages:
                break
    kept.reverse()  # read newest first; numbered oldest first
    numbered = _Numbered()
    for number, (message, line) in enumerate(kept, start=1):
        numbered.lines.append(f"[{number}] {line}")
        numbered.links[number] = message.link
    return read, numbered


def message_line(message: HistoryMessage) -> str | None:
    """`DATE TIME AUTHOR: text` (UTC, the text on one line, cut at MESSAGE_CHARS); None when it
    has no text."""
    text = " ".join(message.text.split())[:MESSAGE_CHARS]
    if not text:
        return None
    stamp = datetime.fromtimestamp(message.at, UTC).strftime("%Y-%m-%d %H:%M")
    return f"{stamp} {message.author}: {text}"


async def _summary_messages(lines: list[str], calls: ModelCalls, room: int) -> list[ChatMessage]:
    """One pass when every line fits; else the parts are summarized and the summaries combined
    (in rounds, until they fit one call)."""
    system = ChatMessage(Role.SYSTEM, SUMMARY_RULES)
    space = room - calls.count(system) - calls.count(ChatMessage(Role.SYSTEM, PART_RULES))
    parts = _pack(lines, calls, space)
    if len(parts) == 1:
        return [system, ChatMessage(Role.USER, "\n".join(parts[0]))]
    summaries = []
    for index, part in enumerate(parts, start=1):
        rules = SUMMARY_RULES + PART_RULES.format(part=index, parts=len(parts))
        prompt = [ChatMessage(Role.SYSTEM, rules), ChatMessage(Role.USER, "\n".join(part))]
        summaries.append(await calls.collect(prompt))
    combine = ChatMessage(Role.SYSTEM, COMBINE_RULES)
    space = room - calls.count(combine)
    while len(groups := _pack(summaries, calls, space)) > 1 and len(groups) < len(summaries):
        summaries = [
            await calls.collect([combine, ChatMessage(Role.USER, _joined(group))])
            for group in groups
        ]
    return [combine, ChatMessage(Role.USER, _joined(summaries))]


def _joined(summaries: Sequence[str]) -> str:
    return "\n\n".join(f"Part {n}:\n{text}" for n, text in enumerate(summaries, start=1))


def _pack(lines: Sequence[str], calls: ModelCalls, space: int) -> list[list[str]]:
    """Consecutive lines in groups that each fit `space` tokens (a line too long alone goes on
    its own: the backend's own limit then cuts it)."""
    groups: list[list[str]] = [[]]
    used = 0
    for line in lines:
        size = calls.count(ChatMessage(Role.USER, line))
        if groups[-1] and used + size > space:
            groups.append([])
            used = 0
        groups[-1].append(line)
        used += size
    return groups


def link_citations(text: str, links: dict[int, str]) -> str:
    """`[3]` and `[3, 7]` as Markdown links to those messages (`[3](link)`); numbers that name
    no message stay as written."""

    def linked(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match[1].split(",")]
        if not all(n in links for n in numbers):
            return match[0]
        return " ".join(f"[{n}]({links[n]})" for n in numbers)

    return _CITATION.sub(linked, text)


async def cite(
    stream: AsyncGenerator[Delta, None], links: dict[int, str]
) -> AsyncGenerator[Delta, None]:
    """The stream with its citations linked; text that may still become a citation waits."""
    pending = ""
    async with aclosing(stream):
        async for delta in stream:
            pending += delta.text
            open_at = _OPEN_CITATION.search(pending)
            cut = open_at.start() if open_at else len(pending)
            ready, pending = pending[:cut], pending[cut:]
            if ready or delta.usage or delta.finish_reason:
                text = link_citations(ready, links)
                yield Delta(text, delta.finish_reason, delta.usage)
    if pending:
        yield Delta(link_citations(pending, links))
