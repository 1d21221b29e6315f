"""The openai backend's settings: where the server is, its key, and how calls to it behave.

Moderation (PARLEY_MODERATION) and `parley tune --openai` talk to the same server, so they read
these too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.settings_base import SettingsModel, Url, secret


class OpenAISettings(SettingsModel):
    model_config = SettingsConfigDict(env_prefix="PARLEY_")

    api_key: SecretStr | None = secret("OPENAI_API_KEY")
    """OpenAI key (secret)."""
    base_url: Url | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    """An OpenAI-compatible server, e.g. `http://localhost:11434/v1` (Ollama),
    `http://localhost:8000/v1` (vLLM); unset: OpenAI."""
    name_style: Literal["auto", "field", "prefix"] = "auto"
    """How author names reach the model: `field` (the API's `name`), `prefix` (`Ann: ...`), or
    `auto` (field for OpenAI, prefix for other servers)."""
    request_timeout: float = Field(60.0, gt=0)
    """Seconds before a model call times out."""
    max_retries: int = Field(2, ge=0, le=10)
    """Retries of a model call on 429, 5xx and timeouts (with backoff, honouring Retry-After)."""

    @property
    def key(self) -> str | None:
        """The API key itself, for the client only."""
        return self.api_key.get_secret_value() if self.api_key else None
