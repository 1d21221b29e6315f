"""Settings from the environment and an optional parley.toml, validated, secrets masked."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from bot.adapter import door_settings_models
from bot.catchup import CatchUpRefused, parse_since
from bot.llm.plugins import AUTO, backend_names, backend_settings_models
from bot.prices import ModelPrice
from bot.settings_base import (
    MASK,
    ConfigError,
    ExpandedPath,
    SecretUrl,
    SettingsModel,
    StrList,
    expand_path,
    mask_url,
    secret,
)

# The masking helpers live with the base model; importing them from here keeps working.
__all__ = [
    "CONFIG_ENV_NAME",
    "MASK",
    "SQLITE_PREFIX",
    "ConfigError",
    "SecretUrl",
    "Settings",
    "env_name",
    "expand_path",
    "known_env_names",
    "load_settings",
    "mask_url",
    "plugin_settings_models",
    "secret_env_names",
    "split_values",
]

CONFIG_ENV_NAME = "PARLEY_CONFIG"
SQLITE_PREFIX = "sqlite:///"

Plugin = TypeVar("Plugin", bound=SettingsModel)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "parley"


class Settings(SettingsModel):
    """What every door and backend shares. Env vars use the PARLEY_ prefix; secrets use their
    usual names.

    Each plugin's own settings (a door's or a backend's model, `plugin.settings_model`) are read
    beside these and reached with `settings.of(Model)`.
    """

    model_config = SettingsConfigDict(env_prefix="PARLEY_")
    _plugins: dict[type[SettingsModel], SettingsModel] = PrivateAttr(default_factory=dict)

    # Model and conversation
    backend: str = AUTO
    """An installed backend (`parley.backends`), or auto."""
    model: str = ""
    models_allowed: StrList = Field(default_factory=list)
    system_prompt: str = (
        "You are Parley, a helpful assistant in a team chat. Several people may talk to you; "
        "each user message starts with its author's name. Answer concisely in Markdown."
    )
    max_tokens: int = Field(1024, ge=1, le=1_000_000)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    context_window: int | None = Field(None, ge=256)
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
    admin_token: SecretStr | None = secret("PARLEY_ADMIN_TOKEN")
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

    @field_validator("backend")
    @classmethod
    def _installed_backend(cls, value: str) -> str:
        """Any installed backend's name, or auto, in any case (PARLEY_BACKEND=Local)."""
        if value.lower() == AUTO:  # the default, valid without asking what is installed
            return AUTO
        choices = [AUTO, *backend_names()]
        for choice in choices:
            if choice.lower() == value.lower():
                return choice
        *others, last = [f"'{choice}'" for choice in choices]
        listed = f"{', '.join(others)} or {last}" if others else last
        raise ValueError(f"Input should be {listed}")

    @field_validator("summary_since")
    @classmethod
    def _since(cls, value: str) -> str:
        try:
            parse_since(value, 0.0, "24h")
        except CatchUpRefused:
            raise ValueError("must be like 2h, 3d, 1w, yesterday or all") from None
        return value

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

    def of(self, model: type[Plugin]) -> Plugin:
        """A plugin's own settings, as loaded beside these (`runtime.settings.of(MyDoorSettings)`).

        Settings built directly (tests) without them give the plugin its defaults and the
        environment."""
        for plugin in self._plugins.values():
            if isinstance(plugin, model):
                return plugin
        built = model()
        self._plugins[model] = built
        return built

    def with_plugins(self, *plugins: SettingsModel) -> Settings:
        """A copy holding these plugins' settings (in place of any of the same model)."""
        copy = self.model_copy()
        copy._plugins = {**self._plugins}
        for plugin in plugins:  # a model read with the file's values is a subclass of it
            for model in [
                m for m in copy._plugins if isinstance(plugin, m) or issubclass(m, type(plugin))
            ]:
                del copy._plugins[model]
            copy._plugins[type(plugin)] = plugin
        return copy

    def secret_values(self) -> set[str]:
        """Every credential these settings and the plugins' hold, for the log filter."""
        found = super().secret_values()
        for plugin in self._plugins.values():
            found |= plugin.secret_values()
        return found


def env_name(field: str) -> str:
    """The environment variable that sets a core field."""
    return Settings.env_name(field)


def plugin_settings_models() -> dict[str, type[SettingsModel]]:
    """Each installed backend's and door's settings model, by its name (its config file table)."""
    backends, doors = backend_settings_models(), door_settings_models()
    if shared := sorted(backends.keys() & doors.keys()):
        raise ConfigError(
            f"a backend and a door are both named {shared[0]}, so the config file's "
            f"[{shared[0]}] table would be ambiguous: uninstall one of them"
        )
    return backends | doors


