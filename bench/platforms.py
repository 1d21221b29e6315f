"""The Discord and Slack doors under load: N conversations x 3 turns against the test peers.

Parley runs as its own process, as deployed: `parley discord`, or `parley slack` in HTTP mode,
with the real discord.py client or bolt app and the real openai client. The protocol peers of
tests/peers run in this process on 127.0.0.1, the model among them: an OpenAI-compatible server
streaming each answer in 30 pieces over about 3 s. The questioners run concurrently, and one
questioner's turns follow each other: the next message is sent as soon as the answer's whole text
is visible. Times are measured at the peer: from the moment a user's event is sent to the first
request that shows answer text, and to the request that makes the whole answer visible. CPU is
the Parley process's own (user + system, from /proc), per streamed turn; this process's (the
peers, the model, the bookkeeping) is shown apart. The model alone is the same streams read
straight from the model peer, one conversation's turns after each other, without Parley.

  discord          a user and a channel per conversation
  discord-chains   one user, a reply chain per conversation in one channel
  discord-shared   a user per conversation, all mentioning at once in one channel-mode channel
  slack            a user and a thread per conversation
  slack-thread     a user per conversation, all in one thread
  slack-threads    one user, a thread per conversation, at once

Run: python -m bench.platforms [--case NAME ...] [--conversations N] [--profile DIR]
(10 conversations: about 15 s a case; all cases by default). --profile samples the Parley process
with py-spy (pip install py-spy) during each case and writes DIR/CASE.txt (collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import psutil

from adapters.slack.app import EVENTS_PATH
from adapters.slack.sink import THINKING
from tests.peers.discord_peer import DiscordPeer, PeerUser, Recorded
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import Call, SlackPeer, SlackSender
from tests.slack.harness import SIGNING_SECRET, SlackEvents

CONVERSATIONS = 10
TURNS = 3
MODEL = "peer-model"
MODEL_SECONDS = 3.0
MODEL_CHUNKS = 30
EDIT_INTERVAL = 1.0
"""Both platforms' default (PARLEY_DISCORD_EDIT_INTERVAL, PARLEY_SLACK_EDIT_INTERVAL)."""
ANSWER_DEADLINE = 30.0
"""A turn not answered by then counts as lost; a correct door answers in about 3 s."""
READY_DEADLINE = 60.0
FILLER = "lorem ipsum dolor sit amet " * 10
POLL_SECONDS = 0.005
"""How often the peers' new requests are filed by place (their times are taken at the peer)."""
_TAG = re.compile(r"\bc\d+t\d+\b")
T = TypeVar("T")


def tag(conversation: int, turn: int) -> str:
    """What identifies one turn in the user's text and in the model's answer."""
    return f"c{conversation}t{turn}"


def answer_to(tag_: str) -> str:
    return f"reply {tag_}: {FILLER}".strip()


def _scripted_answer(request: dict[str, Any]) -> str:
    found = _TAG.search(str(request["messages"][-1]["content"]))
    return answer_to(found.group(0) if found else "unknown")


def streaming_model() -> OpenAIPeer:
    """A model that streams each answer in MODEL_CHUNKS pieces over about MODEL_SECONDS."""
    return OpenAIPeer(
        answer=_scripted_answer,
        chunk_chars=math.ceil(len(answer_to(tag(0, 0))) / MODEL_CHUNKS),
        chunk_delay=MODEL_SECONDS / MODEL_CHUNKS,
    )


async def model_alone(model: OpenAIPeer, conversations: int) -> float:
    """Seconds the model takes to stream every turn's answer, read without Parley."""
    body = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True}}

    async def conversation(session: aiohttp.ClientSession, number: int) -> None:
        for turn in range(TURNS):
            question = {"role": "user", "content": f"{tag(number, turn)}: tell me more"}
            url = f"{model.base_url}/chat/completions"
            async with session.post(url, json={**body, "messages": [question]}) as response:
                async for _ in response.content:
                    pass

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.monotonic()
        await asyncio.gather(*(conversation(session, n) for n in range(conversations)))
        return time.monotonic() - started


def gaps(times: Sequence[float]) -> list[float]:
    """Seconds between consecutive moments."""
    return [later - earlier for earlier, later in itertools.pairwise(times)]


