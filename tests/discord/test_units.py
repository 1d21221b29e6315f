"""The pure parts of the Discord door: mentions, files, the invite URL, and the light plugin."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.discord import adapter
from adapters.discord.invite import application_id_from_token, invite_url
from adapters.discord.translate import strip_mention
from bot.attachments import FileKind, file_kind
from bot.config import ConfigError
from tests.peers.discord_peer import fake_token
from tests.support.settings import make_settings

BOT = 1_100_000_000_000_000_001
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"<@{BOT}> hello", "hello"),
        (f"<@!{BOT}>   hello", "hello"),
        (f"hey <@{BOT}>, what is 2+2?", "hey , what is 2+2?"),
        (f"<@{BOT}>", ""),
        ("<@42> is not me", "<@42> is not me"),
        (f"<@{BOT}>\n```py\nx = 1\n```", "```py\nx = 1\n```"),
        (f"<@<@{BOT}>{BOT}> hi", "hi"),  # removing one mention must not leave another
    ],
)
def test_the_bots_mention_is_stripped(text: str, expected: str) -> None:
    assert strip_mention(text, BOT) == expected


@pytest.mark.parametrize(
    ("content_type", "filename", "kind"),
    [
        ("text/plain; charset=utf-8", "notes.txt", FileKind.TEXT),
        (None, "main.py", FileKind.TEXT),
        ("application/octet-stream", "config.YAML", FileKind.TEXT),
        ("image/png", "shot.png", FileKind.IMAGE),
        ("application/zip", "bundle.zip", FileKind.OTHER),
        (None, "binary", FileKind.OTHER),
    ],
)
def test_files_are_classified(content_type: str | None, filename: str, kind: FileKind) -> None:
    assert file_kind(content_type, filename) is kind


def test_the_application_id_comes_from_the_token_without_network() -> None:
    assert application_id_from_token(fake_token(BOT)) == BOT
    with pytest.raises(ValueError):
        application_id_from_token("not a token")


def test_the_invite_asks_for_exactly_what_the_bot_uses() -> None:
    view, send, history, public_threads, send_in_threads = 10, 11, 16, 35, 38
    expected = sum(1 << bit for bit in (view, send, history, public_threads, send_in_threads))
    url = invite_url(BOT)
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert f"client_id={BOT}" in url
    assert "scope=bot+applications.commands" in url
    assert f"permissions={expected}" in url


def test_invite_url_is_printed_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    adapter.add_arguments(parser)
    args = parser.parse_args(["invite-url"])
    settings = make_settings(data_dir=tmp_path, discord_token=fake_token(BOT))
    assert adapter.run_offline(settings, args) == 0
    assert f"client_id={BOT}" in capsys.readouterr().out
    assert adapter.run_offline(settings, parser.parse_args([])) is None
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        adapter.run_offline(make_settings(data_dir=tmp_path, discord_token=None), args)


def test_the_plugin_is_configured_by_the_token(tmp_path: Path) -> None:
    assert adapter.is_configured(make_settings(data_dir=tmp_path, discord_token=fake_token(BOT)))
    assert not adapter.is_configured(make_settings(data_dir=tmp_path, discord_token=None))


def test_loading_the_plugin_does_not_import_discord() -> None:
    code = "import sys, adapters.discord as d; d.adapter.summary; print('discord' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
