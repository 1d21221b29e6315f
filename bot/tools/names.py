"""Tool names on the wire: OpenAI allows ^[a-zA-Z0-9_-]{1,64}$, the core says `server.tool`."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX = 64


def wire_name(name: str) -> str:
    """A safe name for `name`, the same every time (history replays with it): unchanged when
    already safe, else made safe and suffixed with a digest so distinct names stay distinct."""
    if len(name) <= _MAX and not _UNSAFE.search(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', name)[: _MAX - 9]}_{digest}"
