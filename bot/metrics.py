"""Prometheus metrics of the turns this process handles, in a registry of its own."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120)
ACTIVE_WINDOW_SECONDS = 900


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.in_flight = Gauge(
            "parley_turns_in_flight", "Turns being answered now", registry=self.registry
        )
        self.active = Gauge(
            "parley_conversations_active",
            f"Conversations with a turn in the last {ACTIVE_WINDOW_SECONDS // 60} minutes",
            registry=self.registry,
        )
        self._last_seen: dict[str, float] = {}
        self.active.set_function(self._count_active)

    def saw(self, conversation: str) -> None:
        self._last_seen[conversation] = time.monotonic()

    def _count_active(self) -> int:
        horizon = time.monotonic() - ACTIVE_WINDOW_SECONDS
        for key in [key for key, seen in self._last_seen.items() if seen < horizon]:
            del self._last_seen[key]
        return len(self._last_seen)

    def render(self) -> bytes:
        return generate_latest(self.registry)
