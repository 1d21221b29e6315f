"""How an answer reaches a platform: the ReplySink protocol, a throttled relay, size splitting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.llm.base import BackendError
from bot.types import Delta, Usage

log = logging.getLogger(__name__)

STOPPED_MARK = "_(stopped)_"
INTERRUPTED_MARK = "_(interrupted; please ask again)_"
EMPTY_ANSWER = "_(the model returned an empty answer)_"


@runtime_checkable
class Claimed(Protocol):
    """A sink with a platform side effect that must happen once per event (a thread to open):
    the core calls `claimed()` once its claim on the event won, before any other call."""

    async def claimed(self) -> None: ...


class ReplySink(Protocol):
    """One answer's place on a platform: a message to create, edit and finish."""

    min_edit_interval: float
    """Seconds between visible updates of one answer."""

    async def start(self) -> None:
        """The turn began: show a typing indicator or placeholder."""
        ...

    async def update(self, text: str) -> None:
        """Show the answer so far (the whole text, not a delta)."""
        ...

    async def finish(self, text: str) -> None:
        """Show the final answer (also used for command output)."""
        ...

    async def fail(self, message: str) -> None:
        """Tell the user, in one short line, that no answer is coming."""
        ...


@runtime_checkable
class Resumable(Protocol):
    """A sink that can say where its answer is shown, so another process can finish it."""

    def receipt(self) -> str | None:
        """JSON that the door's repair function understands; None before anything is shown."""
        ...


Record = Callable[[tuple[str, ...]], Awaitable[None]]
"""Keeps the ids of the messages showing an answer (what a click on its controls names)."""


@runtime_checkable
class Rateable(Protocol):
    """A sink that can put rating controls (thumbs up / down) on a complete answer."""

    async def finish_rated(self, text: str, record: Record) -> bool:
        """`finish` for a complete answer, with the controls in the request that shows its
        final text where the platform allows (no edit after it): `record` is awaited first with
        the ids of the messages showing the answer (what a click names), so a click finds it.
        False when the controls did not go on: `offer_rating` may add them once the answer is
        kept. Raises DeliveryFailed as `finish` does."""
        ...

    async def offer_rating(self) -> tuple[str, ...]:
        """Add the controls to the answer shown; the ids of the messages showing it (what a
        click names), () when none could be added."""
        ...


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A tool call with side effects that waits for the asker's click before it runs."""

    id: str
    """Opaque, at most 64 characters of [A-Za-z0-9_-]: fits any platform's button or action
    id. A click names it: `DialogueManager.decide(id, person, approved)`."""
    tool: str
    """As the model sees it: `server.tool`."""
    summary: str
    """The call's arguments, shortened and made safe to show (no pings, no disguised links)."""
    asker_id: str
    timeout: float
    """Seconds the request waits for a click before the tool is not run."""


class ApprovalOutcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    UNAVAILABLE = "unavailable"
    """Nobody can click here (the sink shows no controls): the tool is not run."""


@runtime_checkable
class Approving(Protocol):
    """A sink that can ask the asker to approve a tool call with buttons (or a prompt)."""

    async def ask_approval(self, request: ApprovalRequest) -> None:
        """Show the request with Approve / Deny controls; the door passes each click to
        `DialogueManager.decide`, which checks who clicked."""
        ...

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        """Replace the controls with the outcome (and who decided), so nobody clicks again."""
        ...


class DeliveryFailed(Exception):
    """The final text could not be shown (retried until a deadline): the answer is undelivered."""


class Outcome(StrEnum):
    COMPLETE = "complete"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


HALT_MARKS = {Outcome.STOPPED: STOPPED_MARK, Outcome.INTERRUPTED: INTERRUPTED_MARK}


def marked(shown: str, mark: str) -> str:
    """What was shown, with a mark saying why it ends there."""
    return f"{shown}\n\n{mark}" if shown else mark


