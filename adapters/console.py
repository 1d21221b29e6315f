"""`parley console`: chat in a terminal, streamed as Markdown; scriptable over a pipe."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from bot.replies import ApprovalOutcome, ApprovalRequest
from bot.types import Author, ConversationKey, Incoming, Kind

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    from bot.config import Settings
    from bot.wiring import Runtime

QUIT_WORDS = {"/quit", "/exit"}
SETTLED = {
    ApprovalOutcome.APPROVED: "Approved: running it.",
    ApprovalOutcome.DENIED: "Denied: not run.",
    ApprovalOutcome.TIMED_OUT: "No answer in time: not run.",
    ApprovalOutcome.UNAVAILABLE: "Not run.",
}
Decide = Callable[[str, str, bool], Awaitable[str]]


class Approver:
    """The console's Approve / Deny: y or N on the next input line, passed to `decide` (which
    the timeout may beat: a late answer is then only told it came too late)."""

    def __init__(self, lines: LineReader, decide: Decide, person: str, say: Callable[[str], None]):
        self._lines = lines
        self._decide = decide
        self._person = person
        self.say = say
        self._answers: set[asyncio.Task[None]] = set()

    def ask(self, request: ApprovalRequest) -> None:
        self.say(
            f"Run {request.tool} with {request.summary}? "
            f"Answer y or N within {request.timeout:g} s."
        )
        task = asyncio.create_task(self._answer(request))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, request: ApprovalRequest) -> None:
        line = await self._lines.next()
        if line is None:
            self._lines.end()  # the input ended: the chat loop ends too
        approved = (line or "").strip().lower() in {"y", "yes"}
        reply = await self._decide(request.id, self._person, approved)
        if not reply.startswith(("Approved", "Denied")):
            self.say(reply)


class _Approving:
    """Approval through an Approver, for the console's sinks."""

    _approver: Approver | None

    async def ask_approval(self, request: ApprovalRequest) -> None:
        if self._approver is not None:
            self._approver.ask(request)

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        if self._approver is not None:
            self._approver.say(SETTLED[outcome])


class LiveSink(_Approving):
    """Renders the answer in place as Markdown while it streams."""

    max_len = 1_000_000
    min_edit_interval = 0.08

    def __init__(self, console: Console, approver: Approver | None = None) -> None:
        self._console = console
        self._live: Live | None = None
        self._approver = approver

    async def start(self) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self._live = Live(
            Spinner("dots", text="thinking…"),
            console=self._console,
            refresh_per_second=12,
            vertical_overflow="visible",
        )
        self._live.start()

    async def ask_approval(self, request: ApprovalRequest) -> None:
        if self._live is not None:  # the question and its answer go below the answer so far
            self._live.stop()
        await super().ask_approval(request)

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        await super().settle_approval(request, outcome, by)
        await self.start()

    async def update(self, text: str) -> None:
        if self._live is not None:
            self._live.update(_markdown(text))

    async def finish(self, text: str) -> None:
        if self._live is None:
            self._console.print(_markdown(text))
            return
        self._live.update(_markdown(text))
        self._live.stop()

    async def fail(self, message: str) -> None:
        if self._live is not None:
            self._live.stop()
        self._console.print(message, style="bold red", markup=False, highlight=False)


def _markdown(text: str) -> Markdown:
    """Markdown that keeps the text's line breaks: one command or list line per line, as written."""
    from rich.markdown import Markdown

    lines = text.split("\n")
    in_code = False
    for index, line in enumerate(lines[:-1]):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.strip() and lines[index + 1].strip():
            lines[index] = line + "  "  # two trailing spaces: a hard line break
    return Markdown("\n".join(lines))


class PlainSink(_Approving):
    """One answer per message on stdout, for pipes and scripts; approvals read the next line."""

    max_len = 1_000_000
    min_edit_interval = 3600.0

    def __init__(self, approver: Approver | None = None) -> None:
        self._approver = approver

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        print(text, flush=True)

    async def fail(self, message: str) -> None:
        print(message, flush=True)


class LineReader:
    """Reads a line when asked, on a daemon thread: the prompt never races an answer being drawn,
    and quitting never waits for Enter. None marks the end of input."""

    def __init__(self, read: Callable[[], str | None]) -> None:
        self._read = read
        self._loop = asyncio.get_running_loop()
        self._wanted = threading.Semaphore(0)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._run, name="console-input", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wanted.acquire()
            try:
                line = self._read()
            except (EOFError, KeyboardInterrupt):
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def next(self) -> str | None:
        self._wanted.release()
        return await self._lines.get()

    def end(self) -> None:
        self._lines.put_nowait(None)


