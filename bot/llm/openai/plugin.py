"""The `openai` backend plugin: chosen by OPENAI_API_KEY or OPENAI_BASE_URL.

Light to import: the openai client is imported in build, once this backend is chosen.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.llm.base import Backend, BackendError, FailureKind
from bot.llm.openai.settings import OpenAISettings

if TYPE_CHECKING:
    from bot.llm.openai.backend import OpenAIBackend

log = logging.getLogger(__name__)

UNREACHABLE = (FailureKind.UNAVAILABLE, FailureKind.TIMEOUT, FailureKind.AUTH)
"""Failures that no choice of model fixes: the server, the network or the key is at fault."""


class OpenAIPlugin:
    summary = "OpenAI, or an OpenAI-compatible server (vLLM, Ollama, LM Studio)"
    auto_order = 0
    how_to_configure = (
        "set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL for an OpenAI-compatible server"
    )
    settings_model = OpenAISettings

    def usable(self, settings: Settings) -> bool:
        server = settings.of(OpenAISettings)
        return bool(server.api_key or server.base_url)

    def check(self, settings: Settings) -> None:
        if not self.usable(settings):
            raise ConfigError(
                "PARLEY_BACKEND=openai needs OPENAI_API_KEY (for OpenAI) or OPENAI_BASE_URL "
                "(for a compatible server)"
            )

    async def build(self, settings: Settings) -> tuple[Backend, str]:
        """The client as the settings say; the model is PARLEY_MODEL, else the first one a
        compatible server serves, else OpenAI's default."""
        from bot.llm.openai.backend import DEFAULT_MODEL, OpenAIBackend

        server = settings.of(OpenAISettings)
        backend = OpenAIBackend(
            api_key=server.key,
            base_url=server.base_url,
            timeout=server.request_timeout,
            max_retries=server.max_retries,
            name_field=server.name_style == "field"
            or (server.name_style == "auto" and server.base_url is None),
        )
        model = settings.model or await self._served_model(backend, settings)
        return backend, model or DEFAULT_MODEL

    def problem(self, settings: Settings, error: BackendError | TimeoutError) -> str:
        base_url = settings.of(OpenAISettings).base_url
        where = base_url or "OpenAI"
        if getattr(error, "kind", None) == FailureKind.AUTH:
            fix = "check OPENAI_API_KEY"
        elif base_url:
            fix = "fix OPENAI_BASE_URL or start the model server"
        else:
            fix = "check the network, or set OPENAI_BASE_URL to use another server"
        return f"{where} unreachable ({error}); {fix}"

    async def _served_model(self, backend: OpenAIBackend, settings: Settings) -> str | None:
        """With a compatible server and no PARLEY_MODEL, answer with the first model it serves."""
        base_url = settings.of(OpenAISettings).base_url
        if base_url is None:
            return None
        try:
            served = await backend.served_models()
        except BackendError as error:
            # A server that is down needs starting; one that lists no models needs PARLEY_MODEL.
            if error.kind in UNREACHABLE:
                log.warning("could not list the server's models: %s", self.problem(settings, error))
            else:
                log.warning(
                    "%s does not list its models (%s); set PARLEY_MODEL to the model it serves",
                    base_url,
                    error.kind,
                )
            return None
        return served[0] if served else None


plugin = OpenAIPlugin()
