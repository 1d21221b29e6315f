"""The composition root: Settings in; store, backend and DialogueManager out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.access import access_policies
from bot.adapter import installed_adapters
from bot.admin import AdminPage
from bot.catchup import SummaryPolicy
from bot.config import ConfigError, Settings
from bot.dialogue import DialogueManager, DialoguePolicy
from bot.limits import LimitPolicy
from bot.llm.base import Backend, BackendError, Capabilities
from bot.llm.breaker import CircuitBreaker, GuardedBackend
from bot.llm.openai.settings import OpenAISettings
from bot.llm.plugins import choose_backend
from bot.maintenance import keep_tidy
from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.prices import PriceTable
from bot.store.base import Store
from bot.store.factory import store_for
from bot.tools.loop import Toolbox
from bot.tools.wiring import open_toolbox

if TYPE_CHECKING:
    from bot.moderation import OpenAIModerator


@dataclass(slots=True)
class Runtime:
    """Everything a door needs, built once per process and shared by all adapters."""

    settings: Settings
    store: Store
    backend: Backend
    dialogue: DialogueManager
    model: str
    ops: OpsServer
    """Health, metrics and adapter routes; started by `parley serve` and the platform doors."""
    tools: Toolbox | None = None


def backend_problem(settings: Settings, error: BackendError | TimeoutError) -> str:
    """One line for the operator: which model backend failed, and the setting to check."""
    _, plugin = choose_backend(settings)
    return plugin.problem(settings, error)


def dialogue_policy(settings: Settings, model: str, *, switchable: bool = True) -> DialoguePolicy:
    """The turn's defaults; `switchable` is False for a backend that holds one model in memory."""
    return DialoguePolicy(
        model=model,
        system_prompt=settings.system_prompt,
        max_tokens=settings.max_tokens if "max_tokens" in settings.model_fields_set else None,
        temperature=settings.temperature,
        models_allowed=tuple(settings.models_allowed) if switchable else (),
        context_window=settings.context_window,
        max_attachment_chars=settings.max_attachment_bytes,
        max_queued_turns=settings.max_queued_turns,
        access=access_policies(installed_adapters(), settings),
        moderation=settings.moderation,
        budget_fallback_model=_fallback_model(settings, switchable),
        summary=SummaryPolicy(
            settings.summary_max_messages, settings.summary_max_tokens, settings.summary_since
        ),
        place_memory_days=settings.place_memory_days,
    )


def limit_policy(settings: Settings) -> LimitPolicy:
    return LimitPolicy(
        user_turns_per_minute=settings.user_turns_per_minute,
        conversation_turns_per_minute=settings.conversation_turns_per_minute,
        user_daily_tokens=settings.user_daily_tokens,
        space_daily_tokens=settings.space_daily_tokens,
        user_daily_usd=settings.user_daily_usd,
        user_monthly_usd=settings.user_monthly_usd,
        space_daily_usd=settings.space_daily_usd,
        space_monthly_usd=settings.space_monthly_usd,
        frugal_at=settings.budget_fallback_at,
    )


def _fallback_model(settings: Settings, switchable: bool) -> str | None:
    """PARLEY_BUDGET_FALLBACK_MODEL, which must be a model the conversations may choose."""
    fallback = settings.budget_fallback_model
    if fallback is None:
        return None
    if not switchable or fallback not in settings.models_allowed:
        raise ConfigError(
            f"PARLEY_BUDGET_FALLBACK_MODEL={fallback} is not in PARLEY_MODELS_ALLOWED: add it "
            "there (a local model cannot switch), or unset it"
        )
    return fallback


def price_table(settings: Settings, capabilities: Capabilities) -> PriceTable:
    """The config's prices over the maintained table, when the backend's models are in it (a
    local model costs 0 unless priced)."""
    return PriceTable(
        settings.prices,
        maintained=capabilities.listed_prices,
        provider=capabilities.price_provider,
    )


def moderator_for(settings: Settings) -> OpenAIModerator | None:
    """The moderation client PARLEY_MODERATION asks for, at OpenAI or OPENAI_BASE_URL."""
    if settings.moderation == "off":
        return None
    from bot.moderation import OpenAIModerator

    server = settings.of(OpenAISettings)  # the openai backend's server, key and timeout
    return OpenAIModerator(
        server.key, server.base_url, settings.moderation_model, server.request_timeout
    )


def _check_reply_fits(dialogue: DialogueManager, model: str) -> None:
    """A reply reserve that leaves the conversation no room would answer every turn blind."""
    window, reply = dialogue.window(model), dialogue.reply_tokens(model)
    if reply >= window:
        raise ConfigError(
            f"PARLEY_MAX_TOKENS={reply} leaves no room for the conversation in {model}'s "
            f"{window}-token window: set it to at most {window // 2}, or leave it unset"
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, backend: Backend | None = None
) -> AsyncIterator[Runtime]:
    """Open the store and backend; on exit finish turns in flight, then close both."""
    store = store_for(settings)
    await store.open()
    # The tool servers stop after the last turn (the dialogue's shutdown) and before the store.
    stack = AsyncExitStack()
    try:
        if backend is None:
            _, plugin = choose_backend(settings)
            backend, model = await plugin.build(settings)
        else:
            model = settings.model or "default"
        capabilities = backend.capabilities
        moderator = moderator_for(settings)
        breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_seconds)
        backend = GuardedBackend(backend, breaker)
        metrics = Metrics()
        tools = await stack.enter_async_context(open_toolbox(settings, store, metrics))
        prices = price_table(settings, capabilities)
        prices.warm(model)
        dialogue = DialogueManager(
            dialogue_policy(settings, model, switchable=capabilities.switches_models),
            store,
            backend,
            limits=limit_policy(settings),
            prices=prices,
            moderator=moderator,
            metrics=metrics,
            tools=tools,
        )
        _check_reply_fits(dialogue, model)
        ops = OpsServer(store, backend, dialogue.metrics)
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        if token:  # an empty token would open the page to anyone
            AdminPage(token, store, dialogue.metrics, lambda: dialogue.in_flight).mount(ops.mount)
        housekeeping = asyncio.create_task(
            keep_tidy(store, settings.retention_days, settings.place_memory_days)
        )
        try:
            yield Runtime(settings, store, backend, dialogue, model, ops, tools)
        finally:
            housekeeping.cancel()
            await dialogue.shutdown(settings.shutdown_grace_seconds)
            await ops.stop()
            await backend.aclose()
            if moderator is not None:
                await moderator.aclose()
    finally:
        await stack.aclose()
        await store.close()
