"""The `local` backend plugin: chosen when torch and transformers are installed and no server is.

Light to import: torch and transformers load in build, once this backend is chosen.
"""

from __future__ import annotations

from bot.config import Settings
from bot.extras import is_installed, require
from bot.llm.base import Backend, BackendError
from bot.llm.local.load import LOCAL_INSTALL, LOCAL_MODULES
from bot.llm.local.options import LocalOptions
from bot.llm.local.settings import LocalSettings


class LocalPlugin:
    summary = "a Hugging Face transformers model on this machine, concurrent turns batched"
    auto_order = 10
    how_to_configure = f"for a model on this machine: {LOCAL_INSTALL}"
    settings_model = LocalSettings

    def usable(self, settings: Settings) -> bool:
        return all(is_installed(module) for module in LOCAL_MODULES)

    def check(self, settings: Settings) -> None:
        require(LOCAL_MODULES, "local", "PARLEY_BACKEND=local", LOCAL_INSTALL)

    async def build(self, settings: Settings) -> tuple[Backend, str]:
        from bot.llm.local.backend import LocalBackend

        options = LocalOptions.from_settings(settings)
        return await LocalBackend.load(options), options.model

    def problem(self, settings: Settings, error: BackendError | TimeoutError) -> str:
        model = LocalOptions.from_settings(settings).model
        return f"the local model {model} failed ({error}); see the log above and restart Parley"


plugin = LocalPlugin()
