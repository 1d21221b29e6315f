"""The one error a store raises for a database it cannot reach or use."""

from __future__ import annotations

from bot.config import ConfigError


class StoreError(ConfigError):
    """The database behind PARLEY_DATABASE_URL cannot be opened or used; the message is one line."""
