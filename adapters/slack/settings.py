"""The Slack door's own settings: PARLEY_SLACK_*, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and
SLACK_APP_TOKEN."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.settings_base import SettingsModel, StrList, Url, secret


class SlackSettings(SettingsModel):
    """`[slack]` in the config file; PARLEY_SLACK_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_SLACK_")

    bot_token: SecretStr | None = secret("SLACK_BOT_TOKEN")
    """Slack bot token `xoxb-...` (secret)."""
    signing_secret: SecretStr | None = secret("SLACK_SIGNING_SECRET")
    """Slack signing secret, for HTTP mode (secret)."""
    app_token: SecretStr | None = secret("SLACK_APP_TOKEN")
    """Slack app-level token `xapp-...`, for Socket Mode (secret)."""
    mode: Literal["auto", "socket", "http"] = "auto"
    """`socket`, `http`, or `auto` (socket when `SLACK_APP_TOKEN` is set)."""
    api_url: Url = "https://slack.com/api/"
    """Slack Web API base URL (GovSlack, proxies, tests)."""
    edit_interval: float = Field(1.0, ge=0.2)
    """Seconds between updates of a streamed answer."""
    channel_edits: int = Field(5, ge=1)
    """Posts, updates and stream appends per 5 s in one channel, shared by every answer there:
    interim updates are skipped when the channel is busy, final texts never wait (Slack posts
    about one message a second per channel)."""
    ask_command: str = "/ask"
    """The slash command that asks a question."""
    command: str = "/parley"
    """The slash command for `reset`, `stop`, `system`, `model`, `help`, `forget`, `stats`,
    `usage`."""
    command_visibility: Literal["in_channel", "ephemeral"] = "in_channel"
    """`ephemeral` shows slash-command answers to the asker only."""
    follow_threads: bool = True
    """Answer every message in a thread Parley already answered in, without a mention."""
    streaming: bool = True
    """Use Slack's streaming API where it applies (else post, then update)."""
    teams: StrList = Field(default_factory=list)
    """Workspaces Parley answers in (empty: all)."""
    channels: StrList = Field(default_factory=list)
    """Channels Parley answers in (empty: all)."""
    users: StrList = Field(default_factory=list)
    """Users allowed to talk to Parley (empty: all)."""
    admins: StrList = Field(default_factory=list)
    """Users who may use `system` and `model`."""
    surface: Literal["agent", "assistant"] = "agent"
    """`agent`: every top-level DM is its own thread and conversation (the app's agent view);
    `assistant`: one running DM conversation, for apps still on the legacy assistant view."""
