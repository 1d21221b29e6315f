"""What the scale tests share: scripted conversations, duplicated delivery, replica processes."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
Event = dict[str, str]


def script(conversations: int, turns: int) -> dict[str, list[Event]]:
    """Each conversation's events in the order its users sent them; every text is unique."""
    return {
        name: [
            {
                "conversation": name,
                "event_id": f"{name}-t{turn}",
                "text": f"{name} turn {turn}",
                "user": f"user{index % 7}",
            }
            for turn in range(turns)
        ]
        for index, name in ((index, f"c{index:02d}") for index in range(conversations))
    }


def delivery(conversations: dict[str, list[Event]], rng: random.Random) -> list[Event]:
    """Every event delivered twice, the redelivery somewhere later in its conversation's stream,
    and the conversations interleaved at random: what a platform's at-least-once delivery does."""
    streams = []
    for events in conversations.values():
        stream = list(events)
        for event in events:
            first = stream.index(event)
            stream.insert(rng.randint(first + 1, len(stream)), event)
        streams.append(stream)
    merged = []
    while streams:
        stream = rng.choice(streams)
        merged.append(stream.pop(0))
        if not stream:
            streams.remove(stream)
    return merged


def write_events(path: Path, events: list[Event]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path


def read_answers(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Replica:
    """A replica process (tests/scale/replica.py) started with asyncio, so the loop keeps serving
    the peer the replica talks to."""

    name: str
    process: asyncio.subprocess.Process
    answers: Path

    @classmethod
    async def start(
        cls,
        name: str,
        *,
        database_url: str,
        openai_base_url: str,
        events: Path,
        answers: Path,
        request_timeout: float = 30.0,
    ) -> Replica:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.scale.replica",
            "--replica",
            name,
            "--database-url",
            database_url,
            "--openai-base-url",
            openai_base_url,
            "--events",
            str(events),
            "--answers",
            str(answers),
            "--request-timeout",
            str(request_timeout),
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(name, process, answers)

    async def finish(self) -> str:
        """Wait (a minute at most) for the replica to exit by itself; its stderr."""
        async with asyncio.timeout(60):
            _, stderr = await self.process.communicate()
        text = stderr.decode(errors="replace")
        assert self.process.returncode == 0, f"replica {self.name} failed:\n{text}"
        return text

    async def kill(self) -> None:
        self.process.kill()
        await self.process.communicate()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
