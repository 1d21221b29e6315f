"""Token counts for OpenAI-style models: tiktoken when its encoding is on disk, else an estimate."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.types import ChatMessage

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 4
"""Tokens the chat format adds around each message (role, separators)."""
REPLY_PRIMING = 3
_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def estimate_tokens(text: str) -> int:
    """A conservative count: one token per three UTF-8 bytes never undercounts real tokenizers."""
    return math.ceil(len(text.encode("utf-8")) / 3)


def _tiktoken_cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "data-gym-cache"


class TokenCounter:
    """Counts with tiktoken only when its encoding file is already cached: never a network fetch."""

    def __init__(self) -> None:
        self._encodings: dict[str, Any] = {}

    def count(self, messages: Sequence[ChatMessage], model: str) -> int:
        encode = self._encoder(model)
        total = REPLY_PRIMING
        for message in messages:
            total += MESSAGE_OVERHEAD + encode(message.content)
            for call in message.tool_calls:
                total += MESSAGE_OVERHEAD + encode(call.name) + encode(call.arguments)
            if message.name:
                total += encode(message.name) + 1
        return total

    def _encoder(self, model: str) -> Any:
        if model not in self._encodings:
            self._encodings[model] = self._load(model)
        encoding = self._encodings[model]
        if encoding is None:
            return estimate_tokens
        return lambda text: len(encoding.encode(text, disallowed_special=()))

    def _load(self, model: str) -> Any:
        try:
            import tiktoken
        except ImportError:
            return None
        try:
            name = tiktoken.encoding_name_for_model(model)
        except KeyError:
            return None
        url = _ENCODING_URL.format(name=name)
        cached = _tiktoken_cache_dir() / hashlib.sha1(url.encode()).hexdigest()
        if not cached.is_file():
            log.info("tiktoken's %s encoding is not on disk: estimating token counts", name)
            return None
        return tiktoken.get_encoding(name)
