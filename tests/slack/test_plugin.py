"""The plugin stays light, picks its mode from the settings, and its manifest matches the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adapters.slack import adapter
from adapters.slack.serve import choose_mode
from bot.config import ConfigError, Settings

MANIFEST = Path(__file__).parents[2] / "deploy" / "slack-manifest.yaml"


def test_loading_the_plugin_imports_no_slack_library() -> None:
    probe = "import sys, adapters.slack; print(any(m.startswith('slack') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert result.stdout.strip() == "False"


def test_mode_follows_the_tokens() -> None:
    assert not adapter.is_configured(Settings())
    assert choose_mode(Settings(slack_bot_token="x", slack_app_token="xapp")) == "socket"
    assert choose_mode(Settings(slack_bot_token="x", slack_signing_secret="s")) == "http"
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        choose_mode(Settings(slack_bot_token="x"))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        choose_mode(Settings(slack_bot_token="x", slack_mode="socket"))


def test_manifest_declares_the_commands_and_events_parley_handles() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    defaults = Settings()
    commands = {item["command"] for item in manifest["features"]["slash_commands"]}
    assert commands == {defaults.slack_ask_command, defaults.slack_command}
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels", "assistant_thread_started"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "chat:write",
        "commands",
        "app_mentions:read",
        "im:history",
        "assistant:write",
    } <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True
