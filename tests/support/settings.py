"""Settings for a test in one call: door settings by their flat names (discord_guilds=...)."""

from __future__ import annotations

from typing import Any

from bot.adapter import door_settings_models
from bot.config import Settings, split_values


def make_settings(**values: Any) -> Settings:
    """The core's settings and each door's, named as the config file's flat keys (the variables
    without PARLEY_: `discord_guilds`, `slack_bot_token`); secrets are allowed here."""
    models = door_settings_models()
    core, sections = split_values(values, models)
    doors = [models[name](**given) for name, given in sections.items() if given]
    return Settings(**core).with_plugins(*doors)
