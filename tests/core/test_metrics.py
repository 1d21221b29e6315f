"""Metrics keep bounded state: quiet conversations are forgotten as turns come, scraped or not."""

from __future__ import annotations

from bot.metrics import ACTIVE_WINDOW_SECONDS, Metrics


def active(metrics: Metrics) -> float:
    page = metrics.render().decode()
    line = next(
        line for line in page.splitlines() if line.startswith("parley_conversations_active")
    )
    return float(line.split()[-1])


def test_quiet_conversations_are_forgotten_without_a_scrape() -> None:
    now = [0.0]
    metrics = Metrics(clock=lambda: now[0])
    for n in range(10_000):
        metrics.saw(f"conversation-{n}")
    now[0] = ACTIVE_WINDOW_SECONDS - 1
    metrics.saw("late")
    now[0] = ACTIVE_WINDOW_SECONDS + 1
    metrics.saw("new")
    assert len(metrics._last_seen) == 2, "forgotten as turns came, before any scrape"
    assert active(metrics) == 2
