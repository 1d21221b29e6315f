"""Logging: text or JSON lines, each carrying the turn's conversation and event, secrets masked."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "conversation", default=None
)
_event: contextvars.ContextVar[str | None] = contextvars.ContextVar("event", default=None)

MASK = "**********"


@contextmanager
def bind_turn(conversation: str, event_id: str) -> Iterator[None]:
    """Tag every log line written inside with this conversation key and event id."""
    tokens = (_conversation.set(conversation), _event.set(event_id))
    try:
        yield
    finally:
        _conversation.reset(tokens[0])
        _event.reset(tokens[1])


class _TurnFilter(logging.Filter):
    """Adds the turn's tags and masks any configured secret that slipped into a message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        record.event_id = _event.get()
        if self._secrets:
            message = record.getMessage()
            if any(secret in message for secret in self._secrets):
                for secret in self._secrets:
                    message = message.replace(secret, MASK)
                record.msg, record.args = message, None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("conversation", "event_id"):
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        conversation = getattr(record, "conversation", None)
        event_id = getattr(record, "event_id", None)
        return f"{line} [{conversation} {event_id}]" if conversation else line


def configure_logging(level: str, log_format: str, secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr in the chosen format; quiet the chatty libraries below WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TurnFilter(secrets))
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level != "DEBUG":
        for noisy in ("httpx", "httpx2", "openai", "discord", "slack_bolt", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
