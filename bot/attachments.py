"""The rules every door applies to a message's files: text up to PARLEY_MAX_ATTACHMENT_BYTES joins
the prompt, images go to the model, anything else gets a note. Platform-free: a door says how to
download a file."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import PurePosixPath

from bot.types import Attachment

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset(
    {
        *(".txt", ".md", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".toml"),
        *(".ini", ".cfg", ".conf", ".log", ".xml", ".html", ".css", ".sql", ".diff", ".patch"),
        *(".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c", ".h", ".cpp"),
        *(".hpp", ".cs", ".rb", ".php", ".sh", ".swift", ".lua"),
    }
)

Download = Callable[[], Awaitable[bytes]]
"""Fetch a file's bytes; raises DownloadFailed (or returns more than the cap, which is refused)."""


class DownloadFailed(Exception):
    """A door could not (or would not) fetch a file; the file is described instead."""


class FileKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    OTHER = "other"


def file_kind(content_type: str | None, filename: str) -> FileKind:
    """Classify by the declared content type, falling back to a known text file extension."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("image/"):
        return FileKind.IMAGE
    if kind.startswith("text/") or PurePosixPath(filename.lower()).suffix in TEXT_EXTENSIONS:
        return FileKind.TEXT
    return FileKind.OTHER


async def read_file(
    name: str,
    content_type: str | None,
    size: int,
    max_bytes: int,
    download: Download,
    *,
    image_url: str | None = None,
) -> Attachment:
    """One file by the shared rules. An image goes by `image_url` when the model can fetch it
    (a public URL), else downloaded within the cap as a data URL; text is downloaded within the
    cap; the rest, and whatever fails, is described."""
    content_type = content_type or "application/octet-stream"
    described = Attachment(name, content_type, size)
    kind = file_kind(content_type, name)
    if kind is FileKind.IMAGE and image_url:
        return Attachment(name, content_type, size, image_url=image_url)
    if kind is FileKind.OTHER or size > max_bytes:
        return described
    try:
        data = await download()
    except DownloadFailed as error:
        log.warning("could not download attachment %s: %s", name, error)
        return described
    if len(data) > max_bytes:
        return described
    if kind is FileKind.IMAGE:
        mime = content_type.split(";")[0].strip()
        encoded = base64.b64encode(data).decode()
        return Attachment(name, content_type, size, image_url=f"data:{mime};base64,{encoded}")
    return Attachment(name, content_type, size, text=data.decode(errors="replace"))
