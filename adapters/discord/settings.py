"""The Discord door's own settings: PARLEY_DISCORD_* and DISCORD_TOKEN."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.settings_base import IntList, SettingsModel, StrList, Url, secret


class DiscordSettings(SettingsModel):
    """`[discord]` in the config file; PARLEY_DISCORD_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_DISCORD_")

    token: SecretStr | None = secret("DISCORD_TOKEN")
    """The Discord bot token (secret)."""
    api_url: Url = "https://discord.com/api/v10"
    """Discord REST base URL (proxies, Discord-compatible servers, tests)."""
    gateway_url: Url | None = None
    """Discord gateway URL (unset: Discord's)."""
    threads: Literal["off", "auto"] = "off"
    """`auto`: a mention in a channel opens a thread and the conversation continues there."""
    conversation: Literal["chain", "channel"] = "chain"
    """What a plain mention in a channel starts: `chain`, its own reply chain (replies continue
    it; [docs/discord.md](docs/discord.md#reply-chains)), or `channel`, the channel's one shared
    conversation."""
    follow_threads: bool = True
    """Answer every message in a user's thread once Parley was mentioned there; `false`: only
    mentions and replies."""
    channel_edits: int = Field(5, ge=1)
    """Messages and edits per 5 s in one channel, shared by every answer streaming there:
    interim edits are skipped when the channel is busy, final texts never wait (Discord's
    per-channel bucket)."""
    edit_interval: float = Field(1.0, ge=0.2)
    """Seconds between edits of a streamed answer."""
    link_previews: bool = False
    """`true` lets Discord fetch and preview links in answers (off: a model's URL is never
    fetched)."""
    guilds: StrList = Field(default_factory=list)
    """Servers Parley answers in (empty: all)."""
    channels: StrList = Field(default_factory=list)
    """Channels Parley answers in (a thread counts as its parent channel; empty: all)."""
    roles: StrList = Field(default_factory=list)
    """Roles allowed to talk to Parley (empty: all)."""
    users: StrList = Field(default_factory=list)
    """Users allowed to talk to Parley, also in DMs (empty: all)."""
    admin_roles: StrList = Field(default_factory=list)
    """Roles that may use `system` and `model` (members with Manage Server always may)."""
    admins: StrList = Field(default_factory=list)
    """Users who may use `system` and `model` anywhere, DMs included."""
    dms: Literal["members", "open", "off"] = "members"
    """Who may DM Parley: `members` (a user named in the users list, or a member, with an
    allowed role, of an allowed server), `open` (anyone the user allowlist lets in), `off`
    (no one)."""
    sync_guild: str | None = None
    """Sync slash commands to this one server only (instant, for development)."""
    shard_count: int | None = Field(None, ge=1)
    """Total shards when sharding over processes."""
    shard_ids: IntList = Field(default_factory=list)
    """The shards this process runs (empty: all)."""