class Places:
    """A peer's requests filed by the place they write to (a channel, a thread) as they arrive,
    so that each conversation reads, and is woken for, only its own place's."""

    def __init__(self, records: list[Any], place_of: Callable[[Any], Hashable | None]) -> None:
        self._records = records
        self._place_of = place_of
        self._filed: dict[Hashable, list[Any]] = defaultdict(list)
        self._changed: dict[Hashable, asyncio.Event] = defaultdict(asyncio.Event)
        self._seen = 0

    async def file(self) -> None:
        """File new requests every POLL_SECONDS, until cancelled."""
        while True:
            new = self._records[self._seen :]
            self._seen += len(new)
            for record in new:
                place = self._place_of(record)
                if place is not None:
                    self._filed[place].append(record)
                    self._changed[place].set()
            await asyncio.sleep(POLL_SECONDS)

    async def wait_for(
        self, place: Hashable, found: Callable[[list[Any]], T | None], within: float
    ) -> T:
        """What `found` finds in the place's requests, once it finds something."""
        async with asyncio.timeout(within):
            while (value := found(self._filed[place])) is None:
                changed = self._changed[place]
                changed.clear()
                await changed.wait()
        return value

    @asynccontextmanager
    async def filing(self) -> AsyncIterator[Places]:
        task = asyncio.create_task(self.file())
        try:
            yield self
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


# ----- The Parley process ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Parley:
    """The Parley process under test, and its HTTP port (/readyz, Slack's Events API)."""

    process: psutil.Process
    port: int

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system


