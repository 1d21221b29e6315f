"""How the core finds the model backends: plugins in the `parley.backends` entry-point group.

Each plugin declares its own settings model (loaded, checked, masked and documented by the
core as a door's are) and builds its backend from the settings; the backend then says what it
can do in its `capabilities` (bot.llm.base.Capabilities), so the core never asks which backend
it has. A new backend ships as its own package with an object like bot/llm/openai/plugin.py's
(tests/third_backend is the worked example), named in its pyproject.toml:

    [project.entry-points."parley.backends"]
    mine = "my_backend.plugin:plugin"
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from bot.settings_base import ConfigError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.llm.base import Backend, BackendError
    from bot.settings_base import SettingsModel

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "parley.backends"
AUTO = "auto"
"""PARLEY_BACKEND=auto: the usable backend that comes first by `auto_order`."""


class BackendPlugin(Protocol):
    """A source of answers. Its module must stay light: import the model library inside build."""

    summary: str
    auto_order: int
    """PARLEY_BACKEND=auto tries the lowest first: a configured server before a local model."""
    how_to_configure: str
    """What to set or install to use it, for the line that says no backend is usable."""
    settings_model: type[SettingsModel] | None
    """Its own settings, or None: read beside the core's (environment, then the config file's
    `[<name>]` table) and reached with `settings.of(ItsModel)`, as a door's are."""

    def usable(self, settings: Settings) -> bool:
        """Whether PARLEY_BACKEND=auto may choose it (its settings are given, its libraries
        installed)."""
        ...

    def check(self, settings: Settings) -> None:
        """Raise ConfigError (one line, with the fix) when it is chosen but cannot run."""
        ...

    async def build(self, settings: Settings) -> tuple[Backend, str]:
        """The backend, ready to serve, and the model a turn uses unless told otherwise.

        Raises ConfigError when the settings name something that is not there (a model, a
        device), BackendError when its server cannot be reached."""
        ...

    def problem(self, settings: Settings, error: BackendError | TimeoutError) -> str:
        """One line for the operator: what failed, and the setting to check."""
        ...


def backend_names() -> list[str]:
    """Names of the installed backends, without importing them."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_backend(name: str) -> BackendPlugin:
    (entry,) = entry_points(group=ENTRY_POINT_GROUP, name=name)
    return entry.load()


def backend_settings_models() -> dict[str, type[SettingsModel]]:
    """Each installed backend's settings model, by backend name (also its config file table)."""
    return {
        name: plugin.settings_model
        for name, plugin in _loadable(backend_names()).items()
        if plugin.settings_model is not None
    }


def choose_backend(settings: Settings) -> tuple[str, BackendPlugin]:
    """The backend PARLEY_BACKEND names, checked; for auto, the first usable one.

    Raises ConfigError naming the setting and the fix when there is none to use."""
    names = backend_names()
    if settings.backend != AUTO:
        if settings.backend not in names:
            raise ConfigError(
                f"PARLEY_BACKEND={settings.backend}: no such backend is installed; set it to "
                f"{AUTO} or one of {', '.join(names)}"
            )
        plugin = load_backend(settings.backend)
        plugin.check(settings)
        return settings.backend, plugin
    plugins = sorted(_loadable(names).items(), key=lambda item: (item[1].auto_order, item[0]))
    for name, plugin in plugins:
        if plugin.usable(settings):
            return name, plugin
    hints = ", or ".join(plugin.how_to_configure for _, plugin in plugins)
    raise ConfigError(f"no model configured: {hints}")


def _loadable(names: list[str]) -> dict[str, BackendPlugin]:
    """The plugins that load: one broken plugin must not keep auto from choosing another."""
    plugins: dict[str, BackendPlugin] = {}
    for name in names:
        try:
            plugins[name] = load_backend(name)
        except Exception as error:
            log.warning("backend plugin %s does not load (%s): skipped", name, error)
    return plugins
