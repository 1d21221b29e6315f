"""The one error a store raises for a database it cannot reach or use."""

from __future__ import annotations

from bot.config import ConfigError


class StoreError(ConfigError):
    """The database behind PARLEY_DATABASE_URL cannot be opened or used; the message is one line."""


def redacted_url(url: str) -> str:
    """The URL without a password, for error messages."""
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not separator or not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
