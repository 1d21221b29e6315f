"""Settings from the environment and an optional parley.toml, validated, secrets masked."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import unquote

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    Secret,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.catchup import CatchUpRefused, parse_since
from bot.prices import ModelPrice

SECRET_ENV_NAMES = {
    "openai_api_key": "OPENAI_API_KEY",
    "discord_token": "DISCORD_TOKEN",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "admin_token": "PARLEY_ADMIN_TOKEN",
}
PLAIN_ENV_NAMES = {"openai_base_url": "OPENAI_BASE_URL"}
CONFIG_ENV_NAME = "PARLEY_CONFIG"
URL_FIELDS = ("openai_base_url", "discord_api_url", "slack_api_url", "discord_gateway_url")
SQLITE_PREFIX = "sqlite:///"
MASK = "**********"

# A URL's password (user:password@host) and the values of key-like query parameters.
_URL_PASSWORD = re.compile(r"^(?:[^:/?#]+://)?[^/?#:@]*:(?P<secret>[^/?#]*)@")
_QUERY_VALUE = re.compile(r"[?&](?P<key>[^=&#]*)=(?P<secret>[^&#]*)")
_SECRET_KEY = re.compile(r"pass|key|token|secret|sig", re.IGNORECASE)
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_UNSET_VARIABLE = re.compile(r"\$\{?\w+\}?")


def _secret_spans(url: str) -> list[tuple[int, int]]:
    spans = []
    if password := _URL_PASSWORD.match(url):
        spans.append(password.span("secret"))
    spans += [m.span("secret") for m in _QUERY_VALUE.finditer(url) if _SECRET_KEY.search(m["key"])]
    return [(start, end) for start, end in spans if end > start]


def mask_url(url: str) -> str:
    """The URL or DSN with its password and key-like query values masked, for any message."""
    for start, end in sorted(_secret_spans(url), reverse=True):
        url = url[:start] + MASK + url[end:]
    return url


def url_secrets(url: str) -> set[str]:
    """The credentials inside a URL, as written and percent-decoded, for the log filter."""
    if not _HAS_SCHEME.match(url):
        return set()
    found = {url[start:end] for start, end in _secret_spans(url)}
    return found | {unquote(secret) for secret in found}


class SecretUrl(Secret[str]):
    """A URL that may carry a password: reprs and dumps show it masked; the store reads it whole."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())


def expand_path(value: str | Path) -> Path:
    """A path with ~ and $VARS expanded as a shell would; a variable that is not set is an error."""
    expanded = os.path.expandvars(os.path.expanduser(str(value)))
    if unset := _UNSET_VARIABLE.search(expanded):
        raise ValueError(f"{unset.group()} is not set")
    return Path(expanded)


