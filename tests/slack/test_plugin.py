"""The plugin stays light, picks its mode from the settings, and its manifest matches the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adapters.slack import adapter, manifest, translate
from adapters.slack.app import SlackDoor
from adapters.slack.manifest import Surface
from adapters.slack.serve import choose_mode
from adapters.slack.settings import SlackSettings
from bot.config import ConfigError, Settings
from tests.slack.harness import ALICE, CHANNEL, DM, running_slack
from tests.support.cli import run_parley

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
    assert choose_mode(SlackSettings(bot_token="x", app_token="xapp")) == "socket"
    assert choose_mode(SlackSettings(bot_token="x", signing_secret="s")) == "http"
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        choose_mode(SlackSettings(bot_token="x"))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        choose_mode(SlackSettings(bot_token="x", mode="socket"))


def test_the_deploy_manifest_is_agent_view_with_the_commands() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    defaults = SlackSettings()
    commands = {item["command"] for item in manifest["features"]["slash_commands"]}
    assert commands == {defaults.ask_command, defaults.command}
    assert manifest["features"]["agent_view"]["agent_description"]
    assert "assistant_view" not in manifest["features"]
    assert manifest["settings"]["socket_mode_enabled"] is True


OPENERS = {
    "agent": {"type": "app_home_opened", "user": ALICE, "channel": DM, "tab": "messages"},
    "assistant": {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": ALICE, "channel_id": DM, "thread_ts": "1.0", "context": {}},
        "event_ts": "1.0",
    },
}
"""What opens Parley's AI surface: the Messages tab, or an assistant thread."""


def _declared_events(door: SlackDoor) -> set[str]:
    """The manifest names of the events the door listens to (`message` for each channel type)."""
    kinds = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
    assert set(kinds) == translate.THREAD_CHANNEL_TYPES | {"im"}
    names = door.subscribed - {"message"}
    return names | (
        {f"message.{kind}" for kind in kinds.values()} if "message" in door.subscribed else set()
    )


@pytest.mark.parametrize("surface", ["agent", "assistant"])
async def test_the_manifest_declares_exactly_the_events_and_scopes_the_door_uses(
    tmp_path: Path, surface: Surface
) -> None:
    """Used = the events the door listens to, and the Web API methods it calls while serving a
    mention that joins a thread, a DM with a file, the AI surface opening, /ask and a summary."""
    async with running_slack(tmp_path, slack_surface=surface) as slack:
        root = slack.ts()
        slack.peer.threads[(CHANNEL, root)] = [{"user": "U0BOB", "text": "hi", "ts": root}]
        await slack.sender.event(slack.mention("join in", thread_ts=root))
        shared = slack.peer.share("F1", "notes.txt", "text/plain", b"hi")
        await slack.sender.event(slack.message("a DM", subtype="file_share", files=[shared]))
        await slack.sender.event(OPENERS[surface])
        await slack.sender.command(
            "/ask", "why", user=ALICE, channel=CHANNEL, response_url=slack.peer.response_url()
        )
        await slack.sender.command(
            "/parley",
            "summarize",
            user=ALICE,
            channel=CHANNEL,
            response_url=slack.peer.response_url(),
        )
        answers = slack.peer.messages.values
        await slack.peer.wait_for(
            lambda: sum(m.text.startswith("echo:") and not m.streaming for m in answers()) == 3
        )
        await slack.peer.wait_for(
            lambda: slack.peer.called("assistant.threads.setSuggestedPrompts")
        )
        await slack.peer.wait_for(lambda: slack.peer.responses)  # the summary
        called = {call.method for call in slack.peer.calls} - {"auth.test"}
        assert called <= set(manifest.METHOD_SCOPES), called - set(manifest.METHOD_SCOPES)
        events = _declared_events(slack.door)
        downloaded = bool(slack.peer.downloads)
    built = manifest.build_manifest(SlackSettings(), "socket", surface=surface)
    assert set(built["settings"]["event_subscriptions"]["bot_events"]) == events
    used = {manifest.METHOD_SCOPES[method] for method in called}
    used |= {manifest.EVENT_SCOPES[event] for event in events if event in manifest.EVENT_SCOPES}
    used.add("commands")  # the door registers /ask and /parley
    if downloaded:
        used.add(manifest.DOWNLOAD_SCOPE)
    if "conversations.info" in called:  # a summary asks whether its channel is private
        used |= manifest.PRIVATE_READ_SCOPES
    assert set(built["oauth_config"]["scopes"]["bot"]) == used


def test_the_legacy_assistant_view_stays_available() -> None:
    run = run_parley("slack", "manifest", "--legacy-assistant")
    assert run.returncode == 0, run.stderr
    legacy = yaml.safe_load(run.stdout)
    assert "agent_view" not in legacy["features"] and legacy["features"]["assistant_view"]
    events = legacy["settings"]["event_subscriptions"]["bot_events"]
    assert {"assistant_thread_started", "assistant_thread_context_changed"} <= set(events)
    assert not {"app_home_opened", "app_context_changed"} & set(events)
    # An operator who runs the legacy surface gets its manifest without the flag, too.
    assert run_parley("slack", "manifest", env={"PARLEY_SLACK_SURFACE": "assistant"}).stdout == (
        run.stdout
    )
