"""One Parley replica for the scale tests: the real runtime, events in, answers out, as JSON lines.

Run from the repository root:
    python -m tests.scale.replica --replica r1 --database-url URL --openai-base-url URL \
        --events events.jsonl --answers answers.jsonl

Each event line is {"conversation", "event_id", "text", "user"}; every event is submitted in file
order, exactly as an adapter would, and each finished answer becomes one line of the answers file
(flushed at once, so a process killed mid-run leaves whole lines behind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from bot.types import Author, ConversationKey, Incoming, Kind
from bot.wiring import open_runtime
from tests.support.settings import make_settings

PLATFORM = "scale"
SPACE = "space"


def conversation_key(conversation: str) -> ConversationKey:
    return ConversationKey(PLATFORM, SPACE, conversation)


def incoming(event: dict[str, Any]) -> Incoming:
    return Incoming(
        key=conversation_key(event["conversation"]),
        author=Author(event["user"], event["user"].title()),
        text=event["text"],
        event_id=event["event_id"],
        kind=Kind.MENTION,
    )


class AnswerSink:
    """Writes the end of one answer (its final text or its failure line) as a JSON line."""

    max_len = 2000
    min_edit_interval = 0.05

    def __init__(self, replica: str, event: dict[str, Any], out: IO[str]) -> None:
        self._replica = replica
        self._event = event
        self._out = out

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        self._write({"final": text})

    async def fail(self, message: str) -> None:
        self._write({"failure": message})

    def _write(self, outcome: dict[str, str]) -> None:
        line = {
            "replica": self._replica,
            "event_id": self._event["event_id"],
            "conversation": self._event["conversation"],
            "finished_at": time.time(),
            **outcome,
        }
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()


def read_events(source: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def serve(args: argparse.Namespace, events: list[dict[str, Any]], out: IO[str]) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = make_settings(
            data_dir=Path(data_dir),
            database_url=args.database_url,
            database_pool_size=4,  # three replicas at once stay within the suite's budget
            openai_base_url=args.openai_base_url,
            model="peer-model",
            max_retries=0,
            request_timeout=args.request_timeout,
            user_turns_per_minute=None,  # one test user sends hundreds of turns a minute
            conversation_turns_per_minute=None,
            breaker_failures=1000,
        )
        async with open_runtime(settings) as runtime:
            tasks = [
                runtime.dialogue.submit(incoming(event), AnswerSink(args.replica, event, out))
                for event in events
            ]
            await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replica", required=True, help="a name for this process's answers")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--openai-base-url", required=True)
    parser.add_argument("--events", required=True, help="a JSON-lines file, or - for stdin")
    parser.add_argument("--answers", required=True, help="the JSON-lines file answers go to")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    events = read_events(args.events)
    with Path(args.answers).open("a", encoding="utf-8") as out:
        asyncio.run(serve(args, events, out))


if __name__ == "__main__":
    main()
