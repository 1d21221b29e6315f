"""Logs: libraries stay at INFO unless tracing; secrets are masked in messages and tracebacks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import MASK, Settings
from bot.logs import configure_logging

LIBRARIES = (
    "discord.http",
    "slack_bolt.App",
    "slack_sdk.web",
    "aiohttp.client",
    "asyncpg",
    "urllib3",
)
SECRET = "sk-key-in-an-exception"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back for the next test."""
    root = logging.getLogger()
    names = ["bot", "adapters", *LIBRARIES, "httpx", "discord", "slack_bolt", "slack_sdk", "openai"]
    levels = {name: logging.getLogger(name).level for name in names}
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def test_at_debug_parley_logs_debug_and_libraries_stay_at_info():
    configure_logging("DEBUG", "text")
    assert logging.getLogger("bot.dialogue").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("adapters.slack.app").isEnabledFor(logging.DEBUG)
    for name in LIBRARIES:
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name


def test_trace_turns_on_debug_everywhere():
    configure_logging("TRACE", "text")
    for name in ("bot.dialogue", "httpx", "discord.gateway", *LIBRARIES):
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG), name


def test_a_quieter_level_quiets_parley_and_libraries_alike():
    configure_logging("WARNING", "text")
    for name in ("bot.dialogue", *LIBRARIES):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name


def fail_with_the_secret() -> None:
    raise RuntimeError(f"the server refused {SECRET}")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_are_masked_in_messages_arguments_and_tracebacks(capsys, log_format):
    settings = Settings(database_url="postgresql://parley:db-password-1@db/parley")
    configure_logging("INFO", log_format, [SECRET, *settings.secret_values()])
    log = logging.getLogger("bot.test")
    log.info("connecting to %s", settings.effective_database_url)
    log.info(f"key {SECRET} inline")
    try:
        fail_with_the_secret()
    except RuntimeError:
        log.exception("the call failed")
    output = capsys.readouterr().err
    assert SECRET not in output and "db-password-1" not in output
    assert output.count(MASK) == 3  # the password, the inline key, the exception message
    assert "Traceback" in output and "fail_with_the_secret" in output
    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines()]
        assert len(lines) == 3 and MASK in lines[2]["exception"]


def test_short_strings_are_not_treated_as_secrets(capsys):
    configure_logging("INFO", "text", ["pw", "abc"])
    logging.getLogger("bot.test").info("a pwabc line")
    assert "a pwabc line" in capsys.readouterr().err
