"""The Discord and Slack doors under load: 10 conversations x 3 turns against the test peers.

The real discord.py client and the real bolt app run against the protocol peers of tests/peers on
127.0.0.1, with a model that streams each answer over about 3 s. Ten questioners run
concurrently, and one questioner's turns follow each other: the next message is sent as soon as
the answer's whole text is visible. Times are measured at the peer: from the moment a user's
event is sent to the first request that shows answer text, and to the request that makes the
whole answer visible. The cases:

  discord          10 users, each in a channel of their own
  discord-chains   one user, 10 reply chains in one channel (each turn replies to the last answer)
  discord-shared   10 users mentioning at once in one channel-mode channel
  slack            10 users, each in a thread of their own
  slack-thread     10 users in one thread
  slack-threads    one user in 10 threads at once

Run: python -m bench.platforms [--case NAME ...]   (about 10 s a case; all by default)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from adapters.slack.sink import THINKING
from bot.types import ChatMessage
from tests.discord.conftest import discord_settings, serving
from tests.peers.discord_peer import DiscordPeer, PeerUser
from tests.peers.slack_peer import Call, SlackPeer
from tests.slack.harness import Slack, running_slack
from tests.support.backends import ScriptedBackend

CONVERSATIONS = 10
TURNS = 3
MODEL_SECONDS = 3.0
MODEL_CHUNKS = 30
EDIT_INTERVAL = 1.0
"""Both platforms' default (PARLEY_DISCORD_EDIT_INTERVAL, PARLEY_SLACK_EDIT_INTERVAL)."""
ANSWER_DEADLINE = 15.0
"""A turn not answered by then counts as lost; a correct door answers in about 3 s."""
FILLER = "lorem ipsum dolor sit amet " * 10
_TAG = re.compile(r"\bc\d+t\d+\b")


def tag(conversation: int, turn: int) -> str:
    """What identifies one turn in the user's text and in the model's answer."""
    return f"c{conversation}t{turn}"


def answer_to(tag_: str) -> str:
    return f"reply {tag_}: {FILLER}".strip()


def _scripted_answer(messages: Sequence[ChatMessage]) -> str:
    found = _TAG.search(messages[-1].content)
    return answer_to(found.group(0) if found else "unknown")


def streaming_model() -> ScriptedBackend:
    """A model that streams each answer in MODEL_CHUNKS pieces over about MODEL_SECONDS."""
    return ScriptedBackend(_scripted_answer, chunks=MODEL_CHUNKS, duration=MODEL_SECONDS)


def gaps(times: Sequence[float]) -> list[float]:
    """Seconds between consecutive moments."""
    return [later - earlier for earlier, later in itertools.pairwise(times)]


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


@dataclass
class Run:
    platform: str
    wall: float
    answers: list[Answer]
    lost: int
    history_reads: int
    sign_of_life: str

    @classmethod
    def of(
        cls,
        platform: str,
        wall: float,
        results: Sequence[tuple[list[Answer], int]],
        history_reads: int,
        sign_of_life: str,
    ) -> Run:
        """A run from each conversation's (answers, turns lost)."""
        answers = [answer for conversation, _ in results for answer in conversation]
        lost = sum(lost for _, lost in results)
        return cls(platform, wall, answers, lost, history_reads, sign_of_life)


def _median_max(values: Sequence[float], unit: str = " s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.{digits}f}{unit}  max {max(values):.{digits}f}{unit}"
    )


def report(run: Run) -> str:
    """The run's figures, one labelled line each."""
    answers = run.answers
    edit_gaps = [gap for answer in answers for gap in answer.edit_gaps]
    signs = [a.sign_of_life for a in answers if a.sign_of_life is not None]
    acks = [a.acknowledged for a in answers if a.acknowledged is not None]
    lost = f" ({run.lost} lost: no answer within {ANSWER_DEADLINE:.0f} s)" if run.lost else ""
    lines = [
        f"{run.platform}: {CONVERSATIONS} conversations x {TURNS} turns, model streaming each "
        f"answer over {MODEL_SECONDS:.0f} s",
        f"  wall time            {run.wall:.2f} s   (target <= 10 s; the model alone takes 9.2 s)",
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
        f"  answers complete     {len(answers)}/{CONVERSATIONS * TURNS}{lost}",
        f"  history reads        {run.history_reads} (the store is the memory)",
    ]
    return "\n".join(lines)