ExpandedPath = Annotated[Path, BeforeValidator(expand_path)]
"""A file or folder setting: `~/parley` and `$STATE_DIRECTORY/parley` mean what they say."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
"""A list that the environment gives comma-separated: PARLEY_DISCORD_GUILDS=123,456."""
IntList = Annotated[list[int], NoDecode, BeforeValidator(_split_commas)]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "parley"


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (Union, UnionType):  # Literal[...] | None
        return tuple(choice for arg in get_args(annotation) for choice in _literal_choices(arg))
    return ()


def _secret(field: str) -> Any:
    return Field(None, validation_alias=AliasChoices(SECRET_ENV_NAMES[field]), repr=False)


class Settings(BaseSettings):
    """Every setting of Parley. Env vars use the PARLEY_ prefix; secrets use their usual names."""

    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
    )

    # Model and conversation
    backend: Literal["auto", "openai", "local"] = "auto"
    model: str = ""
    models_allowed: StrList = Field(default_factory=list)
    system_prompt: str = (
        "You are Parley, a helpful assistant in a team chat. Several people may talk to you; "
        "each user message starts with its author's name. Answer concisely in Markdown."
    )
    max_tokens: int = Field(1024, ge=1, le=1_000_000)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    context_window: int | None = Field(None, ge=256)
    name_style: Literal["auto", "field", "prefix"] = "auto"
    request_timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    max_attachment_bytes: int = Field(200_000, ge=0)
    # OpenAI takes images up to 20 MB; a downloaded image also travels as a data URL each turn.
    max_image_bytes: int = Field(5_000_000, ge=0)
    max_images: int = Field(4, ge=0)

    # Limits, shared by all replicas through the database
    # A team default: one person asking in ten threads at once, ten people in one channel.
    user_turns_per_minute: int | None = Field(60, ge=1)
    conversation_turns_per_minute: int | None = Field(120, ge=1)
    user_daily_tokens: int | None = Field(None, ge=1)
    space_daily_tokens: int | None = Field(None, ge=1)
    breaker_failures: int = Field(5, ge=1)
    breaker_cooldown_seconds: float = Field(30.0, gt=0)

    # Usage and cost: prices per model (USD per million tokens), money budgets per UTC day/month
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    user_daily_usd: float | None = Field(None, gt=0)
    user_monthly_usd: float | None = Field(None, gt=0)
    space_daily_usd: float | None = Field(None, gt=0)
    space_monthly_usd: float | None = Field(None, gt=0)
    budget_fallback_model: str | None = None
    budget_fallback_at: float = Field(0.8, gt=0, lt=1)
    admin_token: SecretStr | None = _secret("admin_token")
    moderation: Literal["off", "input", "output", "both"] = "off"
    moderation_model: str = "omni-moderation-latest"
    """Turns on /admin on the ops server (usage, cost, refusals; never message content)."""

    # Catching up: summaries of a channel or thread
    summary_max_messages: int = Field(1000, ge=1, le=100_000)
    summary_max_tokens: int = Field(200_000, ge=1000)
    """Tokens of history a summary reads at most; its model calls cost about twice this."""
    summary_since: str = "24h"
    """How far back `summarize` reads when no time is given: 2h, 3d, yesterday, all."""

    # Tools the model may call (docs/tools.md): MCP servers and the [tools] policy are tables in
    # the config file; header values name environment secrets ("env:NAME"), never hold them.
    mcp: dict[str, Any] = Field(default_factory=dict)
    tools: dict[str, Any] = Field(default_factory=dict)
    tool_max_steps: int = Field(5, ge=1, le=50)
    """Model calls per turn that may call tools; the next one has to answer."""
    tool_approval_timeout: float = Field(120.0, gt=0)
    tool_call_timeout: float = Field(30.0, gt=0)
    tool_max_result_bytes: int = Field(100_000, ge=1_000)

    # OpenAI and compatible servers
    openai_api_key: SecretStr | None = _secret("openai_api_key")
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))

    # Local transformers models
    local_device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    local_dtype: Literal["auto", "float32", "float16", "bfloat16", "int8"] = "auto"
    local_max_batch: int = Field(8, ge=1, le=256)
    local_batch_window_ms: float = Field(10.0, ge=0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, gt=0.0)
    seed: int | None = None

    # Storage
    data_dir: ExpandedPath = Field(default_factory=_default_data_dir)
    database_url: SecretUrl = SecretUrl("")
    database_pool_size: int = Field(10, ge=1, le=500)
    """PostgreSQL connections a process pools for queries (it holds 5 more: locks, liveness)."""
    retention_days: int | None = Field(None, ge=1)
    place_memory_days: int = Field(90, ge=1)
    """How long a channel's kept messages (memory of the place, opt-in) are kept."""
    window_cache_mb: float = Field(64, ge=0)
    """Memory for active conversations' windows, so a turn reads only what is new (0: none)."""

    # Operations
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    metrics_host: str | None = None
    metrics_port: int | None = Field(None, ge=0, le=65535)
    """With either set, /metrics listens there and no longer on the public HTTP port."""
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    max_queued_turns: int = Field(2000, ge=1)

    # Discord
    discord_token: SecretStr | None = _secret("discord_token")
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_threads: Literal["off", "auto"] = "off"
    discord_edit_interval: float = Field(1.0, ge=0.2)
    discord_guilds: StrList = Field(default_factory=list)
    discord_channels: StrList = Field(default_factory=list)
    discord_roles: StrList = Field(default_factory=list)
    discord_users: StrList = Field(default_factory=list)
    discord_admin_roles: StrList = Field(default_factory=list)
    discord_admins: StrList = Field(default_factory=list)
    discord_dms: Literal["members", "open", "off"] = "members"
    discord_sync_guild: str | None = None
    discord_shard_count: int | None = Field(None, ge=1)
    discord_shard_ids: IntList = Field(default_factory=list)
    discord_link_previews: bool = False
    """Let Discord fetch and preview the links in answers (off: a model's URL is never fetched)."""
    # Discord: many people in one place (reply chains, followed threads)
    discord_conversation: Literal["chain", "channel"] = "chain"
    """What a plain mention in a channel continues: its own new reply chain, or the channel's."""
    discord_follow_threads: bool = True
    """Answer every message in a user's thread once Parley was mentioned there."""
    discord_channel_edits: int = Field(5, ge=1)
    """Writes per 5 s in one channel shared by the answers there; interim edits yield to it."""

    # Slack
    slack_bot_token: SecretStr | None = _secret("slack_bot_token")
    slack_signing_secret: SecretStr | None = _secret("slack_signing_secret")
    slack_app_token: SecretStr | None = _secret("slack_app_token")
    slack_mode: Literal["auto", "socket", "http"] = "auto"
    slack_api_url: str = "https://slack.com/api/"
    slack_edit_interval: float = Field(1.0, ge=0.2)
    slack_channel_edits: int = Field(5, ge=1)
    """Writes per 5 s in one channel shared by the answers there; interim updates yield to it."""
    slack_ask_command: str = "/ask"
    slack_command: str = "/parley"
    slack_command_visibility: Literal["in_channel", "ephemeral"] = "in_channel"
    slack_follow_threads: bool = True
    slack_streaming: bool = True
    slack_teams: StrList = Field(default_factory=list)
    slack_channels: StrList = Field(default_factory=list)
    slack_users: StrList = Field(default_factory=list)
    slack_admins: StrList = Field(default_factory=list)
    # Slack's AI surface: the agent messaging experience, or the legacy assistant view
    slack_surface: Literal["agent", "assistant"] = "agent"
    """`agent`: every top-level DM starts its own thread; `assistant`: the legacy assistant view."""

    @field_validator("*", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        """A choice in any case (PARLEY_LOG_LEVEL=debug) becomes its canonical spelling."""
        if isinstance(value, str) and info.field_name:
            for choice in _literal_choices(cls.model_fields[info.field_name].annotation):
                if isinstance(choice, str) and choice.lower() == value.lower():
                    return choice
        return value

    @field_validator("summary_since")
    @classmethod
    def _since(cls, value: str) -> str:
        try:
            parse_since(value, 0.0, "24h")
        except CatchUpRefused:
            raise ValueError("must be like 2h, 3d, 1w, yesterday or all") from None
        return value

    @field_validator(*URL_FIELDS)
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must be a URL starting with http:// or https://")
        return value

    @field_serializer(*URL_FIELDS)
    def _masked_url(self, value: str | None) -> str | None:
        """A gateway URL may carry a key (?api-key=...): dumps show it masked."""
        return None if value is None else mask_url(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields for repr(settings), with any key inside a URL masked."""
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name in URL_FIELDS and value else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        if not value.startswith((SQLITE_PREFIX, "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if value.startswith(SQLITE_PREFIX) and value != SQLITE_PREFIX:
            return SQLITE_PREFIX + str(expand_path(value.removeprefix(SQLITE_PREFIX)))
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, password included: for the store only, never for a message."""
        return (
            self.database_url.get_secret_value() or f"{SQLITE_PREFIX}{self.data_dir / 'parley.db'}"
        )

    @property
    def database_setting(self) -> str:
        """The setting that points at the database, for error lines about it."""
        return "PARLEY_DATABASE_URL" if self.database_url.get_secret_value() else "PARLEY_DATA_DIR"

    def secret_values(self) -> set[str]:
        """Every credential these settings hold (tokens, URL passwords), for the log filter."""
        found: set[str] = set()
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.add(value.get_secret_value())
            elif isinstance(value, SecretUrl):
                found |= url_secrets(value.get_secret_value())
            elif isinstance(value, str):
                found |= url_secrets(value)
        return found

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(_SecretFreeToml(settings_cls, toml_file))
        return tuple(sources)


class _SecretFreeToml(TomlConfigSettingsSource):
    """parley.toml, which may not hold secrets: they belong in the environment."""

    def __call__(self) -> dict[str, Any]:
        for field, env_name in SECRET_ENV_NAMES.items():
            if field in self.toml_data or env_name in self.toml_data:
                raise ConfigError(
                    f"{field} in the config file: secrets are read only from the environment; "
                    f"remove it and set {env_name} instead"
                )
        return super().__call__()


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the setting and the fix."""


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    return SECRET_ENV_NAMES.get(field) or PLAIN_ENV_NAMES.get(field) or f"PARLEY_{field.upper()}"


_ALIASED_FIELDS = {alias: field for field, alias in {**SECRET_ENV_NAMES, **PLAIN_ENV_NAMES}.items()}


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and the config file; raise ConfigError when invalid."""
    _refuse_unknown_variables()
    path = config_file or os.environ.get(CONFIG_ENV_NAME)
    settings_cls: type[Settings] = Settings
    if path:
        try:
            path = expand_path(path)
        except ValueError as error:
            raise ConfigError(
                f"config file {path}: {error}; fix --config or {CONFIG_ENV_NAME}"
            ) from None
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist: fix --config or {CONFIG_ENV_NAME}"
            )

        class _FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=path)

        settings_cls = _FileSettings
    try:
        return settings_cls(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except ValueError as error:  # a malformed TOML file
        raise ConfigError(f"config file {path}: {error}") from None


def _refuse_unknown_variables() -> None:
    """A misspelt PARLEY_* variable would silently switch a setting off: name it instead."""
    known = {env_name(field) for field in Settings.model_fields} | {CONFIG_ENV_NAME}
    unknown = sorted(
        name.upper()
        for name in os.environ
        if name.upper().startswith("PARLEY_") and name.upper() not in known
    )
    if unknown:
        raise ConfigError("; ".join(_unknown(name, sorted(known), "") for name in unknown))


def _unknown(name: str, known: list[str], where: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}?" if close else "see the settings table in the README"
    return f"unknown setting {name}{where}: {hint}"


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        if item["type"] == "extra_forbidden":  # only the config file can add keys
            problems.append(_unknown(name, sorted(Settings.model_fields), " in the config file"))
            continue
        field = _ALIASED_FIELDS.get(name.upper(), name)
        given = item.get("input")
        shown = mask_url(given) if isinstance(given, str) else given
        hidden = field in SECRET_ENV_NAMES or isinstance(given, dict)
        shown = "" if hidden else f" (got {shown!r})"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{env_name(field)}: {message}{shown}; fix it in the environment or config")
    return "; ".join(problems)
