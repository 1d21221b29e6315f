"""How the CLI finds the doors: adapters are plugins in the `parley.adapters` entry-point group.

A door of its own distribution needs only an entry point naming an AdapterPlugin object; its
name is the `platform` of its ConversationKeys, its config file table and its subcommand.
tests/third_door is the worked example.
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.access import AccessPolicy
    from bot.config import Settings
    from bot.settings_base import SettingsModel
    from bot.wiring import Runtime

ENTRY_POINT_GROUP = "parley.adapters"


class AdapterPlugin(Protocol):
    """A door into Parley. Its module must stay light: import the platform library inside run."""

    summary: str
    uses_http_server: bool
    """Whether `parley <name>` starts the HTTP server (health, metrics, platform webhooks)."""
    chatty_loggers: tuple[str, ...]
    """Its platform library's loggers that log every request at INFO: kept at WARNING."""
    settings_model: type[SettingsModel] | None
    """Its own settings (a bot.settings_base.SettingsModel with its env prefix, secrets and
    defaults), or None. The core loads it beside the shared Settings (environment, then the
    config file's `[<name>]` table), validates it, masks its secrets, and lists it in
    `parley <name> --help`, `parley doctor` and the README; the door reads it back with
    `settings.of(ItsModel)` (e.g. `runtime.settings.of(ItsModel).port`)."""

    def access_policy(self, settings: Settings) -> AccessPolicy | None:
        """Its allowlists as the core applies them (DMs included); None: everyone may talk."""
        ...

    def is_configured(self, settings: Settings) -> bool:
        """Whether the settings hold what this adapter needs to connect (for `parley serve`).

        Raises ConfigError (bot.extras.MissingExtra) when they do but its library is missing.
        """
        ...

    def check_settings(self, settings: Settings) -> None:
        """Raise ConfigError (one line, with the fix) if its settings are incomplete or clash;
        `parley serve` checks every configured door before starting any."""
        ...

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this adapter's own command-line options to `parley <name>`."""
        ...

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        """Do a one-off action that needs no store or model (e.g. print an invite URL), or None."""
        ...

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        """`parley <name>`: serve until stopped (or do a one-off action) and return an exit code."""
        ...

    async def diagnose(self, settings: Settings) -> list[str]:
        """Problems with its credentials or endpoints, each with its fix (for `parley doctor`)."""
        ...

    async def serve(self, runtime: Runtime) -> None:
        """Serve until cancelled, sharing the runtime with other adapters (`parley serve`)."""
        ...


def adapter_names() -> list[str]:
    """Names of the installed adapters, without importing them."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_adapter(name: str) -> AdapterPlugin:
    (entry,) = entry_points(group=ENTRY_POINT_GROUP, name=name)
    return entry.load()


def door_settings_models() -> dict[str, type[SettingsModel]]:
    """Each installed door's settings model, by door name (also its config file table)."""
    return {
        name: plugin.settings_model
        for name, plugin in installed_adapters().items()
        if plugin.settings_model is not None
    }


def installed_adapters() -> dict[str, AdapterPlugin]:
    """Every adapter that loads (a broken one is reported by the CLI when it is chosen)."""
    plugins: dict[str, AdapterPlugin] = {}
    for name in adapter_names():
        try:
            plugins[name] = load_adapter(name)
        except Exception:  # one broken plugin must not take the others down
            continue
    return plugins