class Halt:
    """Why a turn's task is being cancelled on purpose: a stop, or a shutdown past its grace.

    Cancellation without a halt is a bug or the loop closing, and propagates.
    """

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: Outcome | None = None

    def request(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome


@dataclass(frozen=True, slots=True)
class RelayResult:
    text: str
    outcome: Outcome
    usage: Usage | None = None
    error: BackendError | None = None
    first_text_at: float | None = None
    """time.monotonic() when the first text arrived, for time-to-first-token."""
    delivered: bool = True
    """False when the sink could not show the final text (see DeliveryFailed)."""


Shown = Callable[[str], Awaitable[None]]
"""Told the text each time the sink has shown more of the answer (to record progress)."""


class _Throttle:
    """Shows the latest text at most once per interval, without holding up the stream."""

    def __init__(self, sink: ReplySink, on_shown: Shown | None) -> None:
        self._sink = sink
        self._on_shown = on_shown
        self._text = ""
        # Made with the task: an answer that arrives whole costs neither.
        self._dirty: asyncio.Event | None = None
        self._updating: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Handle | None = None

    def show(self, text: str) -> None:
        self._text = text
        if self._dirty is not None:
            self._dirty.set()
        elif self._starting is None:
            # The updates start once the stream lets the loop run: an answer that arrives whole
            # (an instant model, a cached reply) then costs no task.
            self._starting = asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._starting = None
        self._dirty = asyncio.Event()
        self._dirty.set()  # the text shown before the task began
        self._updating = asyncio.Lock()
        self._task = asyncio.create_task(self._run(self._dirty, self._updating))

    async def _run(self, dirty: asyncio.Event, updating: asyncio.Lock) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await dirty.wait()
            dirty.clear()
            started = loop.time()
            async with updating:
                text = self._text
                try:
                    await self._sink.update(text)
                    if self._on_shown is not None:
                        await self._on_shown(text)
                except Exception:
                    log.warning("reply update failed", exc_info=True)
            await asyncio.sleep(self._sink.min_edit_interval - (loop.time() - started))

    async def close(self) -> None:
        """Stop updating; an update already on its way to the platform is let through first,
        so the sink knows what it has shown before it finishes."""
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        if self._task is None or self._updating is None:
            return
        async with self._updating:
            self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


async def relay(
    stream: AsyncGenerator[Delta, None],
    sink: ReplySink,
    halt: Halt,
    on_shown: Shown | None = None,
    finish_rated: Callable[[str], Awaitable[object]] | None = None,
) -> RelayResult:
    """Start the sink and pump a backend stream into it; a complete answer's text goes to
    `finish_rated` when given (the sink's, with rating controls), else to `sink.finish`.

    A halt (cancellation with `halt` requested) keeps what was shown, marked with its reason.
    """
    parts: list[str] = []
    usage: Usage | None = None
    first_text_at: float | None = None
    throttle = _Throttle(sink, on_shown)
    try:
        await sink.start()
        if on_shown is not None:
            await on_shown("")
        try:  # `aclosing`, without its object each turn
            async for delta in stream:
                if delta.usage is not None:
                    usage = delta.usage
                if delta.text:
                    if first_text_at is None:
                        first_text_at = time.monotonic()
                    parts.append(delta.text)
                    throttle.show("".join(parts))
                elif delta.status:  # shown after the text so far until more text comes
                    throttle.show(marked("".join(parts), delta.status))
        finally:
            await stream.aclose()
    except BackendError as error:
        await throttle.close()
        shown = "".join(parts)
        if shown:
            delivered = await _show_final(sink.finish, marked(shown, f"_({error.user_message})_"))
        else:
            delivered = await _show_final(sink.fail, error.user_message)
        return RelayResult(shown, Outcome.FAILED, usage, error, first_text_at, delivered)
    except asyncio.CancelledError:
        await throttle.close()
        outcome = halt.outcome
        if outcome is None:
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        shown = "".join(parts)
        delivered = await _show_final(sink.finish, marked(shown, HALT_MARKS[outcome]))
        return RelayResult(shown, outcome, usage, None, first_text_at, delivered)
    await throttle.close()
    text = "".join(parts)
    finish = finish_rated if finish_rated is not None and text else sink.finish
    delivered = await _show_final(finish, text or EMPTY_ANSWER)
    return RelayResult(text, Outcome.COMPLETE, usage, None, first_text_at, delivered)


async def _show_final(show: Callable[[str], Awaitable[object]], text: str) -> bool:
    """Show the final text (sink.finish or sink.fail); False when the sink gave up on it."""
    try:
        await show(text)
    except DeliveryFailed as error:
        log.warning("answer undelivered: %s", error)
        return False
    return True


_FENCE = "```"
_FENCE_ROOM = len("\n" + _FENCE)
_MAX_LANG = 20
_BOUNDARIES = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def split_message(text: str, max_len: int) -> list[str]:
    """Split text into pieces of at most max_len at the best natural boundary.

    A cut inside a code block closes the fence and reopens it, with its language, in the next
    piece. Earlier pieces never change as the text grows, so a streamed answer can be split live.
    """
    pieces: list[str] = []
    reopen = ""
    rest = text
    while len(reopen) + len(rest) > max_len:
        room = max_len - len(reopen) - _FENCE_ROOM
        cut = _best_cut(rest[:room])
        piece = reopen + rest[:cut]
        language = _open_fence_language(piece)
        if language is None:
            pieces.append(piece)
            reopen = ""
        else:
            pieces.append(piece + ("" if piece.endswith("\n") else "\n") + _FENCE)
            reopen = f"{_FENCE}{language}\n"
        rest = rest[cut:]
    pieces.append(reopen + rest)
    return pieces


def _best_cut(window: str) -> int:
    for boundary in _BOUNDARIES:
        index = window.rfind(boundary)
        if index >= len(window) // 2:
            return index + len(boundary)
    return len(window)


def _open_fence_language(text: str) -> str | None:
    """The language of a code fence left open at the end of text ('' if none given), else None."""
    language: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            language = None if language is not None else stripped[3:].strip()[:_MAX_LANG]
    return language
