"""The REST requests the client made, as the tests look at them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    """One REST request the client made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)

    @property
    def writes_message(self) -> bool:
        """Whether it creates or edits a visible message (in a channel or of an interaction)."""
        parts = self.path.strip("/").split("/")
        creates = self.method == "POST" and (
            (len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages")
            or (len(parts) == 3 and parts[0] == "webhooks")
        )
        edits = self.method == "PATCH" and "messages" in parts
        return creates or edits