# ----- Discord -------------------------------------------------------------------------------


def _discord_answer(peer: DiscordPeer, channel: int, sent: float, expected: str) -> Answer | None:
    """The turn's answer as the peer saw it, once its full text has been written. Only writes
    of this answer's text count: other answers may stream into the same channel."""
    prefix = f"/channels/{channel}/"
    writes = [
        r
        for r in peer.message_writes()
        if r.path.startswith(prefix)
        and r.at >= sent
        and (r.body or {}).get("content")
        and expected.startswith(r.body["content"])
    ]
    final = next((r for r in writes if r.body["content"] == expected), None)
    if final is None:
        return None
    first = next(r for r in writes if (r.body or {}).get("content"))
    # An edit without content is the feedback buttons going on, not the answer being shown.
    edits = [r for r in writes if r.method == "PATCH" and "content" in (r.body or {})]
    typing = [r for r in peer.calls("POST", prefix) if r.path.endswith("/typing") and r.at >= sent]
    return Answer(
        first_visible=first.at - sent,
        final=final.at - sent,
        edits=len(edits),
        edit_gaps=gaps([r.at for r in [first, *edits][:-1]]),
        sign_of_life=typing[0].at - sent if typing else None,
    )


async def _discord_conversation(
    peer: DiscordPeer, number: int, channel: int, user: PeerUser, *, chain: bool = False
) -> tuple[list[Answer], int]:
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
            answer = await peer.wait_for(
                lambda: _discord_answer(peer, channel, sent, expected),  # noqa: B023
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


async def bench_discord(shape: str = "own channels") -> Run:
    """`own channels`: a user and a channel per conversation; `chains`: one user's reply chains
    in one channel; `shared`: ten users in one channel-mode channel."""
    peer = DiscordPeer()
    shared = shape != "own channels"
    channels = [peer.add_channel(f"bench-{n}") for n in range(1 if shared else CONVERSATIONS)]
    users = [peer.add_member(f"User{n}") for n in range(1 if shape == "chains" else CONVERSATIONS)]
    await peer.start()
    mode = "channel" if shape == "shared" else "chain"
    try:
        with tempfile.TemporaryDirectory() as directory:
            settings = discord_settings(peer, Path(directory), discord_conversation=mode)
            async with serving(peer, settings, streaming_model()):
                started = time.monotonic()
                results = await asyncio.gather(
                    *(
                        _discord_conversation(
                            peer,
                            n,
                            channels[n % len(channels)],
                            users[n % len(users)],
                            chain=shape == "chains",
                        )
                        for n in range(CONVERSATIONS)
                    )
                )
                wall = time.monotonic() - started
    finally:
        await peer.close()
    history = [r for r in peer.calls("GET", "/channels/") if r.path.count("/") >= 3]
    label = {
        "own channels": "Discord (a channel each)",
        "chains": "Discord (one user, 10 reply chains in one channel)",
        "shared": "Discord (10 users in one channel-mode channel)",
    }[shape]
    return Run.of(label, wall, results, len(history), "typing indicator")


# ----- Slack ---------------------------------------------------------------------------------


def _in_thread(peer: SlackPeer, call: Call, root: str) -> bool:
    """Whether a Web API call writes an answer in the thread `root`."""
    if "thread_ts" in call.params:
        return call.params["thread_ts"] == root
    message = peer.messages.get((call.params.get("channel", ""), call.params.get("ts", "")))
    return message is not None and message.thread_ts == root


_TEXT_CALLS = {
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.postMessage",
    "chat.update",
}
_EDIT_CALLS = {"chat.appendStream", "chat.update"}


def _slack_answer(peer: SlackPeer, root: str, sent: float, expected: str) -> Answer | None:
    """Replays the thread's writes since `sent`, message by message (several answers may stream
    into one thread at once): what the user saw of this answer, and when."""
    shown: dict[str, str] = {}
    first = final = placeholder = None
    writes: list[Call] = []
    for call in list(peer.calls):
        if call.at < sent or call.method not in _TEXT_CALLS or not _in_thread(peer, call, root):
            continue
        if call.params.get("blocks"):  # the feedback buttons going on under a finished answer
            continue
        message = call.params.get("ts") or call.answer.get("ts") or ""
        piece = call.params.get("markdown_text") or call.params.get("text") or ""
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
    slack: Slack, number: int, *, user: str | None = None, root: str | None = None
) -> tuple[list[Answer], int]:
    """A thread of turns: started with a mention, or replies in the thread `root`."""
    loop = asyncio.get_running_loop()
    user = user or f"U0BENCH{number:02d}"
    answers: list[Answer] = []
    for turn in range(TURNS):
        text = f"{tag(number, turn)}: tell me more"
        if root is None:
            event = slack.mention(text)
            root = event["ts"]
        else:
            event = slack.reply(text, root)
        event["user"] = user
        expected = answer_to(tag(number, turn))
        sent = loop.time()
        status, _ = await slack.sender.event(event)
        acknowledged = loop.time() - sent
        if status != 200:
            raise RuntimeError(f"the app refused an event: HTTP {status}")
        thread = root
        try:
            await slack.peer.wait_for(
                lambda: _slack_answer(slack.peer, thread, sent, expected),  # noqa: B023
                within=ANSWER_DEADLINE,
            )
        except AssertionError:
            return answers, TURNS - turn
        answer = _slack_answer(slack.peer, thread, sent, expected)
        assert answer is not None  # the writes that made it visible stay recorded
        answer.acknowledged = acknowledged
        answers.append(answer)
    return answers, 0