@asynccontextmanager
async def parley(door: str, model: OpenAIPeer, settings: dict[str, str]) -> AsyncIterator[Parley]:
    """`parley DOOR` in a process of its own, answering from `model`, ready (/readyz) to serve."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        environment = os.environ | {
            "PARLEY_DATA_DIR": directory,
            "PARLEY_HTTP_PORT": str(port),
            "PARLEY_LOG_LEVEL": "WARNING",
            "PARLEY_BACKEND": "openai",
            "PARLEY_MODEL": MODEL,
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "unused",
            # One bench user may send hundreds of turns a minute (one user in many threads).
            "PARLEY_USER_TURNS_PER_MINUTE": "100000",
            "PARLEY_CONVERSATION_TURNS_PER_MINUTE": "100000",
            **settings,
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", door, env=environment
        )
        try:
            await _until_ready(port, child)
            yield Parley(psutil.Process(child.pid), port)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(child.wait(), 30)
                except TimeoutError:
                    child.kill()
                    await child.wait()


async def _until_ready(port: int, child: asyncio.subprocess.Process) -> None:
    url = f"http://127.0.0.1:{port}/readyz"
    async with aiohttp.ClientSession() as session, asyncio.timeout(READY_DEADLINE):
        while child.returncode is None:
            with suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"parley exited with status {child.returncode} before it was ready")


@asynccontextmanager
async def profiled(parley_: Parley, output: Path | None) -> AsyncIterator[None]:
    """py-spy sampling the Parley process while the block runs, into `output` (collapsed)."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy on PATH: pip install py-spy")
    sampler = await asyncio.create_subprocess_exec(
        *(spy, "record", "--pid", str(parley_.process.pid), "--format", "raw"),
        *("--output", str(output), "--rate", "200", "--nonblocking"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)
        await sampler.wait()


@dataclass
class Answer:
    """One answered turn, in seconds from the moment its event was sent."""

    first_visible: float
    final: float
    edits: int
    edit_gaps: list[float] = field(default_factory=list)
    """Seconds between consecutive throttled edits of the message (the final one excluded)."""
    sign_of_life: float | None = None
    """Discord's typing indicator, or Slack's placeholder message when one is posted."""
    acknowledged: float | None = None
    """Slack: when the app answered the event's HTTP request (Slack redelivers after 3 s)."""

    @property
    def edit_rate(self) -> float:
        """Edits per second of streaming, from the first visible text to the final text."""
        streaming = self.final - self.first_visible
        return self.edits / streaming if streaming > 0 else 0.0


Outcome = tuple[list[Answer], int]
"""One conversation's answers, and how many of its turns were lost."""


@dataclass
class Measured:
    """What a case's timed part cost: its wall time and the CPU seconds of each side."""

    wall: float = 0.0
    parley_cpu: float = 0.0
    peers_cpu: float = 0.0

    @asynccontextmanager
    async def timing(self, parley_: Parley, profile: Path | None) -> AsyncIterator[None]:
        own = psutil.Process()
        cpu = parley_.cpu_seconds()
        peers = sum(own.cpu_times()[:2])
        started = time.monotonic()
        async with profiled(parley_, profile):
            yield
        self.wall = time.monotonic() - started
        self.parley_cpu = parley_.cpu_seconds() - cpu
        self.peers_cpu = sum(own.cpu_times()[:2]) - peers


@dataclass
class Run:
    platform: str
    conversations: int
    measured: Measured
    model_alone: float
    answers: list[Answer]
    lost: int
    history_reads: int
    sign_of_life: str

    @classmethod
    def of(
        cls,
        platform: str,
        measured: Measured,
        model_alone: float,
        results: Sequence[Outcome],
        history_reads: int,
        sign_of_life: str,
    ) -> Run:
        answers = [answer for conversation, _ in results for answer in conversation]
        lost = sum(lost for _, lost in results)
        return cls(
            platform,
            len(results),
            measured,
            model_alone,
            answers,
            lost,
            history_reads,
            sign_of_life,
        )


def _median_max(values: Sequence[float], unit: str = " s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.{digits}f}{unit}  max {max(values):.{digits}f}{unit}"
    )


def report(run: Run) -> str:
    """The run's figures, one labelled line each."""
    answers = run.answers
    measured = run.measured
    turns = run.conversations * TURNS
    edit_gaps = [gap for answer in answers for gap in answer.edit_gaps]
    signs = [a.sign_of_life for a in answers if a.sign_of_life is not None]
    acks = [a.acknowledged for a in answers if a.acknowledged is not None]
    lost = f" ({run.lost} lost: no answer within {ANSWER_DEADLINE:.0f} s)" if run.lost else ""
    per_turn = 1000 * measured.parley_cpu / max(1, len(answers))
    lines = [
        f"{run.platform}: {run.conversations} conversations x {TURNS} turns, model streaming each "
        f"answer over {MODEL_SECONDS:.0f} s",
        f"  wall time            {measured.wall:.2f} s   the model alone {run.model_alone:.2f} s: "
        f"{measured.wall / run.model_alone:.2f}x (target <= 1.15x)",
        f"  Parley CPU           {measured.parley_cpu:.2f} s: {per_turn:.1f} ms per streamed turn "
        f"(target <= 5 ms); peers and model {measured.peers_cpu:.2f} s",
    ]
    if acks:
        lines.append(f"  event acknowledged   {_median_max(acks, digits=3)}   (Slack wants 3 s)")
    lines += [
        f"  {run.sign_of_life:<20} {_median_max(signs) if signs else 'none'}",
        f"  first visible text   {_median_max([a.first_visible for a in answers])}"
        "   (target median <= 0.3 s)",
        f"  final text           {_median_max([a.final for a in answers])}"
        "   (target median <= 3.4 s)",
        f"  edits per answer     {_median_max([a.edits for a in answers], '', 1)};  per second "
        f"of streaming {_median_max([a.edit_rate for a in answers], '', 2)}",
        f"  gap between edits    min {min(edit_gaps):.2f} s (throttled edits of one message)"
        if edit_gaps
        else "  gap between edits    n/a",
        f"  answers complete     {len(answers)}/{turns}{lost}",
        f"  history reads        {run.history_reads} (the store is the memory)",
    ]
    return "\n".join(lines)


# ----- Discord -------------------------------------------------------------------------------


def _channel_of(request: Recorded) -> int | None:
    """The channel a REST request writes to: /channels/<id>/..."""
    parts = request.path.split("/", 3)
    return int(parts[2]) if len(parts) > 2 and parts[1] == "channels" else None


def _discord_answer(requests: list[Recorded], sent: float, expected: str) -> Answer | None:
    """The turn's answer as the peer saw it in its channel, once its full text has been
    written. Only writes of this answer's text count: other answers may stream into the same
    channel."""
    writes = [
        r
        for r in requests
        if r.at >= sent
        and r.method in {"POST", "PATCH"}
        and (r.body or {}).get("content")
        and expected.startswith(r.body["content"])
    ]
    final = next((r for r in writes if r.body["content"] == expected), None)
    if final is None:
        return None
    first = writes[0]
    edits = [r for r in writes if r.method == "PATCH"]
    typing = [r for r in requests if r.path.endswith("/typing") and r.at >= sent]
    return Answer(
        first_visible=first.at - sent,
        final=final.at - sent,
        edits=len(edits),
        edit_gaps=gaps([r.at for r in [first, *edits][:-1]]),
        sign_of_life=typing[0].at - sent if typing else None,
    )


async def _discord_conversation(
    peer: DiscordPeer,
    places: Places,
    number: int,
    channel: int,
    user: PeerUser,
    *,
    chain: bool = False,
) -> Outcome:
    """Mention Parley each turn; or, in a `chain`, mention it once and then reply to its answer."""
    answers: list[Answer] = []
    replied: int | None = None
    for turn in range(TURNS):
        expected = answer_to(tag(number, turn))
        sent = time.monotonic()
        text = f"{tag(number, turn)}: tell me more"
        if replied is None:
            await peer.post_message(channel, user, f"<@{peer.bot.id}> {text}", mentions=(peer.bot,))
        else:
            await peer.post_message(channel, user, text, reply_to=replied)
        try:
            answer = await places.wait_for(
                channel,
                partial(_discord_answer, sent=sent, expected=expected),
                within=ANSWER_DEADLINE,
            )
        except TimeoutError:
            return answers, TURNS - turn
        answers.append(answer)
        if chain:
            replied = next(
                int(m["id"]) for m in peer.bot_messages(channel) if m["content"] == expected
            )
    return answers, 0


async def bench_discord(
    conversations: int, profile: Path | None, shape: str = "own channels"
) -> Run:
    """`own channels`: a user and a channel per conversation; `chains`: one user's reply chains
    in one channel; `shared`: a user per conversation in one channel-mode channel."""
    peer = DiscordPeer()
    model = await streaming_model().start()
    shared = shape != "own channels"
    channels = [peer.add_channel(f"bench-{n}") for n in range(1 if shared else conversations)]
    users = [peer.add_member(f"User{n}") for n in range(1 if shape == "chains" else conversations)]
    await peer.start()
    measured = Measured()
    settings = {
        "DISCORD_TOKEN": peer.token,
        "PARLEY_DISCORD_API_URL": peer.api_url,
        "PARLEY_DISCORD_GATEWAY_URL": peer.gateway_url,
        "PARLEY_DISCORD_CONVERSATION": "channel" if shape == "shared" else "chain",
    }
    try:
        floor = await model_alone(model, conversations)
        async with (
            parley("discord", model, settings) as running,
            Places(peer.requests, _channel_of).filing() as places,
            measured.timing(running, profile),
        ):
            results = await asyncio.gather(
                *(
                    _discord_conversation(
                        peer,
                        places,
                        n,
                        channels[n % len(channels)],
                        users[n % len(users)],
                        chain=shape == "chains",
                    )
                    for n in range(conversations)
                )
            )
    finally:
        await peer.close()
        await model.stop()
    history = [r for r in peer.calls("GET", "/channels/") if r.path.count("/") >= 3]
    label = {
        "own channels": "Discord (a channel each)",
        "chains": "Discord (one user, a reply chain each in one channel)",
        "shared": "Discord (a user each in one channel-mode channel)",
    }[shape]
    return Run.of(label, measured, floor, results, len(history), "typing indicator")


# ----- Slack ---------------------------------------------------------------------------------


_TEXT_CALLS = {
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.postMessage",
    "chat.update",
}
_EDIT_CALLS = {"chat.appendStream", "chat.update"}


def _thread_of(peer: SlackPeer, call: Call) -> str | None:
    """The thread a Web API call writes answer text in, if it does."""
    if call.method not in _TEXT_CALLS:
        return None
    if "thread_ts" in call.params:
        return call.params["thread_ts"]
    message = peer.messages.get((call.params.get("channel", ""), call.params.get("ts", "")))
    return message.thread_ts if message is not None else None


def _markdown_of(call: Call) -> str | None:
    """The Markdown a call shows: in a markdown block if any (`text` is then the notification's
    fallback), else its markdown_text."""
    blocks = call.params.get("blocks")
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
    shown = [block["text"] for block in blocks if block.get("type") == "markdown"]
    return shown[0] if shown else call.params.get("markdown_text")


def _slack_answer(calls: list[Call], sent: float, expected: str) -> Answer | None:
    """Replays the thread's writes since `sent`, message by message (several answers may stream
    into one thread at once): what the user saw of this answer, and when."""
    shown: dict[str, str] = {}
    first = final = placeholder = None
    writes: list[Call] = []
    for call in calls:
        if call.at < sent:
            continue
        message = call.params.get("ts") or call.answer.get("ts") or ""
        piece = _markdown_of(call) or call.params.get("text") or ""
        if call.method in {"chat.postMessage", "chat.update", "chat.startStream"}:
            shown[message] = piece
        else:
            shown[message] = shown.get(message, "") + piece
        text = shown[message]
        if text == THINKING:
            placeholder = placeholder if placeholder is not None else call.at
            continue
        if first is None and text and expected.startswith(text):
            first = call
        if first is not None and call.method != "chat.stopStream" and expected.startswith(text):
            writes.append(call)
        if text == expected:
            final = call
            break
    if first is None or final is None:
        return None
    edits = [call for call in writes if call.method in _EDIT_CALLS]
    throttled = writes[:-1] if writes and writes[-1] is final else writes
    return Answer(
        first_visible=first.at - sent,
        final=final.at - sent,
        edits=len(edits),
        edit_gaps=gaps([call.at for call in throttled]),
        sign_of_life=placeholder - sent if placeholder is not None else None,
    )


async def _slack_conversation(
    events: SlackEvents,
    sender: SlackSender,
    places: Places,
    number: int,
    *,
    user: str | None = None,
    root: str | None = None,
) -> Outcome:
    """A thread of turns: started with a mention, or replies in the thread `root`."""
    user = user or f"U0BENCH{number:03d}"
    answers: list[Answer] = []
    for turn in range(TURNS):
        text = f"{tag(number, turn)}: tell me more"
        if root is None:
            event = events.mention(text)
            root = event["ts"]
        else:
            event = events.reply(text, root)
        event["user"] = user
        expected = answer_to(tag(number, turn))
        sent = time.monotonic()
        status, _ = await sender.event(event)
        acknowledged = time.monotonic() - sent
        if status != 200:
            raise RuntimeError(f"the app refused an event: HTTP {status}")
        try:
            answer = await places.wait_for(
                root, partial(_slack_answer, sent=sent, expected=expected), within=ANSWER_DEADLINE
            )
        except TimeoutError:
            return answers, TURNS - turn
        answer.acknowledged = acknowledged
        answers.append(answer)
    return answers, 0


async def bench_slack(conversations: int, profile: Path | None, shape: str = "own threads") -> Run:
    """`own threads`: a user and a thread each; `one thread`: a user each in one thread; `one
    user`: one user in a thread per conversation at once."""
    peer = SlackPeer()
    await peer.start()
    model = await streaming_model().start()
    measured = Measured()
    settings = {
        "SLACK_BOT_TOKEN": peer.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PARLEY_SLACK_API_URL": peer.api_url,
        "PARLEY_SLACK_MODE": "http",
        "PARLEY_SLACK_EDIT_INTERVAL": str(EDIT_INTERVAL),
    }
    events = SlackEvents()
    try:
        floor = await model_alone(model, conversations)
        async with (
            parley("slack", model, settings) as running,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
            Places(peer.calls, partial(_thread_of, peer)).filing() as places,
        ):
            sender = SlackSender(
                f"http://127.0.0.1:{running.port}{EVENTS_PATH}", SIGNING_SECRET, session
            )
            root = None
            if shape == "one thread":  # opened before the clock starts, as a team's thread is
                opening = events.mention("c99t0: a thread for all of us")
                await sender.event(opening)
                root = opening["ts"]
                expected = answer_to("c99t0")
                await places.wait_for(
                    root, partial(_slack_answer, sent=0.0, expected=expected), ANSWER_DEADLINE
                )
            user = "U0BENCHONE" if shape == "one user" else None
            async with measured.timing(running, profile):
                results = await asyncio.gather(
                    *(
                        _slack_conversation(events, sender, places, n, user=user, root=root)
                        for n in range(conversations)
                    )
                )
    finally:
        await peer.stop()
        await model.stop()
    history = [
        c for c in peer.calls if c.method in {"conversations.replies", "conversations.history"}
    ]
    label = {
        "own threads": "Slack (a thread each)",
        "one thread": "Slack (a user each in one thread)",
        "one user": "Slack (one user, a thread each at once)",
    }[shape]
    return Run.of(label, measured, floor, results, len(history), "placeholder")


BENCHES: dict[str, Callable[[int, Path | None], Awaitable[Run]]] = {
    "discord": bench_discord,
    "discord-chains": partial(bench_discord, shape="chains"),
    "discord-shared": partial(bench_discord, shape="shared"),
    "slack": bench_slack,
    "slack-thread": partial(bench_slack, shape="one thread"),
    "slack-threads": partial(bench_slack, shape="one user"),
}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=list(BENCHES), action="append")
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--profile", type=Path, help="a directory for py-spy's samples")
    args = parser.parse_args()
    chosen = args.case or list(BENCHES)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (shared machine)")
    for index, name in enumerate(chosen):
        if index:
            print()
        profile = args.profile / f"{name}.txt" if args.profile is not None else None
        print(report(await BENCHES[name](args.conversations, profile)), flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
