"""`echo`: a backend that answers each turn with its last message after a prefix, and its own
settings (PARLEY_ECHO_PREFIX; the secret ECHO_API_KEY, which it only checks is given)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from bot.config import ConfigError, Settings
from bot.llm.base import Backend, BackendError, Capabilities, GenerationOptions
from bot.settings_base import SettingsModel, secret
from bot.types import ChatMessage, Delta, Usage


class EchoSettings(SettingsModel):
    """`[echo]` in the config file; PARLEY_ECHO_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_ECHO_")

    api_key: SecretStr | None = secret("ECHO_API_KEY")
    """The echo service's key (secret)."""
    prefix: str = "echo: "
    """What every answer starts with."""


class EchoBackend:
    capabilities = Capabilities(switches_models=False)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        yield Delta(self.prefix + messages[-1].content)
        yield Delta("", usage=Usage(self.count_tokens(messages, options.model), 1))

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return sum(len(message.content.split()) + 4 for message in messages)

    def context_window(self, model: str) -> int:
        return 4096

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class EchoPlugin:
    summary = "answers with what it was asked"
    auto_order = 100
    how_to_configure = "set ECHO_API_KEY for the echo backend"
    settings_model = EchoSettings

    def usable(self, settings: Settings) -> bool:
        return settings.of(EchoSettings).api_key is not None

    def check(self, settings: Settings) -> None:
        if not self.usable(settings):
            raise ConfigError("PARLEY_BACKEND=echo needs ECHO_API_KEY")

    async def build(self, settings: Settings) -> tuple[Backend, str]:
        return EchoBackend(settings.of(EchoSettings).prefix), settings.model or "echo"

    def problem(self, settings: Settings, error: BackendError | TimeoutError) -> str:
        return f"the echo backend failed ({error})"


plugin = EchoPlugin()