async def bench_slack(shape: str = "own threads") -> Run:
    """`own threads`: a user and a thread each; `one thread`: ten users in one thread; `one
    user`: one user in ten threads at once."""
    with tempfile.TemporaryDirectory() as directory:
        async with running_slack(
            Path(directory), streaming_model(), slack_edit_interval=EDIT_INTERVAL
        ) as slack:
            root = None
            if shape == "one thread":  # opened before the clock starts, as a team's thread is
                opening = slack.mention("c99t0: a thread for all of us")
                await slack.sender.event(opening)
                root = opening["ts"]
                expected = answer_to("c99t0")
                await slack.peer.wait_for(
                    lambda: _slack_answer(slack.peer, root, 0.0, expected), within=ANSWER_DEADLINE
                )
            user = "U0BENCHONE" if shape == "one user" else None
            started = time.monotonic()
            results = await asyncio.gather(
                *(_slack_conversation(slack, n, user=user, root=root) for n in range(CONVERSATIONS))
            )
            wall = time.monotonic() - started
            history = [
                c
                for c in slack.peer.calls
                if c.method in {"conversations.replies", "conversations.history"}
            ]
    label = {
        "own threads": "Slack (a thread each)",
        "one thread": "Slack (10 users in one thread)",
        "one user": "Slack (one user in 10 threads at once)",
    }[shape]
    return Run.of(label, wall, results, len(history), "placeholder")


BENCHES: dict[str, Callable[[], Awaitable[Run]]] = {
    "discord": bench_discord,
    "discord-chains": partial(bench_discord, "chains"),
    "discord-shared": partial(bench_discord, "shared"),
    "slack": bench_slack,
    "slack-thread": partial(bench_slack, "one thread"),
    "slack-threads": partial(bench_slack, "one user"),
}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=list(BENCHES), action="append")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice will NOT be supported"
    chosen = args.case or list(BENCHES)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (shared machine)")
    for index, name in enumerate(chosen):
        if index:
            print()
        print(report(await BENCHES[name]()), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