def _every_model(models: Mapping[str, type[SettingsModel]] | None) -> list[type[SettingsModel]]:
    return [Settings, *(plugin_settings_models() if models is None else models).values()]


def known_env_names(models: Mapping[str, type[SettingsModel]] | None = None) -> set[str]:
    """Every variable Parley reads: the core's, each installed plugin's, and PARLEY_CONFIG."""
    found = {name for model in _every_model(models) for name in model.env_names().values()}
    return found | {CONFIG_ENV_NAME}


def secret_env_names(models: Mapping[str, type[SettingsModel]] | None = None) -> set[str]:
    """The variables that hold secrets, the core's and each installed plugin's."""
    return {name for model in _every_model(models) for name in model.secret_fields().values()}


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Read the core's and every installed plugin's settings from the environment and the
    config file; raise ConfigError (one line) when anything is invalid."""
    models = plugin_settings_models()
    _refuse_unknown_variables(models)
    path = config_file or os.environ.get(CONFIG_ENV_NAME)
    core, sections = split_values(_read_file(path) if path else {}, models)
    _refuse_secrets(Settings, core, "")
    for name, values in sections.items():
        _refuse_secrets(models[name], values, name)
    problems: list[str] = []
    plugins = [_build(model, sections[name], name, problems) for name, model in models.items()]
    settings = _build(Settings, core, "", problems, [*models, *_flat_keys(models)])
    if problems or settings is None:  # every bad value at once, the plugins' before the core's
        raise ConfigError("; ".join(problems))
    return settings.with_plugins(*filter(None, plugins))


def _read_file(given: str | Path) -> dict[str, Any]:
    try:
        path = expand_path(given)
    except ValueError as error:
        raise ConfigError(
            f"config file {given}: {error}; fix --config or {CONFIG_ENV_NAME}"
        ) from None
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist: fix --config or {CONFIG_ENV_NAME}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path}: {error}") from None


def split_values(
    values: Mapping[str, Any], models: Mapping[str, type[SettingsModel]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The core's values, and each plugin's by field: its `[NAME]` table, or flat keys spelt as
    its variables without PARLEY_ (`NAME_FIELD = ...`, as the example config writes them)."""
    flat = _flat_keys(models)
    core: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in models}
    for key, value in values.items():
        if key in models and isinstance(value, dict):
            sections[key].update(value)
        elif key in flat:
            name, field = flat[key]
            sections[name][field] = value
        else:
            core[key] = value
    return core, sections


def _flat_keys(models: Mapping[str, type[SettingsModel]]) -> dict[str, tuple[str, str]]:
    """Each plugin field's flat config file key, with the plugin's name and the field."""
    return {
        model.env_name(field).removeprefix("PARLEY_").lower(): (name, field)
        for name, model in models.items()
        for field in model.model_fields
    }


def _refuse_secrets(model: type[SettingsModel], values: Mapping[str, Any], section: str) -> None:
    """The config file may not hold secrets: they belong in the environment."""
    for field, variable in model.secret_fields().items():
        if field in values or variable in values:
            where = f"[{section}] {field}" if section else field
            raise ConfigError(
                f"{where} in the config file: secrets are read only from the environment; "
                f"remove it and set {variable} instead"
            )


def _build(
    model: type[Plugin],
    file_values: dict[str, Any],
    section: str,
    problems: list[str],
    other_keys: Sequence[str] = (),
) -> Plugin | None:
    """The model read from the environment over `file_values`, or None with its problems added
    to `problems`; `other_keys` are the file's keys that belong elsewhere, offered when a key
    is misspelt."""
    try:
        return model.with_file_values(file_values)()
    except ValidationError as error:
        problems.append(_describe(error, model, section, other_keys))
        return None


def _refuse_unknown_variables(models: Mapping[str, type[SettingsModel]]) -> None:
    """A misspelt PARLEY_* variable would silently switch a setting off: name it instead."""
    known = known_env_names(models)
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


def _describe(
    error: ValidationError, model: type[SettingsModel], section: str, other_keys: Sequence[str]
) -> str:
    aliased = {variable: field for field, variable in model.env_names().items()}
    where = f" in [{section}] of the config file" if section else " in the config file"
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        if item["type"] == "extra_forbidden":  # only the config file can add keys
            problems.append(_unknown(name, sorted([*model.model_fields, *other_keys]), where))
            continue
        field = aliased.get(name.upper(), name)
        given = item.get("input")
        hidden = field in model.secret_fields() or isinstance(given, dict)
        shown = "" if hidden else f" (got {mask_url(given) if isinstance(given, str) else given!r})"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(
            f"{model.env_name(field)}: {message}{shown}; fix it in the environment or config"
        )
    return "; ".join(problems)
