"""The `openai` backend plugin: chosen by OPENAI_API_KEY or OPENAI_BASE_URL.

Light to import: the openai client is imported in build, once this backend is chosen.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.llm.base import Backend, BackendError, FailureKind

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

    def usable(self, settings: Settings) -> bool:
        return bool(settings.openai_api_key or settings.openai_base_url)

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

        key = settings.openai_api_key
        backend = OpenAIBackend(
            api_key=key.get_secret_value() if key else None,
            base_url=settings.openai_base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            name_field=settings.name_style == "field"
            or (settings.name_style == "auto" and settings.openai_base_url is None),
        )
        model = settings.model or await self._served_model(backend, settings)
        return backend, model or DEFAULT_MODEL

    def problem(self, settings: Settings, error: BackendError | TimeoutError) -> str:
        where = settings.openai_base_url or "OpenAI"
        if getattr(error, "kind", None) == FailureKind.AUTH:
            fix = "check OPENAI_API_KEY"
        elif settings.openai_base_url:
            fix = "fix OPENAI_BASE_URL or start the model server"
        else:
            fix = "check the network, or set OPENAI_BASE_URL to use another server"
        return f"{where} unreachable ({error}); {fix}"

    async def _served_model(self, backend: OpenAIBackend, settings: Settings) -> str | None:
        """With a compatible server and no PARLEY_MODEL, answer with the first model it serves."""
        if settings.openai_base_url is None:
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
                    settings.openai_base_url,
                    error.kind,
                )
            return None
        return served[0] if served else None


plugin = OpenAIPlugin()
