"""What a turn costs in US dollars: genai-prices' maintained table, overridden per model in TOML.

Costs are whole micro-dollars (1e-6 USD): a price in USD per million tokens times a token count is
exactly that, so sums agree to the cent wherever they are added up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.types import Usage

log = logging.getLogger(__name__)

MICROS_PER_USD = 1_000_000


class ModelPrice(BaseModel):
    """`[prices."MODEL"]` in parley.toml: USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    """Prompt tokens read from the server's cache; the input price when not given."""


class PriceTable:
    """Prices turns: an override first, then (when `maintained`) genai-prices' table, else 0."""

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice],
        *,
        maintained: bool,
        provider: str | None = None,
    ) -> None:
        self._overrides = dict(overrides)
        self._maintained = maintained
        self._provider = provider
        self._matches: dict[str, tuple[Any, Any] | None] = {}

    def cost(self, model: str, usage: Usage) -> int:
        """The turn's cost in micro-dollars; 0 for a model no price is known for (warned once)."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        price = self._overrides.get(model)
        if price is not None:
            cached_price = price.input if price.cached_input is None else price.cached_input
            fresh = usage.input_tokens - cached
            output = usage.output_tokens * price.output
            return round(fresh * price.input + cached * cached_price + output)
        if not self._maintained:
            return 0
        return self._from_table(model, usage, cached)

    def warm(self, model: str) -> None:
        """Look the model up now: genai-prices reads its table on first use (about 0.1 s of
        CPU), which would otherwise hold up the first turns and every turn beside them."""
        if self._maintained and model not in self._overrides:
            self._found(model)

    def _from_table(self, model: str, usage: Usage, cached: int) -> int:
        found = self._found(model)
        if found is None:  # before the import, which costs a lookup each turn
            return 0
        from genai_prices import Usage as Tokens

        provider, priced = found
        tokens = Tokens(
            input_tokens=usage.input_tokens,
            cache_read_tokens=cached,
            output_tokens=usage.output_tokens,
        )
        price = priced.calc_price(tokens, provider, genai_request_timestamp=datetime.now(UTC))
        return round(price.total_price * MICROS_PER_USD)

    def _found(self, model: str) -> tuple[Any, Any] | None:
        """The table's provider and model for a name, looked up once (the match is the slow part:
        about 0.3 ms a turn otherwise)."""
        if model in self._matches:
            return self._matches[model]
        from genai_prices import data_snapshot

        try:
            match = data_snapshot.get_snapshot().find_provider_model(
                model, None, self._provider, None
            )
        except LookupError:
            match = None
            log.warning(
                'no price known for model %s: its turns cost 0; set [prices."%s"] in the '
                "config file to price it",
                model,
                model,
            )
        self._matches[model] = match
        return match


def dollars(micros: int) -> str:
    """Micro-dollars as a dollar amount to the cent, the way every view shows money."""
    return f"${micros / MICROS_PER_USD:,.2f}"
