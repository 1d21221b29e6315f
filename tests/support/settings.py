"""Settings for a test in one call: each plugin's settings by their flat names (discord_guilds=...,
openai_base_url=..., local_dtype=...), as the config file writes them."""

from __future__ import annotations

from typing import Any

from bot.config import Settings, plugin_settings_models, split_values


def make_settings(**values: Any) -> Settings:
    """The core's settings and each door's and backend's, named as the config file's flat keys
    (the variables without PARLEY_: `discord_guilds`, `slack_bot_token`, `openai_base_url`);
    secrets are allowed here."""
    models = plugin_settings_models()
    core, sections = split_values(values, models)
    plugins = [models[name](**given) for name, given in sections.items() if given]
    return Settings(**core).with_plugins(*plugins)


def changed(settings: Settings, **values: Any) -> Settings:
    """A copy with these settings changed, named as for make_settings (`request_timeout=0.3`);
    like `model_copy(update=...)`, the values are not validated."""
    models = plugin_settings_models()
    core, sections = split_values(values, models)
    plugins = [
        settings.of(models[name]).model_copy(update=given)
        for name, given in sections.items()
        if given
    ]
    return settings.model_copy(update=core).with_plugins(*plugins)
