"""Logging: text or JSON lines, each carrying the turn's conversation and event, secrets masked."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable

from bot.config import MASK

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "conversation", default=None
)
_event: contextvars.ContextVar[str | None] = contextvars.ContextVar("event", default=None)

# Parley's own loggers follow PARLEY_LOG_LEVEL; every other library's stays at INFO or above,
# because at DEBUG they print interaction tokens and response_urls. TRACE opens them all.
PARLEY_LOGGERS = ("bot", "adapters")
# These log every request even at INFO: quiet below WARNING unless tracing. Doors add their
# platform libraries' loggers (AdapterPlugin.chatty_loggers).
CHATTY_LOGGERS = ("httpx", "httpx2", "openai", "aiohttp.access")
TRACE = "TRACE"
# Shorter "secrets" (a test password like "pw") would mask ordinary words all over the log.
MIN_SECRET_LENGTH = 6


class bind_turn:
    """Tag every log line written inside with this conversation key and event id (a class rather
    than a generator, as every turn enters one)."""

    __slots__ = ("_tokens", "_values")

    def __init__(self, conversation: str, event_id: str) -> None:
        self._values = (conversation, event_id)

    def __enter__(self) -> None:
        conversation, event_id = self._values
        self._tokens = (_conversation.set(conversation), _event.set(event_id))

    def __exit__(self, *exc_info: object) -> None:
        _conversation.reset(self._tokens[0])
        _event.reset(self._tokens[1])


class _TurnFilter(logging.Filter):
    """Adds the turn's tags and masks every configured secret in the message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(
            (secret for secret in set(secrets) if len(secret) >= MIN_SECRET_LENGTH),
            key=len,
            reverse=True,
        )
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        record.event_id = _event.get()
        if self._secrets:
            record.msg, record.args = self._mask(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._mask(record.exc_text)
            if record.stack_info:
                record.stack_info = self._mask(record.stack_info)
        return True

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


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
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        conversation = getattr(record, "conversation", None)
        event_id = getattr(record, "event_id", None)
        return f"{line} [{conversation} {event_id}]" if conversation else line


def configure_logging(
    level: str, log_format: str, secrets: Iterable[str] = (), chatty: Iterable[str] = ()
) -> None:
    """Send logs to stderr in the chosen format, secrets masked; libraries stay at INFO or above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TurnFilter(secrets))
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    tracing = level == TRACE
    own = logging.DEBUG if tracing else logging.getLevelNamesMapping()[level]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if tracing else max(own, logging.INFO))
    for name in PARLEY_LOGGERS:
        logging.getLogger(name).setLevel(own)
    for name in (*CHATTY_LOGGERS, *chatty):
        logging.getLogger(name).setLevel(logging.DEBUG if tracing else max(own, logging.WARNING))