class ConsoleAdapter:
    summary = "chat in this terminal (no platform needed)"
    uses_http_server = False
    chatty_loggers = ()
    settings_model = None

    def access_policy(self, settings: Settings) -> None:
        """The terminal's user is whoever runs it: no allowlist."""

    def is_configured(self, settings: Settings) -> bool:
        return False  # interactive: `parley serve` never starts it

    def check_settings(self, settings: Settings) -> None:
        """Nothing to check: the console needs no platform settings."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--session",
            default="default",
            help="the conversation to continue; each session remembers its own history",
        )

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        return None

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        from bot.config import ConfigError
        from bot.llm.base import BackendError
        from bot.wiring import backend_problem

        try:  # a model server that is down is said once, with the setting, not on every turn
            await runtime.backend.ping()
        except BackendError as error:
            raise ConfigError(backend_problem(runtime.settings, error)) from None
        key = ConversationKey("console", "local", args.session)
        user = getpass.getuser()
        author = Author(
            id=f"console:{user}",
            name=user,
            is_admin=True,
            locale=_terminal_locale(),
            time_zone=_local_zone(),
        )
        if sys.stdin.isatty():
            return await self._interactive(runtime, key, author)
        return await self._scripted(runtime, key, author)

    async def diagnose(self, settings: Settings) -> list[str]:
        return []

    async def serve(self, runtime: Runtime) -> None:
        return None

    async def _scripted(self, runtime: Runtime, key: ConversationKey, author: Author) -> int:
        lines = LineReader(lambda: sys.stdin.readline() or None)
        approver = Approver(lines, runtime.dialogue.decide, author.id, _print)
        while (line := await lines.next()) is not None:
            if line.strip():
                await runtime.dialogue.handle(_incoming(key, author, line), PlainSink(approver))
        return 0

    async def _interactive(self, runtime: Runtime, key: ConversationKey, author: Author) -> int:
        from rich.console import Console

        console = Console()
        console.print(
            f"[bold]Parley[/] · model [cyan]{runtime.model}[/] · session [cyan]{key.channel}[/]\n"
            "Type a message. /help lists commands; Ctrl+C stops an answer; Ctrl+D or /quit leaves.",
            highlight=False,
        )
        loop = asyncio.get_running_loop()
        quit_requested = asyncio.Event()
        lines = LineReader(lambda: console.input("[bold green]you ›[/] "))
        say = partial(console.print, style="bold yellow", markup=False, highlight=False)
        approver = Approver(lines, runtime.dialogue.decide, author.id, say)

        def on_interrupt() -> None:
            if not runtime.dialogue.stop(key):
                quit_requested.set()
                lines.end()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        restore_echo = _hide_control_echo()
        try:
            while not quit_requested.is_set():
                line = await lines.next()
                if line is None or line.strip() in QUIT_WORDS:
                    break
                if line.strip():
                    sink = LiveSink(console, approver)
                    await runtime.dialogue.handle(_incoming(key, author, line), sink)
        finally:
            restore_echo()
            loop.remove_signal_handler(signal.SIGINT)
        console.print()
        return 0


def _print(line: str) -> None:
    print(line, flush=True)


def _hide_control_echo() -> Callable[[], None]:
    """Stop the terminal echoing ^C: the echo moves the cursor under a live answer, whose redraw
    then repeats a line. Returns what restores the terminal."""
    try:
        import termios
    except ImportError:  # Windows: no termios, and its console echoes no ^C
        return lambda: None
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHOCTL
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    return lambda: termios.tcsetattr(fd, termios.TCSANOW, saved)


def _terminal_locale() -> str | None:
    """The terminal's language as a locale (`de_DE.UTF-8` -> `de-DE`); None for C or POSIX."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").split(".")[0].split("@")[0]
        if value:
            return None if value in ("C", "POSIX") else value.replace("_", "-")
    return None


def _local_zone() -> str | None:
    """The machine's IANA zone: `$TZ`, else the tzdata file /etc/localtime links to; None when
    neither names one (the time tool then says UTC)."""
    named = os.environ.get("TZ", "").removeprefix(":")
    if named:
        return named
    _, found, name = os.path.realpath("/etc/localtime").partition("/zoneinfo/")
    return name if found else None


def _incoming(key: ConversationKey, author: Author, line: str) -> Incoming:
    return Incoming(
        key=key, author=author, text=line.strip(), event_id=uuid.uuid4().hex, kind=Kind.DM
    )


adapter = ConsoleAdapter()
