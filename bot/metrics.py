"""Prometheus metrics of the turns this process handles, in a registry of its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bot.cli import parley_version
from bot.prices import MICROS_PER_USD
from bot.store.base import TurnUsage
from bot.types import Usage

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120)
ACTIVE_WINDOW_SECONDS = 900


class Metrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        self._pending: dict[tuple[Any, tuple[str, ...]], int] = {}
        """Whole counts not yet added to their counters: (counter, labels) -> amount."""
        self.registry.register(_Fold(self._fold))  # first, so it runs before any is read
        self.turns = Counter(
            "parley_turns",
            "Turns handled, by platform and outcome",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.first_token = Histogram(
            "parley_time_to_first_token_seconds",
            "From the event to the first answer text",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "parley_turn_seconds",
            "From the event to the finished answer",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "parley_tokens",
            "Model tokens, in (prompt) and out (answer)",
            ["direction"],
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "parley_backend_errors", "Failed model calls, by kind", ["kind"], registry=self.registry
        )
        self.rate_limited = Counter(
            "parley_rate_limited_turns",
            "Turns refused by a limit",
            ["limit"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "parley_feedback",
            "Ratings of answers (a changed mind counts again), by platform and way",
            ["platform", "rating"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "parley_turns_in_flight", "Turns being answered now", registry=self.registry
        )
        self._in_flight = 0
        self.in_flight.set_function(lambda: self._in_flight)
        self.active = Gauge(
            "parley_conversations_active",
            f"Conversations with a turn in the last {ACTIVE_WINDOW_SECONDS // 60} minutes",
            registry=self.registry,
        )
        # By model and platform: what each model costs, how fast and how reliably it answers.
        self.model_tokens = Counter(
            "parley_model_tokens",
            "Model tokens by platform and model: in (prompt), cached (of in) and out",
            ["platform", "model", "direction"],
            registry=self.registry,
        )
        self.cost = Counter(
            "parley_cost_usd",
            "What answered turns cost in US dollars, by platform and model",
            ["platform", "model"],
            registry=self.registry,
        )
        self.model_latency = Histogram(
            "parley_model_turn_seconds",
            "From the event to the finished answer, by platform and model",
            ["platform", "model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_errors = Counter(
            "parley_model_errors",
            "Failed model calls by platform, model and kind",
            ["platform", "model", "kind"],
            registry=self.registry,
        )
        self.moderated = Counter(
            "parley_moderated_turns",
            "Questions refused (input) and answers withheld (output) by moderation",
            ["platform", "direction"],
            registry=self.registry,
        )
        self.tool_calls = Counter(
            "parley_tool_calls",
            "Tool calls by tool and outcome (ok, error, timeout, denied, timed_out, ...)",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.build = Gauge(
            "parley_build_info",
            "This Parley's version (always 1)",
            ["version"],
            registry=self.registry,
        )
        self.build.labels(parley_version()).set(1)
        self._last_seen: dict[str, float] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.active.set_function(self._count_active)

    def _child(self, metric: Any, *labels: str) -> Any:
        """A labelled child, kept: prometheus-client's own lookup locks and validates each time."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _count(self, counter: Counter, amount: int, *labels: str) -> None:
        """Add a whole amount at the next collection: a dict entry now, not a locked increment."""
        key = (counter, labels)
        pending = self._pending.get(key)
        if pending is None:  # the series (and its _created time) begins at its first count
            self._child(counter, *labels)
            pending = 0
        self._pending[key] = pending + amount

    def _fold(self) -> None:
        pending, self._pending = self._pending, {}
        for (counter, labels), amount in pending.items():
            self._child(counter, *labels).inc(amount)

    def turn_began(self) -> None:
        """A turn is being answered (parley_turns_in_flight)."""
        self._in_flight += 1

    def turn_ended(self) -> None:
        self._in_flight -= 1

    def count_turn(self, platform: str, outcome: str) -> None:
        self._count(self.turns, 1, platform, outcome)

    def count_tool_call(self, tool: str, outcome: str) -> None:
        self._child(self.tool_calls, tool, outcome).inc()

    def count_feedback(self, platform: str, liked: bool) -> None:
        self._child(self.feedback, platform, "up" if liked else "down").inc()

    def count_limited(self, platform: str, limit: str) -> None:
        self._child(self.rate_limited, limit).inc()
        self.count_turn(platform, "limited")

    def answered(
        self,
        platform: str,
        outcome: str,
        seconds: float,
        first_text_seconds: float | None,
        error_kind: str | None,
        usage: Usage | None,
        model: str = "",
    ) -> None:
        """Record one answered (or failed, or stopped) turn."""
        self.count_turn(platform, outcome)
        self._child(self.latency, platform).observe(seconds)
        self._child(self.model_latency, platform, model).observe(seconds)
        if first_text_seconds is not None:
            self._child(self.first_token, platform).observe(first_text_seconds)
        if error_kind is not None:
            self._child(self.backend_errors, error_kind).inc()
            self._child(self.model_errors, platform, model, error_kind).inc()
        if usage is not None:
            self._count(self.tokens, usage.input_tokens, "in")
            self._count(self.tokens, usage.output_tokens, "out")

    def priced(self, usage: TurnUsage) -> None:
        """Count a recorded turn's tokens and cost under its platform and model."""
        labels = (usage.platform, usage.model)
        self._count(self.model_tokens, usage.input_tokens, *labels, "in")
        self._count(self.model_tokens, usage.cached_tokens, *labels, "cached")
        self._count(self.model_tokens, usage.output_tokens, *labels, "out")
        # Added at once: a sum of fractions folded later could differ in its last digits.
        cost = self._child(self.cost, *labels)  # the series exists from the first turn
        if usage.cost_micros:  # adding 0.0 changes nothing but takes the value's lock
            cost.inc(usage.cost_micros / MICROS_PER_USD)

    def saw(self, conversation: str) -> None:
        """A turn in this conversation now. Kept oldest first (a dict keeps insertion order), so
        forgetting the quiet ones costs only what is forgotten, with or without scrapes."""
        now = self._clock()
        self._last_seen.pop(conversation, None)
        self._last_seen[conversation] = now
        self._forget_quiet(now)

    def _forget_quiet(self, now: float) -> None:
        horizon, last_seen = now - ACTIVE_WINDOW_SECONDS, self._last_seen
        while last_seen:
            oldest = next(iter(last_seen))
            if last_seen[oldest] >= horizon:
                return
            del last_seen[oldest]

    def _count_active(self) -> int:
        self._forget_quiet(self._clock())
        return len(self._last_seen)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Fold(Collector):
    """Collected before every metric (registered first, and a registry collects in order): adds
    the counts turns made since the last collection, so whatever reads the registry (a scrape,
    the admin page, a test) reads them all. A turn counts a dozen things; a scrape is rare."""

    def __init__(self, fold: Callable[[], None]) -> None:
        self._fold = fold

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        self._fold()
        return []
